r"""The transformer block: attention and a feed-forward network, each on a residual path.

The seed notebook stopped after attention ("postprocessing steps, not implemented here"). Those
steps are the rest of a transformer block. In the pre-norm arrangement of GPT-2 each half reads
a normalised copy of the running vector and *adds* its result to it:

.. math:: h = x + \operatorname{attn}(\operatorname{ln}_1(x)), \qquad
          \text{out} = h + \operatorname{ffn}(\operatorname{ln}_2(h)).

The running vector :math:`x \to h \to \text{out}` is the *residual stream*. Backward, an
addition hands its gradient unchanged to both of its inputs, so the gradient reaching :math:`x`
is the sum of two paths: straight down the stream, and through the attention:

.. math:: \frac{\partial \mathcal{L}}{\partial h} = g
          + \frac{\partial \mathcal{L}}{\partial h}\Big|_\text{ffn},
          \qquad
          \frac{\partial \mathcal{L}}{\partial x} = \frac{\partial \mathcal{L}}{\partial h}
          + \frac{\partial \mathcal{L}}{\partial x}\Big|_\text{attn},

where :math:`g = \partial \mathcal{L} / \partial\,\text{out}`. The first term of each sum is why
deep stacks of blocks still train: whatever the layers do to the gradient, a copy of it passes
through untouched.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .._validation import as_float_array, as_rng, check_flag, check_positive_int
from ..attention.kv_cache import KVCache
from .attention import MultiHeadAttention
from .base import Layer
from .dropout import Dropout, check_probability
from .feedforward import FeedForward
from .norm import LayerNorm

__all__ = ["TransformerBlock"]


def check_block_arguments(
    d_model: Any, n_heads: Any, d_hidden: Any, dropout: Any, residual: Any, layer_norm: Any
) -> tuple[int, int, int | None, float, bool, bool]:
    """The arguments of a :class:`TransformerBlock`, checked (also for a stack of blocks).

    Raises what :class:`TransformerBlock` documents, naming the argument.
    """
    d_model = check_positive_int(d_model, "d_model")
    n_heads = check_positive_int(n_heads, "n_heads")
    if d_model % n_heads:
        raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
    if d_hidden is not None:
        d_hidden = check_positive_int(d_hidden, "d_hidden")
    p = check_probability(dropout, "dropout")
    return (
        d_model,
        n_heads,
        d_hidden,
        p,
        check_flag(residual, "residual"),
        check_flag(layer_norm, "layer_norm"),
    )


def check_rotary(rotary: Any, d_model: int, n_heads: int) -> bool:
    """``rotary`` as a bool; with ``True``, ``d_model / n_heads`` must be even (checked first)."""
    rotary = check_flag(rotary, "rotary")
    if rotary and (d_model // n_heads) % 2:
        raise ValueError(
            f"rotary=True rotates pairs of features, so each head needs an even number of them; "
            f"d_model={d_model} with n_heads={n_heads} gives {d_model // n_heads}"
        )
    return rotary


class TransformerBlock(Layer):
    r"""A pre-norm, causal transformer block: ``x + attn(ln1(x))``, then ``h + ffn(ln2(h))``.

    .. math:: h = x + \operatorname{drop}\bigl(\operatorname{attn}(\operatorname{ln}_1(x))
              \bigr), \qquad
              \text{out} = h + \operatorname{drop}\bigl(\operatorname{ffn}(
              \operatorname{ln}_2(h))\bigr)

    The attention is causal (position :math:`i` sees positions :math:`\le i`), as in a language
    model. The two residual joins add their gradients in :meth:`backward` (see the module
    docstring).

    Parameters
    ----------
    d_model : int
        Size of the vectors of the residual stream; must be divisible by ``n_heads``.
    n_heads : int
        Number of attention heads.
    d_hidden : int, optional
        Hidden size of the feed-forward network; ``4 * d_model`` by default.
    dropout : float, default 0.0
        Dropout probability, in ``[0, 1)``, in training mode: on the attention weights and on
        the output of each half before it joins the stream (as in GPT-2).
    residual : bool, default True
        ``False`` drops the two skip connections (``h = attn(ln1(x))``, ``out = ffn(ln2(h))``),
        to show what they are for; a real model keeps them.
    layer_norm : bool, default True
        ``False`` replaces ``ln1`` and ``ln2`` by the identity, for the same reason.
    rotary : bool, default False
        Rotary position embeddings in the attention (see
        :class:`~simple_attention.MultiHeadAttention`); needs an even ``d_model / n_heads``.
        The weights drawn from ``rng`` are the same either way.
    rng : None, int or numpy.random.Generator, optional
        Source of randomness for the attention's and the feed-forward network's weights, in
        that order, and then for the dropout masks.

    Attributes
    ----------
    ln1, ln2 : LayerNorm or None
        The normalisations before each half (``None`` with ``layer_norm=False``).
    attention : MultiHeadAttention
    ffn : FeedForward
    dropout1, dropout2 : Dropout
        The dropout on the output of the attention and of the feed-forward network.
    params, grads : dict of str to ndarray
        Every parameter, named ``"<sub-layer>.<parameter>"`` (``"attention.W_query"``,
        ``"ffn.up.W"``, ``"ln1.gamma"``, ...), and their gradients after :meth:`backward`.

    Raises
    ------
    ValueError
        If a size is not positive, ``d_model`` is not divisible by ``n_heads``, ``dropout``
        lies outside ``[0, 1)``, or ``rotary=True`` with an odd ``d_model / n_heads``.
    TypeError
        If a size is not an integer, a flag is not a bool, or ``dropout`` is not a real number.

    Every argument is checked before anything is drawn from ``rng``.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import TransformerBlock
    >>> block = TransformerBlock(d_model=8, n_heads=2, rng=0)
    >>> block
    TransformerBlock(d_model=8, n_heads=2, d_hidden=32, dropout=0.0)
    >>> x = np.random.default_rng(1).standard_normal((2, 5, 8))  # (batch, n, d_model)
    >>> out = block(x)
    >>> out.shape
    (2, 5, 8)
    >>> block.attention.weights.shape  # (batch, n_heads, n, n), causal
    (2, 2, 5, 5)
    >>> grad_x = block.backward(np.ones_like(out))
    >>> len(block.grads), block.grads["ffn.up.W"].shape
    (12, (8, 32))

    Causal: changing the last position changes no output before it.

    >>> x2 = x.copy()
    >>> x2[:, -1] += 1.0
    >>> bool(np.array_equal(block(x2)[:, :-1], out[:, :-1]))
    True
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        *,
        d_hidden: int | None = None,
        dropout: float = 0.0,
        residual: bool = True,
        layer_norm: bool = True,
        rotary: bool = False,
        rng: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        d_model, n_heads, d_hidden, p, self.residual, self.layer_norm = check_block_arguments(
            d_model, n_heads, d_hidden, dropout, residual, layer_norm
        )
        rotary = check_rotary(rotary, d_model, n_heads)
        generator = as_rng(rng)
        self.d_model = d_model
        self.ln1 = LayerNorm(d_model) if self.layer_norm else None
        self.attention = MultiHeadAttention(
            d_model, n_heads, dropout=p, rotary=rotary, rng=generator
        )
        self.dropout1 = Dropout(p, rng=generator)
        self.ln2 = LayerNorm(d_model) if self.layer_norm else None
        self.ffn = FeedForward(d_model, d_hidden=d_hidden, rng=generator)
        self.dropout2 = Dropout(p, rng=generator)

    def __repr__(self) -> str:
        return (
            f"TransformerBlock(d_model={self.d_model}, n_heads={self.attention.n_heads}, "
            f"d_hidden={self.ffn.d_hidden}, dropout={self.dropout1.p}"
            + ("" if self.residual else ", residual=False")
            + ("" if self.layer_norm else ", layer_norm=False")
            + (", rotary=True" if self.attention.rotary else "")
            + ")"
        )

    def _norm1(self, x: np.ndarray) -> np.ndarray:
        return x if self.ln1 is None else self.ln1(x)

    def _norm2(self, x: np.ndarray) -> np.ndarray:
        return x if self.ln2 is None else self.ln2(x)

    def __call__(self, x: npt.ArrayLike) -> np.ndarray:
        """Run the block on ``x`` of shape ``(..., n, d_model)``; returns the same shape.

        The result has the dtype of ``x``. Sequences of length 0 are allowed.

        Raises
        ------
        ValueError
            If ``x`` is not ``(..., n, d_model)``, or ``x`` or a parameter (named) holds NaN or
            inf.
        TypeError
            If ``x`` is not real floating-point or integer.
        FloatingPointError
            If a sub-layer's result overflows the dtype of ``x``.
        """
        x_arr = self._check_input(x, self.d_model, "d_model")
        # Attention half: (..., n, d_model) -> (..., n, d_model), position i sees j <= i.
        attended = self.dropout1(self.attention(self._norm1(x_arr), is_causal=True))
        h = self._join(x_arr, attended)
        # Feed-forward half: each position on its own.
        transformed = self.dropout2(self.ffn(self._norm2(h)))
        out = self._join(h, transformed)
        self._cache = {"out_shape": out.shape, "dtype": x_arr.dtype}
        return out

    def _join(self, stream: np.ndarray, branch: np.ndarray) -> np.ndarray:
        """The residual join: ``stream + branch``, or ``branch`` alone without residuals."""
        if not self.residual:
            return branch
        with np.errstate(over="ignore", invalid="ignore"):
            total = stream + branch.astype(stream.dtype, copy=False)
        return self._finite(total, "the residual sum")

    def backward(self, grad_out: npt.ArrayLike) -> np.ndarray:
        r"""Return dL/dx for ``grad_out`` = dL/d(out) and fill :attr:`grads`.

        Each residual join hands the gradient to both of its inputs, so two paths add up:

        .. math:: \frac{\partial \mathcal{L}}{\partial h} = g + J_\text{ffn}^\top g, \qquad
                  \frac{\partial \mathcal{L}}{\partial x} = \frac{\partial \mathcal{L}}{\partial h}
                  + J_\text{attn}^\top \frac{\partial \mathcal{L}}{\partial h},

        where :math:`J_\text{ffn}^\top g` is the backward pass through ``dropout2``, ``ffn``
        and ``ln2`` (and :math:`J_\text{attn}^\top` through ``dropout1``, ``attention`` and
        ``ln1``). Without residuals only the second term of each sum remains.

        Raises
        ------
        RuntimeError
            If the block has not been called yet, or its last call raised, or one of its
            sub-layers has been called on its own since.
        ValueError
            If ``grad_out`` does not have the shape of the last output, or holds NaN or inf.
        TypeError
            If ``grad_out`` is not real (complex gradients are refused).
        FloatingPointError
            If a gradient overflows its dtype.
        """
        saved = self._saved()
        g = self._grad_out(grad_out, saved["out_shape"])
        grad_h = self._branch_backward(g, self.dropout2, self.ffn, self.ln2)
        if self.residual:
            grad_h = grad_h + g  # the skip path: the gradient passes the join untouched
        grad_x = self._branch_backward(grad_h, self.dropout1, self.attention, self.ln1)
        if self.residual:
            grad_x = grad_x + grad_h
        return self._finite(grad_x, "the gradient of x", saved["dtype"])

    @staticmethod
    def _branch_backward(
        grad: np.ndarray,
        dropout: Dropout,
        layer: MultiHeadAttention | FeedForward,
        norm: LayerNorm | None,
    ) -> np.ndarray:
        """Backward through one half: dropout, then the layer, then the norm (if any)."""
        grad = layer.backward(dropout.backward(grad))
        return grad if norm is None else norm.backward(grad)

    def decode_step(self, x_new: npt.ArrayLike, cache: KVCache) -> np.ndarray:
        """Run the block on the newest position(s) only, reading and filling ``cache``.

        The attention sees every cached position (see
        :meth:`~simple_attention.MultiHeadAttention.decode_step`); the layer norms and the
        feed-forward network work on each position alone and need no cache. Feeding a sequence
        through this method piece by piece gives the outputs of one call on the whole sequence,
        to float rounding. For inference: no dropout, nothing kept for :meth:`backward`.

        Parameters
        ----------
        x_new : array_like, shape (..., m, d_model)
            The ``m`` new positions.
        cache : KVCache
            This block's keys and values of the earlier positions; empty at the first step.

        Returns
        -------
        ndarray, shape (..., m, d_model)

        Raises
        ------
        TypeError, ValueError, FloatingPointError
            As :meth:`__call__` and :meth:`~simple_attention.MultiHeadAttention.decode_step`;
            a step that raises leaves ``cache`` as it was.

        Examples
        --------
        >>> import numpy as np
        >>> from simple_attention import KVCache, TransformerBlock
        >>> block = TransformerBlock(d_model=8, n_heads=2, rng=0)
        >>> x = np.random.default_rng(1).standard_normal((6, 8))
        >>> cache = KVCache()
        >>> first = block.decode_step(x[:4], cache)  # a prompt of 4 positions at once
        >>> rest = [block.decode_step(x[t : t + 1], cache) for t in (4, 5)]
        >>> np.allclose(np.concatenate([first, *rest]), block(x), rtol=0, atol=1e-12)
        True
        """
        x_arr = as_float_array(x_new, "x_new")
        if x_arr.ndim < 2 or x_arr.shape[-1] != self.d_model:
            raise ValueError(f"x_new must have shape (..., m, {self.d_model}), got {x_arr.shape}")
        if not isinstance(cache, KVCache):
            raise TypeError(f"cache must be a KVCache, got {type(cache).__name__}")
        before = cache.keys, cache.values
        self._cache = None  # nothing for backward: decoding is inference only
        try:
            h = self._join(x_arr, self.attention.decode_step(self._norm1(x_arr), cache))
            return self._join(h, self.ffn(self._norm2(h)))
        except Exception:
            # The attention stored the new keys before the feed-forward half failed.
            cache.keys, cache.values = before
            raise
