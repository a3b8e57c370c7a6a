"""An interactive view of attention weights, for notebooks and the documentation site.

:func:`attention_explorer` packs the attention weights of every layer and head of one text
into a small block of HTML: a container, the weights as JSON, and a static heatmap of every head
as the fallback. On the documentation site a dependency-free script (``_static/explorer.js``)
finds the container and draws, from the JSON, the tokens in two columns joined by lines as thick
as the weights, with a choice of layer, head and generation step. Anywhere else (a notebook,
a page without the script, a browser without JavaScript) the heatmap shows instead.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib import rc_context
from matplotlib.figure import Figure

from .._validation import check_positive_int

__all__ = ["AttentionExplorer", "attention_explorer"]

#: Weights are stored as integers in thousandths: three decimals are more than a line width or
#: a shade can show, and they keep the page small.
SCALE = 1000


class AttentionExplorer:
    """The HTML of an attention explorer; a notebook displays it (``_repr_html_``).

    Made by :func:`attention_explorer`, which checks the arguments.

    Attributes
    ----------
    data : dict
        What the script draws from, as it is written into the page: ``tokens`` (list of str),
        ``layers`` and ``heads`` (int), ``prompt`` (the number of prompt tokens), ``scale``
        and ``weights``, indexed ``[layer][head][query][key]``, in units of ``1 / scale``
        (a causal row ``i`` holds only its first ``i + 1`` keys).
    """

    def __init__(self, data: dict[str, Any], fallback_svg: bytes, title: str) -> None:
        self.data = data
        self._fallback_svg = fallback_svg
        self._title = title

    def to_json(self) -> str:
        """The data as JSON, safe to place inside a ``<script>`` element."""
        text = json.dumps(self.data, ensure_ascii=False, separators=(",", ":"))
        # "</script>" or "<!--" inside a token would end the script element early.
        return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")

    def _repr_html_(self) -> str:
        image = base64.b64encode(self._fallback_svg).decode("ascii")
        alt = html.escape(
            f"Heatmaps of the attention weights of every layer and head for {self._title}"
        )
        return (
            f'<div class="sa-explorer" aria-label="{html.escape(self._title)}">'
            f'<script type="application/json" class="sa-explorer-data">{self.to_json()}</script>'
            '<div class="sa-explorer-fallback">'
            f'<img src="data:image/svg+xml;base64,{image}" alt="{alt}" style="max-width:100%">'
            "</div></div>"
        )

    def __repr__(self) -> str:
        d = self.data
        return (
            f"AttentionExplorer({len(d['tokens'])} tokens, {d['layers']} layers, "
            f"{d['heads']} heads, prompt of {d['prompt']})"
        )


def _as_weights(weights: Any, n: int) -> np.ndarray:
    """``weights`` as a float64 array ``(layers, heads, n, n)``, checked."""
    try:
        layers = [np.asarray(w) for w in weights]
    except TypeError:
        raise TypeError(
            "weights must be a sequence of arrays (n_heads, n, n), one per layer, such as "
            f"TinyGPT.attention_weights; got {type(weights).__name__}"
        ) from None
    if not layers:
        raise ValueError("weights must hold at least one layer")
    for b, w in enumerate(layers):
        if not (np.issubdtype(w.dtype, np.floating) or np.issubdtype(w.dtype, np.integer)):
            raise TypeError(f"weights[{b}] must hold real numbers, got dtype {w.dtype}")
        if w.ndim != 3 or w.shape[1:] != (n, n) or w.shape[0] == 0:
            raise ValueError(
                f"weights[{b}] must have shape (n_heads, n, n) with n = {n} tokens, got "
                f"shape {w.shape}; call the model on one sequence, not a batch"
            )
    if len({w.shape[0] for w in layers}) != 1:
        raise ValueError("every layer of weights must have the same number of heads")
    arr = np.stack(layers).astype(np.float64)
    if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1 + 1e-6:
        raise ValueError("weights must be finite and lie in [0, 1]")
    return arr


def attention_explorer(
    tokens: Sequence[str],
    weights: Sequence[npt.ArrayLike],
    *,
    prompt_length: int | None = None,
    title: str = "the text",
) -> AttentionExplorer:
    """An interactive view of the attention of every layer and head over one text.

    Displayed in a notebook, it shows a heatmap of every head (layers as rows). On the
    documentation site, whose ``explorer.js`` turns it into an explorer, it shows the tokens in
    two columns, the queries (looking) on the left and the keys (looked at) on the right,
    joined by lines as thick as the weights; a layer and a head can be chosen, and hovering or
    focusing a token lights up its lines. With ``prompt_length``, the view also steps through
    generation: at step ``s`` the token at position ``prompt_length - 1 + s`` (the last
    character of the prompt at step 0, the newly generated one after) is the query, and its
    attention over the text so far is drawn.

    Parameters
    ----------
    tokens : sequence of str
        The ``n`` tokens, as they should be shown (make spaces and newlines visible first).
    weights : sequence of array_like, each of shape (n_heads, n, n)
        The attention weights of each layer for this one text, e.g.
        :attr:`TinyGPT.attention_weights <simple_attention.TinyGPT.attention_weights>` after
        a call on the ids of the text, values in ``[0, 1]``.
    prompt_length : int, optional
        The number of prompt tokens, ``1 <= prompt_length <= n``: the tokens after it were
        generated, one step each. The weights must then be causal (no weight above the
        diagonal), as they are in a language model. Default: no generation steps.
    title : str, default "the text"
        What the view shows, for screen readers and the heatmap's description.

    Returns
    -------
    AttentionExplorer
        Its ``_repr_html_`` is the view; its ``data`` the numbers the view draws.

    Raises
    ------
    TypeError
        If ``tokens`` is not a sequence of str, ``weights`` not a sequence of real arrays,
        ``prompt_length`` not an integer or ``title`` not a str.
    ValueError
        If there are no tokens, the weights do not have the shape ``(n_heads, n, n)`` in every
        layer, lie outside ``[0, 1]``, or are not causal with ``prompt_length``, or
        ``prompt_length`` lies outside ``[1, n]``.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import TinyGPT
    >>> from simple_attention.plotting import attention_explorer
    >>> model = TinyGPT(vocab_size=5, max_len=8, d_model=8, n_heads=2, n_layers=2, rng=0)
    >>> _ = model(np.array([0, 1, 2, 3]))
    >>> view = attention_explorer(list("abcd"), model.attention_weights, prompt_length=2)
    >>> view
    AttentionExplorer(4 tokens, 2 layers, 2 heads, prompt of 2)
    >>> view.data["weights"][0][1][2]  # layer 0, head 1, query 2: its three keys, in 1/1000
    [362, 280, 358]
    """
    if isinstance(tokens, str) or not isinstance(tokens, Sequence):
        raise TypeError(
            f"tokens must be a sequence of str (not one str), got {type(tokens).__name__}"
        )
    if not all(isinstance(t, str) for t in tokens):
        raise TypeError("every entry of tokens must be a str")
    if not isinstance(title, str):
        raise TypeError(f"title must be a str, got {type(title).__name__}")
    n = len(tokens)
    if n == 0:
        raise ValueError("tokens must hold at least one token")
    arr = _as_weights(weights, n)
    causal = not np.triu(arr, k=1).any()
    if prompt_length is None:
        prompt = n
    else:
        prompt = check_positive_int(prompt_length, "prompt_length")
        if prompt > n:
            raise ValueError(f"prompt_length must be at most n = {n} tokens, got {prompt}")
        if not causal:
            raise ValueError(
                "prompt_length needs causal weights (no weight above the diagonal): a "
                "generated token cannot have looked at tokens that came after it"
            )
    scaled = np.rint(arr * SCALE).astype(int)
    # A causal row i has no weight beyond key i: store only its first i + 1 keys.
    rows = [
        [[row[: i + 1] if causal else row for i, row in enumerate(h.tolist())] for h in layer]
        for layer in scaled
    ]
    data = {
        "tokens": list(tokens),
        "layers": int(arr.shape[0]),
        "heads": int(arr.shape[1]),
        "prompt": prompt,
        "scale": SCALE,
        "weights": rows,
    }
    return AttentionExplorer(data, _fallback_svg(arr, list(tokens)), title)


def _fallback_svg(weights: np.ndarray, tokens: list[str]) -> bytes:
    """A heatmap of every head as SVG: what the page shows without the script."""
    n_layers, n_heads, n, _ = weights.shape
    side = 2.3 if n_heads > 2 else 3.2
    # A Figure of its own, not pyplot: nothing is shown twice, nothing is left open.
    fig = Figure(figsize=(side * n_heads + 0.8, side * n_layers + 0.4), layout="constrained")
    axes = np.atleast_2d(fig.subplots(n_layers, n_heads, squeeze=False))
    image = None
    labels = [tokens[i] for i in range(n)]
    for b in range(n_layers):
        for h in range(n_heads):
            ax = axes[b, h]
            image = ax.imshow(weights[b, h], vmin=0, vmax=1, cmap="viridis")
            ax.set_title(f"block {b}, head {h}", fontsize=9)
            # The tokens along the outer edges only: every panel shares them.
            if b == n_layers - 1:
                ax.set_xticks(range(n), labels, fontsize=5)
            else:
                ax.set_xticks([])
            if h == 0:
                ax.set_yticks(range(n), labels, fontsize=5)
            else:
                ax.set_yticks([])
            ax.tick_params(length=0, pad=1)
    fig.colorbar(image, ax=axes, shrink=0.8, label="attention weight")
    buffer = io.StringIO()
    # Text as SVG text, not as one path per glyph: a tenth of the size.
    with rc_context({"svg.fonttype": "none", "font.sans-serif": ["DejaVu Sans"]}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue().encode("utf-8")
