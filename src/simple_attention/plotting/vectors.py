"""One-dimensional things: a row of token ids, and the scores, weights and context of a query."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from matplotlib.figure import FigureBase
from matplotlib.patches import Rectangle

from .._validation import check_positive_int
from ._common import as_labels, as_plot_array, check_axes, check_text, new_axes, rotate_if_long

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_query_attention", "plot_tokens"]

# Colours of the three stages, reused so the eye can follow a token from panel to panel.
SCORE_COLOUR = "tab:blue"
WEIGHT_COLOUR = "tab:orange"
CONTEXT_COLOUR = "tab:green"
QUERY_COLOUR = "tab:red"


def plot_tokens(
    ids: npt.ArrayLike,
    labels: Sequence[object] | None = None,
    *,
    ax: Axes | None = None,
    title: str | None = "Token ids",
) -> Axes:
    """Draw a sequence of token ids as a strip of boxes, one box per position.

    Each box shows the id; its position is written above it and, if given, the token's text
    below it. This is all the model sees of a sentence: a row of integers.

    Parameters
    ----------
    ids : array_like of int, shape (n_tokens,)
        The token ids, all ``>= 0``.
    labels : sequence, optional
        ``n_tokens`` texts to write under the boxes (for example the words); not a single
        ``str``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.
    title : str or None, default "Token ids"
        The axes title.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on; ``ax.patches`` holds one box per token.

    Raises
    ------
    TypeError
        If ``ids`` does not hold integers, ``labels`` is a ``str`` or not a sequence, ``ax``
        is not an ``Axes`` or ``title`` not a ``str`` or ``None``.
    ValueError
        If ``ids`` is not 1-D or holds a negative id, or ``labels`` has the wrong length.
        Nothing is drawn and no figure is created when an error is raised.

    Examples
    --------
    >>> from simple_attention import Vocabulary
    >>> from simple_attention.plotting import plot_tokens
    >>> vocab = Vocabulary.from_text("Your journey starts with one step")
    >>> ids = vocab.encode("one step")
    >>> ax = plot_tokens(ids, ["one", "step"])
    >>> len(ax.patches)
    2
    >>> [text.get_text() for text in ax.texts]
    ['6', 'pos 0', 'one', '7', 'pos 1', 'step']
    """
    arr = np.asarray(ids)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"ids must be integers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"ids must be 1-D, got shape {arr.shape}")
    if arr.size and arr.min() < 0:
        raise ValueError(f"ids must be non-negative, got {arr.min()}")
    n = arr.shape[0]
    words = None if labels is None else as_labels(labels, n, "labels")
    check_text(title, "title", optional=True)
    check_axes(ax)
    title_width = 0.1 * len(title or "")  # inches, roughly, at the default font size
    ax = new_axes(ax, width=max(3.0, 0.9 * n + 0.6, title_width), height=1.8)
    for i, token_id in enumerate(arr.tolist()):
        ax.add_patch(
            Rectangle((i + 0.05, 0.0), 0.9, 1.0, facecolor="#e8eef7", edgecolor="#34495e")
        )
        ax.text(i + 0.5, 0.5, str(token_id), ha="center", va="center", fontsize="large")
        ax.text(
            i + 0.5, 1.12, f"pos {i}", ha="center", va="bottom", fontsize="x-small", color="grey"
        )
        if words is not None:
            ax.text(i + 0.5, -0.12, words[i], ha="center", va="top", style="italic")
    ax.set_xlim(0, max(n, 1))
    ax.set_ylim(-0.6 if words is not None else -0.1, 1.45)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title)
    return ax


def _bars(
    ax: Axes, values: np.ndarray, labels: list[str], colour: str, highlight: int | None
) -> None:
    colours = [colour] * len(values)
    if highlight is not None:
        colours[highlight] = QUERY_COLOUR
    bars = ax.bar(np.arange(len(values)), values, color=colours, edgecolor="black", lw=0.5)
    ax.bar_label(bars, fmt="%.2f", fontsize="small", padding=2)
    ax.set_xticks(np.arange(len(values)), labels=labels, rotation=rotate_if_long(labels))
    ax.axhline(0.0, color="black", lw=0.8)
    ax.margins(y=0.18)
    ax.spines[["top", "right"]].set_visible(False)


def _arrow(ax: Axes, text: str) -> None:
    ax.set_axis_off()
    ax.annotate(
        "",
        xy=(1.0, 0.5),
        xytext=(0.0, 0.5),
        xycoords="axes fraction",
        arrowprops={"arrowstyle": "-|>", "lw": 2, "color": "dimgrey"},
    )
    ax.text(0.5, 0.58, text, ha="center", va="bottom", transform=ax.transAxes, fontsize="small")


def plot_query_attention(
    scores: npt.ArrayLike,
    weights: npt.ArrayLike,
    context: npt.ArrayLike,
    labels: Sequence[object] | None = None,
    *,
    query_index: int | None = None,
    fig: Figure | None = None,
    title: str | None = None,
) -> Figure:
    r"""Draw attention for one query as three linked bar charts: scores, weights, context.

    Left, the score :math:`s_j` of every key; middle, the weights
    :math:`a = \operatorname{softmax}(s)`, which are positive and sum to one; right,
    the context vector :math:`z = \sum_j a_j x^{(j)}`, one bar per feature. Arrows name
    the step that leads from one panel to the next.

    Parameters
    ----------
    scores : array_like, shape (n_tokens,)
        The scores of the query against every key.
    weights : array_like, shape (n_tokens,)
        The attention weights (softmax of the scores).
    context : array_like, shape (dim,)
        The context vector of the query.
    labels : sequence, optional
        ``n_tokens`` labels of the keys; default ``0 .. n_tokens-1``.
    query_index : int, optional
        Position of the query among the keys, in ``[0, n_tokens)``, drawn in a different
        colour.
    fig : matplotlib.figure.Figure, optional
        An empty figure (or subfigure) to draw into; a new one by default.
    title : str, optional
        A title above the three panels.

    Returns
    -------
    matplotlib.figure.Figure
        The figure; ``fig.axes[0]``, ``[2]`` and ``[4]`` are the three panels (``[1]`` and
        ``[3]`` hold the arrows).

    Raises
    ------
    TypeError
        If an array does not hold real numbers, ``query_index`` is not an integer (a bool is
        not), ``labels`` is a ``str``, ``fig`` is not a figure or ``title`` not a ``str``.
    ValueError
        If an array is not 1-D or holds ``inf``, ``scores`` and ``weights`` differ in length,
        ``labels`` has the wrong length, ``query_index`` is out of range or ``fig`` is not
        empty. NaN is allowed and leaves its bar out; a masked key's ``-inf`` score cannot be
        drawn as a bar (replace it by NaN to leave a gap). Nothing is drawn and no figure is
        created when an error is raised.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import attention_scores_loop, context_vector_loop, softmax
    >>> from simple_attention.plotting import plot_query_attention
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> scores = attention_scores_loop(x, x[2])
    >>> weights = softmax(scores)
    >>> fig = plot_query_attention(scores, weights, context_vector_loop(x, weights),
    ...                            ["a", "b", "c"], query_index=2, title="Query c")
    >>> fig.get_suptitle()
    'Query c'
    >>> [label.get_text() for label in fig.axes[2].get_xticklabels()]
    ['a', 'b', 'c']
    >>> [len(ax.patches) for ax in fig.axes[::2]]  # bars: one per key, then per feature
    [3, 3, 2]
    """
    s = as_plot_array(scores, "scores", ndim=1, allow_nan=True)
    w = as_plot_array(weights, "weights", ndim=1, allow_nan=True)
    z = as_plot_array(context, "context", ndim=1, allow_nan=True)
    if s.shape != w.shape:
        raise ValueError(
            f"scores has {s.shape[0]} entries but weights has {w.shape[0]}; they must match"
        )
    keys = as_labels(labels, s.shape[0], "labels")
    if query_index is not None:
        query_index = check_positive_int(query_index, "query_index", allow_zero=True)
        if query_index >= len(keys):
            raise ValueError(f"query_index must lie in [0, {len(keys)}), got {query_index}")
    check_text(title, "title", optional=True)
    if fig is not None:
        # A SubFigure draws the same way, so accept any figure-like container.
        if not isinstance(fig, FigureBase):
            raise TypeError(f"fig must be a matplotlib Figure or None, got {type(fig).__name__}")
        if fig.axes:
            raise ValueError(
                f"fig must be empty, but it has {len(fig.axes)} axes; pass a new figure"
            )
    if fig is None:
        fig = plt.figure(figsize=(9.0, 3.4), layout="constrained")
    if title is not None:
        fig.suptitle(title)
    grid = fig.add_gridspec(1, 5, width_ratios=[1.0, 0.3, 1.0, 0.3, 1.0])
    ax_scores, ax_step1, ax_weights, ax_step2, ax_context = (
        fig.add_subplot(grid[0, i]) for i in range(5)
    )
    _bars(ax_scores, s, keys, SCORE_COLOUR, query_index)
    ax_scores.set_title(r"1. scores $s_j$")
    ax_scores.set_xlabel("key")
    _arrow(ax_step1, "softmax")
    _bars(ax_weights, w, keys, WEIGHT_COLOUR, query_index)
    ax_weights.set_ylim(0.0, 1.1 * max(1.0, float(np.nanmax(w, initial=0.0))))
    ax_weights.set_title(r"2. weights $a_j = \mathrm{softmax}(s)_j$")
    ax_weights.set_xlabel("key")
    _arrow(ax_step2, "weighted sum\nof the inputs")
    _bars(ax_context, z, [str(i) for i in range(z.shape[0])], CONTEXT_COLOUR, None)
    ax_context.set_title(r"3. context $z = \Sigma_j\, a_j x^{(j)}$")
    ax_context.set_xlabel("feature")
    return fig
