r"""A tiny GPT: token ids to next-token logits through a stack of transformer blocks.

.. math:: x_0 = E[\text{ids}] + P_{0..n-1}, \qquad
          x_\ell = \operatorname{block}_\ell(x_{\ell-1}), \qquad
          \text{logits} = \operatorname{ln}_f(x_L)\, E^\top

The output head is *tied* to the token embedding by default: the logit of token :math:`t` is
the dot product of the final vector with :math:`E_t`, the same row that feeds token :math:`t`
in. A character that the model has learned to read as "a vowel" is then also scored as one when
it comes to writing. Tying saves ``vocab_size * d_model`` parameters and, on a small corpus,
usually lowers the held-out loss a little; GPT-2 ties its head the same way. Backward, the
table gets two gradients, one from the lookup and one from the head, and they add.

With ``position_encoding="rotary"`` there is no table :math:`P`: every attention head rotates its
queries and keys by their positions instead (:func:`~simple_attention.rotary_embedding`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .._validation import as_rng, check_flag, check_positive_int
from ..attention.kv_cache import KVCache
from ..text.embeddings import Embedding
from ..text.positions import PositionalEmbedding
from .base import Layer, sum_outer
from .block import TransformerBlock, check_block_arguments, check_rotary
from .dropout import Dropout
from .linear import Linear
from .norm import LayerNorm

__all__ = ["TinyGPT"]

#: The standard deviation of the initial token and position vectors, as in GPT-2. Small, so
#: that the tied head starts with logits near zero (a loss near ``log(vocab_size)``).
EMBEDDING_STD = 0.02

#: The values of ``position_encoding``: a learned table, rotated queries and keys, or nothing.
POSITION_ENCODINGS = ("learned", "rotary", "none")


def check_position_encoding(value: Any) -> str:
    """``value`` if it is one of :data:`POSITION_ENCODINGS`, else a named error."""
    if not isinstance(value, str):
        raise TypeError(f"position_encoding must be a string, got {value!r}")
    if value not in POSITION_ENCODINGS:
        raise ValueError(
            f"position_encoding must be one of {', '.join(map(repr, POSITION_ENCODINGS))}, "
            f"got {value!r}"
        )
    return value


class TinyGPT(Layer):
    r"""A decoder-only transformer language model: embeddings, blocks, final norm, head.

    Parameters
    ----------
    vocab_size : int
        Number of distinct token ids (characters, for the model of the tutorial).
    max_len : int
        Number of learned positions: the longest context the model reads.
    d_model : int
        Size of the vectors of the residual stream; must be divisible by ``n_heads``.
    n_heads : int
        Attention heads per block.
    n_layers : int
        Number of :class:`~simple_attention.TransformerBlock` layers.
    d_hidden : int, optional
        Hidden size of each block's feed-forward network; ``4 * d_model`` by default.
    dropout : float, default 0.0
        Dropout probability in training mode, on the embeddings and in every block.
    tie_weights : bool, default True
        Score the tokens with the embedding table (see Notes); ``False`` gives the model a
        separate :class:`~simple_attention.Linear` head with a bias.
    residual, layer_norm : bool, default True
        Passed to every block: ``False`` removes its skip connections, or its two layer norms
        (``ln_f`` stays), to measure what they are for (see
        :class:`~simple_attention.TransformerBlock`). The weights drawn from ``rng`` are the
        same either way.
    position_encoding : {"learned", "rotary", "none"}, default "learned"
        How the model knows where each token sits. ``"learned"`` adds a trained vector per
        position, :attr:`positions`; ``"rotary"`` has no table and rotates the queries and
        keys of every attention head instead (``rotary=True`` of the blocks, see
        :func:`~simple_attention.rotary_embedding`; needs an even ``d_model / n_heads``);
        ``"none"`` gives the model no positions at all, to measure what they are for. The
        position table is drawn from ``rng`` in every case (and dropped unless learned), so
        the other weights are the same whichever is chosen. ``max_len`` bounds the context in
        every case.
    rng : None, int or numpy.random.Generator, optional
        Source of randomness for every initial weight (in the order of :attr:`params`) and for
        the dropout masks.

    Attributes
    ----------
    embedding : Embedding
        The token table :math:`E`, ``(vocab_size, d_model)``, initialised with standard
        deviation 0.02 as in GPT-2.
    positions : PositionalEmbedding or None
        The learned position vectors :math:`P`, ``(max_len, d_model)``, likewise; ``None``
        unless ``position_encoding="learned"``.
    blocks : tuple of TransformerBlock
        The blocks in order: the sub-layers ``block0``, ``block1``, ... (assigning a new
        block to ``model.block1`` replaces it everywhere).
    ln_f : LayerNorm
        The final layer norm.
    head : Linear or None
        The untied output head, or ``None`` when the head is tied.
    params, grads : dict of str to ndarray
        Every parameter by name (``"embedding.weight"``, ``"block0.attention.W_query"``,
        ``"ln_f.gamma"``, ...), and their gradients after :meth:`backward`. A tied head has no
        parameters of its own: its gradient is added to ``grads["embedding.weight"]``.

    Raises
    ------
    ValueError
        If a size is not positive, ``d_model`` is not divisible by ``n_heads``, ``dropout``
        lies outside ``[0, 1)``, ``position_encoding`` is not one of the three, or is
        ``"rotary"`` with an odd ``d_model / n_heads``.
    TypeError
        If a size is not an integer, ``tie_weights`` is not a bool, ``dropout`` is not a
        real number, or ``position_encoding`` is not a string.

    Every argument is checked before anything is drawn from ``rng``.

    Notes
    -----
    The head is tied to the token embedding by default: :math:`\text{logits} = Y E^\top`, with
    :math:`Y` the final vectors (after ``ln_f``), so the logit of token :math:`t` is the dot
    product of the final vector with :math:`E_t`, the row that feeds token :math:`t` in. Reading
    and writing a character then share one representation, which a small corpus has too little
    data to learn twice; the model has ``vocab_size * d_model`` fewer parameters, and GPT-2 ties
    its head the same way. Backward, the table gets two gradients, the rows of the tokens read
    (from the lookup) and :math:`g^\top Y` (from the head), and they add.

    See Also
    --------
    simple_attention.generate : text from a trained model, with a key-value cache.
    simple_attention.train : trains it on next-token pairs.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import TinyGPT
    >>> model = TinyGPT(vocab_size=10, max_len=16, d_model=8, n_heads=2, n_layers=2, rng=0)
    >>> model
    TinyGPT(vocab_size=10, max_len=16, d_model=8, n_heads=2, n_layers=2, dropout=0.0)
    >>> ids = np.array([[1, 2, 3, 4], [4, 3, 2, 1]])
    >>> logits = model(ids)
    >>> logits.shape  # a score for every token of the vocabulary, at every position
    (2, 4, 10)
    >>> model.backward(np.ones_like(logits) / logits.size)
    >>> model.grads["block1.ffn.down.W"].shape
    (32, 8)
    >>> model.n_params
    1904

    At initialisation the model is close to uniform over the vocabulary:

    >>> from simple_attention import softmax_cross_entropy
    >>> loss, _ = softmax_cross_entropy(logits, ids)
    >>> bool(abs(loss - np.log(10)) < 0.05)
    True

    With rotary position embeddings there is no position table, and nothing else changes:

    >>> rotary = TinyGPT(10, 16, d_model=8, n_heads=2, n_layers=2, position_encoding="rotary")
    >>> rotary.positions is None, rotary.n_params == model.n_params - 16 * 8
    (True, True)
    """

    def __init__(
        self,
        vocab_size: int,
        max_len: int,
        d_model: int,
        n_heads: int,
        n_layers: int,
        *,
        d_hidden: int | None = None,
        dropout: float = 0.0,
        tie_weights: bool = True,
        residual: bool = True,
        layer_norm: bool = True,
        position_encoding: str = "learned",
        rng: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        vocab_size = check_positive_int(vocab_size, "vocab_size")
        max_len = check_positive_int(max_len, "max_len")
        d_model, n_heads, d_hidden, p, residual, layer_norm = check_block_arguments(
            d_model, n_heads, d_hidden, dropout, residual, layer_norm
        )
        n_layers = check_positive_int(n_layers, "n_layers")
        self.tie_weights = check_flag(tie_weights, "tie_weights")
        self.position_encoding = check_position_encoding(position_encoding)
        rotary = check_rotary(self.position_encoding == "rotary", d_model, n_heads)
        generator = as_rng(rng)
        self.vocab_size, self.max_len, self.d_model = vocab_size, max_len, d_model
        self.n_heads, self.n_layers = n_heads, n_layers
        self.embedding = Embedding(vocab_size, d_model, rng=generator)
        self.embedding.weight *= EMBEDDING_STD
        # Drawn in every case, so that the weights after it do not depend on the choice.
        table = PositionalEmbedding(max_len, d_model, rng=generator)
        table.weight *= EMBEDDING_STD
        self.positions = table if self.position_encoding == "learned" else None
        self.dropout = Dropout(p, rng=generator)
        for i in range(n_layers):
            block = TransformerBlock(
                d_model,
                n_heads,
                d_hidden=d_hidden,
                dropout=p,
                residual=residual,
                layer_norm=layer_norm,
                rotary=rotary,
                rng=generator,
            )
            setattr(self, f"block{i}", block)  # registered as a sub-layer, named block<i>
        self.ln_f = LayerNorm(d_model)
        self.head = None if self.tie_weights else Linear(d_model, vocab_size, rng=generator)

    def __repr__(self) -> str:
        return (
            f"TinyGPT(vocab_size={self.vocab_size}, max_len={self.max_len}, "
            f"d_model={self.d_model}, n_heads={self.n_heads}, n_layers={self.n_layers}, "
            f"dropout={self.dropout.p}"
            + ("" if self.tie_weights else ", tie_weights=False")
            + ("" if self.blocks[0].residual else ", residual=False")
            + ("" if self.blocks[0].layer_norm else ", layer_norm=False")
            + (
                ""
                if self.position_encoding == "learned"
                else f", position_encoding={self.position_encoding!r}"
            )
            + ")"
        )

    @property
    def blocks(self) -> tuple[TransformerBlock, ...]:
        """The blocks in order, read from the sub-layers ``block0``, ``block1``, ..."""
        blocks = tuple(self._layers[f"block{i}"] for i in range(self.n_layers))
        for i, block in enumerate(blocks):
            if not isinstance(block, TransformerBlock):
                raise TypeError(f"block{i} must be a TransformerBlock, got {type(block).__name__}")
        return blocks  # type: ignore[return-value]

    @property
    def config(self) -> dict[str, object]:
        """The constructor's arguments (all but ``rng``): ``TinyGPT(**model.config)`` builds
        a model of the same shape."""
        return {
            "vocab_size": self.vocab_size,
            "max_len": self.max_len,
            "d_model": self.d_model,
            "n_heads": self.n_heads,
            "n_layers": self.n_layers,
            "d_hidden": self.blocks[0].ffn.d_hidden,
            "dropout": self.dropout.p,
            "tie_weights": self.tie_weights,
            "residual": self.blocks[0].residual,
            "layer_norm": self.blocks[0].layer_norm,
            "position_encoding": self.position_encoding,
        }

    @property
    def n_params(self) -> int:
        """The number of trainable numbers (a tied table counted once)."""
        return sum(p.size for p in self.params.values())

    @property
    def attention_weights(self) -> tuple[np.ndarray | None, ...]:
        """The attention weights of every block in the last call, ``(..., n_heads, n, n)``."""
        return tuple(block.attention.weights for block in self.blocks)

    # --- forward ------------------------------------------------------------------------------

    def _logits(self, x: np.ndarray) -> np.ndarray:
        """The head: ``(..., n, d_model) -> (..., n, vocab_size)``."""
        if self.head is not None:
            return self.head(x)
        table = self.embedding.weight  # (vocab_size, d_model)
        with np.errstate(over="ignore", invalid="ignore"):
            logits = x @ table.T.astype(x.dtype, copy=False)
        return self._finite(logits, "the logits")

    def __call__(self, ids: npt.ArrayLike) -> np.ndarray:
        """Next-token logits ``(..., n, vocab_size)`` for token ids ``(..., n)``, causal.

        The logits at position :math:`i` score the token at :math:`i + 1` and depend only on
        ``ids[..., :i + 1]``. Sequences of length 0 are allowed.

        Raises
        ------
        TypeError
            If ``ids`` are not integers.
        ValueError
            If an id lies outside ``[0, vocab_size)``, the sequences are longer than
            ``max_len``, or a parameter holds NaN or inf (named ``"<layer>.<parameter>"``).
        FloatingPointError
            If a layer's result overflows.
        """
        self._check_params()
        n = np.shape(ids)[-1] if np.ndim(ids) else 0
        if n > self.max_len:
            raise ValueError(
                f"ids has sequences of {n} tokens but the model reads at most "
                f"max_len={self.max_len}"
            )
        x = self.embedding(ids)  # (..., n, d_model)
        if self.positions is not None:
            x = self.positions(x)
        x = self.dropout(x)
        for block in self.blocks:
            x = block(x)  # (..., n, d_model)
        x = self.ln_f(x)
        logits = self._logits(x)  # (..., n, vocab_size)
        self._cache = {"final": x}  # the tied head needs it for its gradient
        return logits

    def backward(self, grad_out: npt.ArrayLike) -> None:
        r"""Backward through the whole model, last layer first; fills :attr:`grads`.

        With a tied head, :math:`\text{logits} = Y E^\top`, so the head's share of the
        gradient of :math:`E` is :math:`g^\top Y` (summed over the batch) and the gradient
        sent down is :math:`g E`. The lookup's share (the rows of the tokens read) is added
        to it. Token ids have no gradient, so nothing is returned.

        Raises
        ------
        RuntimeError
            If the model has not been called yet, or its last call raised, or one of its
            layers has been called on its own since.
        ValueError
            If ``grad_out`` does not have the shape of the last logits, or holds NaN or inf.
        TypeError
            If ``grad_out`` is not real (complex gradients are refused).
        FloatingPointError
            If a gradient overflows its dtype.
        """
        saved = self._saved()
        final = saved["final"]  # (..., n, d_model)
        if self.head is not None:
            grad = self.head.backward(grad_out)
            head_grad = None
        else:
            g = self._grad_out(grad_out, (*final.shape[:-1], self.vocab_size))
            g = g.astype(final.dtype, copy=False)  # (..., n, vocab_size)
            table = self.embedding.weight
            head_grad = self._finite(sum_outer(g, final), "the head's gradient", table.dtype)
            grad = self._finite(g @ table.astype(final.dtype, copy=False), "the gradient")
        grad = self.ln_f.backward(grad)
        for block in reversed(self.blocks):
            grad = block.backward(grad)
        grad = self.dropout.backward(grad)
        if self.positions is not None:
            grad = self.positions.backward(grad)
        self.embedding.backward(grad)
        if head_grad is not None:
            # Tied: one table, two uses, so the two gradients add.
            lookup_grad = self.embedding.grads["weight"]
            self.embedding._store_grads({"weight": lookup_grad + head_grad})

    # --- decoding -----------------------------------------------------------------------------

    def new_caches(self) -> list[KVCache]:
        """One empty :class:`~simple_attention.KVCache` per block, for :meth:`decode_step`."""
        return [KVCache() for _ in self.blocks]

    def decode_step(self, ids_new: npt.ArrayLike, caches: list[KVCache]) -> np.ndarray:
        """Logits for the newest token(s) only, reading and extending one cache per block.

        ``ids_new`` ``(..., m)`` are the tokens at positions ``len(caches[0])`` to
        ``len(caches[0]) + m - 1``. Each block projects only them and attends to its cache, so
        a step costs :math:`O(n)` in the length :math:`n` so far, where a full call costs
        :math:`O(n^2)`. The logits equal those of a full call on the whole sequence, to float
        rounding. For inference: no dropout, nothing kept for :meth:`backward`. A step that
        raises leaves every cache as it was.

        Parameters
        ----------
        ids_new : array_like of int, shape (..., m)
        caches : list of KVCache
            From :meth:`new_caches`, one per block, all of the same length.

        Returns
        -------
        ndarray, shape (..., m, vocab_size)

        Raises
        ------
        ValueError
            If the sequence would grow past ``max_len``, an id is out of range, or the caches
            do not fit the model.
        TypeError
            If ``ids_new`` are not integers, or ``caches`` is not a list of KVCache.

        Examples
        --------
        >>> import numpy as np
        >>> from simple_attention import TinyGPT
        >>> model = TinyGPT(vocab_size=10, max_len=8, d_model=8, n_heads=2, n_layers=2, rng=0)
        >>> ids = np.array([3, 1, 4, 1, 5])
        >>> caches = model.new_caches()
        >>> prompt = model.decode_step(ids[:3], caches)  # 3 positions at once
        >>> steps = [model.decode_step(ids[t : t + 1], caches) for t in (3, 4)]
        >>> np.allclose(np.concatenate([prompt, *steps]), model(ids), rtol=0, atol=1e-12)
        True
        """
        given: object = caches
        if not isinstance(given, list) or not all(isinstance(c, KVCache) for c in given):
            raise TypeError("caches must be a list of KVCache, from model.new_caches()")
        if len(caches) != len(self.blocks):
            raise ValueError(
                f"caches holds {len(caches)} caches but the model has {len(self.blocks)} blocks"
            )
        start = len(caches[0])
        if any(len(c) != start for c in caches):
            raise ValueError("the caches differ in length: they belong to different sequences")
        self._check_params()
        x = self.embedding(ids_new)  # checks the ids; (..., m, d_model)
        if x.ndim < 2:
            raise ValueError(f"ids_new must have shape (..., m), got {np.shape(ids_new)}")
        m = x.shape[-2]
        if start + m > self.max_len:
            raise ValueError(
                f"the sequence would reach {start + m} positions but the model holds "
                f"max_len={self.max_len}"
            )
        cached = caches[0].keys  # (..., n_heads, start, d_head), or None while empty
        if cached is not None and x.shape[:-2] != cached.shape[:-3]:
            raise ValueError(
                f"ids_new has the batch shape {x.shape[:-2]} but the caches hold sequences of "
                f"batch shape {cached.shape[:-3]}"
            )
        if self.positions is not None:
            x = x + self.positions.weight[start : start + m]
        # With rotary positions each block's attention rotates the new queries and keys by
        # their positions, start to start + m - 1 (the length of its cache).
        before = [(c.keys, c.values) for c in caches]
        self._cache = None
        try:
            for block, cache in zip(self.blocks, caches, strict=True):
                x = block.decode_step(x, cache)
            return self._logits(self.ln_f(x))
        except Exception:
            for cache, (keys, values) in zip(caches, before, strict=True):
                cache.keys, cache.values = keys, values
            raise
