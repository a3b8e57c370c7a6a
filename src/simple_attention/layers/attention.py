"""Attention with trainable weights: the seed notebook's open TODO.

The inputs are no longer compared with each other directly. Three matrices project each input
into a *query* (what this token is looking for), a *key* (what it offers to be found by) and a
*value* (what it hands on when chosen). Those matrices are the layer's parameters; training
adjusts them.

One class, :class:`Attention`, does this for any number of heads, with or without an output
projection; :class:`SelfAttention` (one head, no output projection) and
:class:`MultiHeadAttention` (several heads and ``W_out``) only choose its arguments.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from .._validation import as_rng, check_flag, check_positive_int, check_scale, working_dtype
from ..attention.kv_cache import KVCache
from ..attention.masks import causal_mask_bottom_right, resolve_mask
from ..attention.scaled import (
    attend,
    attend_backward,
    attend_blocked,
    attention_weights,
    backward_through_scores,
    resolve_scale,
    sum_to_shape,
)
from ..text.positions import rotary_angles, rotate_pairs
from .base import Layer, sum_outer
from .dropout import Dropout, check_probability
from .multihead import merge_heads, split_heads

__all__ = ["Attention", "MultiHeadAttention", "SelfAttention"]

#: The base of the rotary frequencies with ``rotary=True`` (that of RoFormer and most models).
ROTARY_BASE = 10000.0


class Attention(Layer):
    r"""Attention with trainable query, key and value projections, over one or several heads.

    For inputs :math:`X` of shape ``(..., n, d_in)``, with :math:`Q = X W_q`,
    :math:`K = X W_k`, :math:`V = X W_v` cut into :math:`h` (``n_heads``) slices of :math:`d_k`
    (``d_head``) features each:

    .. math:: \text{head}_g = \operatorname{softmax}\!\Bigl(c\,\tilde Q_g \tilde K_g^\top
              + M\Bigr) V_g, \qquad
              \text{out} = [\text{head}_0, \dots, \text{head}_{h-1}]\; (W_o),

    where :math:`\tilde Q, \tilde K` are the queries and keys after :meth:`transform_qk`
    (unchanged by default), :math:`c = 1/\sqrt{d_k}` unless ``scale`` is given, and
    :math:`W_o` is applied only with ``out_projection=True``.

    Parameters
    ----------
    d_in : int
        Size of each input vector.
    d_out : int
        Size of the queries, keys, values and outputs; must be divisible by ``n_heads``.
    n_heads : int or None, default None
        Number of heads. ``None`` means one head *without* a heads axis: the queries are
        ``(..., n, d_out)`` and the weights ``(..., n, n)``. An integer, even 1, puts the heads
        on axis ``-3``: weights ``(..., n_heads, n, n)``, masks broadcast against those.
    out_projection : bool, default False
        Mix the merged heads with a trainable ``W_out`` of shape ``(d_out, d_out)``.
    scale : float, optional
        The factor applied to the scores; ``None`` (the default) means
        :math:`1/\sqrt{d_k}`, the size of a query or key of one head.
    dropout : float, default 0.0
        Probability of dropping each attention weight in training mode (see
        :class:`~simple_attention.Dropout`).
    keep_weights : bool, default True
        Keep the attention weights of each call in :attr:`weights`. With ``False``, a call in
        evaluation mode uses the blocked kernel and holds no ``(..., n_queries, n_keys)`` array:
        :attr:`weights` is then ``None`` and :meth:`backward` raises ``RuntimeError``.
    rotary : bool, default False
        Rotate the queries and keys of every head by their positions
        (:func:`~simple_attention.rotary_embedding`, base 10000) in :meth:`transform_qk`, so
        that the scores depend on how far apart a query and a key are. Needs an even
        ``d_head``. It adds no parameters.
    rng : None, int or numpy.random.Generator, optional
        Source of randomness for the initial weights, drawn uniformly from
        :math:`[-1/\sqrt{d_\text{in}}, 1/\sqrt{d_\text{in}}]` (``W_out``, which has
        ``d_out`` :math:`= h\,d_k` inputs: :math:`\pm 1/\sqrt{h\,d_k}`) in the order
        ``W_query``, ``W_key``, ``W_value``, ``W_out``, and then for the dropout masks.

    Attributes
    ----------
    W_query, W_key, W_value : ndarray, shape (d_in, d_out)
        The projections, applied as ``x @ W``; columns ``h * d_head`` to
        ``(h + 1) * d_head - 1`` belong to head ``h``.
    W_out : ndarray, shape (d_out, d_out)
        Only with ``out_projection=True``.
    d_head : int
        Features per head, ``d_out // n_heads``.
    weights : ndarray, shape (..., [n_heads,] n_queries, n_keys) or None
        The attention weights of the last call (before dropout), for plotting; ``None`` before
        the first call. Read-only: the backward pass uses the same array.
    dropout : Dropout
        The dropout applied to the weights.

    Raises
    ------
    ValueError
        If a size is not positive, ``d_out`` is not divisible by ``n_heads``, ``scale`` is not
        finite, ``dropout`` is outside ``[0, 1)``, or ``rotary=True`` with an odd ``d_head``.
    TypeError
        If a size is not an integer, a flag not a bool, or ``dropout`` not a real number.

    Every argument is checked before anything is drawn from ``rng``.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import Attention
    >>> layer = Attention(4, 6, n_heads=3, out_projection=True, rng=0)
    >>> layer
    Attention(d_in=4, d_out=6, n_heads=3, out_projection=True, dropout=0.0)
    >>> out = layer(np.ones((5, 4)), is_causal=True)
    >>> out.shape, layer.weights.shape
    ((5, 6), (3, 5, 5))

    With ``rotary=True`` the queries and keys are rotated by their positions first; the
    parameters are the same:

    >>> rotary = Attention(4, 6, n_heads=3, out_projection=True, rotary=True, rng=0)
    >>> list(rotary.params) == list(layer.params)
    True
    >>> x = np.random.default_rng(1).standard_normal((5, 4))
    >>> bool(np.allclose(rotary(x, is_causal=True), layer(x, is_causal=True)))
    False
    """

    param_names = ("W_query", "W_key", "W_value")
    # How the error messages name d_in and d_out.
    _size_names: ClassVar[tuple[str, str]] = ("d_in", "d_out")

    def __init__(
        self,
        d_in: int,
        d_out: int,
        *,
        n_heads: int | None = None,
        out_projection: bool = False,
        scale: float | None = None,
        dropout: float = 0.0,
        keep_weights: bool = True,
        rotary: bool = False,
        rng: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        in_name, out_name = self._size_names
        self.d_in = check_positive_int(d_in, in_name)
        self.d_out = check_positive_int(d_out, out_name)
        self.n_heads = None if n_heads is None else check_positive_int(n_heads, "n_heads")
        if self.n_heads is not None and self.d_out % self.n_heads:
            raise ValueError(f"{out_name}={self.d_out} is not divisible by n_heads={self.n_heads}")
        self.d_head = self.d_out // (self.n_heads or 1)
        self.out_projection = check_flag(out_projection, "out_projection")
        self.scale = None if scale is None else check_scale(scale)
        p = check_probability(dropout, "dropout")
        self.keep_weights = check_flag(keep_weights, "keep_weights")
        self.rotary = check_flag(rotary, "rotary")
        if self.rotary and self.d_head % 2:
            raise ValueError(
                f"rotary=True rotates pairs of features, so each head needs an even number of "
                f"them; {out_name}={self.d_out} with n_heads={self.n_heads} gives "
                f"d_head={self.d_head}"
            )
        generator = as_rng(rng)
        bound = 1.0 / math.sqrt(self.d_in)
        shape = (self.d_in, self.d_out)
        self.W_query = generator.uniform(-bound, bound, shape)
        self.W_key = generator.uniform(-bound, bound, shape)
        self.W_value = generator.uniform(-bound, bound, shape)
        if self.out_projection:
            bound = 1.0 / math.sqrt(self.d_out)
            self.W_out = generator.uniform(-bound, bound, (self.d_out, self.d_out))
        self.dropout = Dropout(p, rng=generator)
        self.weights: np.ndarray | None = None

    def __repr__(self) -> str:
        return (
            f"Attention(d_in={self.d_in}, d_out={self.d_out}, n_heads={self.n_heads}, "
            f"out_projection={self.out_projection}, dropout={self.dropout.p}"
            + (", rotary=True" if self.rotary else "")
            + ")"
        )

    @property
    def params(self) -> dict[str, np.ndarray]:
        """The projections by name (the arrays themselves); ``W_out`` only if there is one."""
        params = super().params  # W_query, W_key, W_value, then the sub-layers' (dropout: none)
        if not self.out_projection:
            return params
        items = list(params.items())
        return dict([*items[:3], ("W_out", self.W_out), *items[3:]])

    # --- the hook for position-dependent queries and keys ---------------------------------

    def transform_qk(
        self, query: np.ndarray, key: np.ndarray, positions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Transform the queries and keys before the scores.

        ``query`` and ``key`` are ``(..., n, d_head)`` (with the heads on axis ``-3`` if
        ``n_heads`` is set) and ``positions`` the ``(n,)`` integer positions of their rows in
        the sequence (offset by the cache length in :meth:`decode_step`). The identity, or
        with ``rotary=True`` the rotation of :func:`~simple_attention.rotary_embedding`. A
        subclass may override this pair with :meth:`transform_qk_backward`.
        """
        if not self.rotary:
            return query, key
        angles = rotary_angles(positions, self.d_head, ROTARY_BASE)  # one table for both
        return rotate_pairs(query, angles), rotate_pairs(key, angles)

    def transform_qk_backward(
        self, grad_query: np.ndarray, grad_key: np.ndarray, positions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The gradients through :meth:`transform_qk`: dL/d(query, key) from dL/d(transformed).

        With ``rotary=True``: the rotation by the opposite angles (the transpose of a rotation
        is its inverse, see :func:`~simple_attention.rotary_embedding_backward`).
        """
        if not self.rotary:
            return grad_query, grad_key
        angles = -rotary_angles(positions, self.d_head, ROTARY_BASE)
        return rotate_pairs(grad_query, angles), rotate_pairs(grad_key, angles)

    # --- forward ------------------------------------------------------------------------------

    def _split(self, x: np.ndarray) -> np.ndarray:
        """``(..., n, d_out) -> (..., n_heads, n, d_head)``, or unchanged without heads."""
        return x if self.n_heads is None else split_heads(x, self.n_heads)

    def _merge(self, x: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`_split`."""
        return x if self.n_heads is None else merge_heads(x)

    def _project(
        self, x: np.ndarray, positions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The queries, keys and values of ``x`` (checked, working dtype), per head."""
        # One product with [W_q | W_k | W_v], (d_in, 3 d_out), rather than three: fewer, larger
        # matrix products use the cores better at the small sizes of a tiny model.
        qkv = x @ self._stacked_projections(x.dtype)  # (..., n, 3 d_out)
        query, key, value = (
            # Contiguous, as the attention kernels are fastest (and most reproducible) on them.
            np.ascontiguousarray(self._split(part))
            for part in np.split(qkv, 3, axis=-1)
        )
        query, key = self.transform_qk(query, key, positions)
        return query, key, value

    def _stacked_projections(self, dtype: np.dtype[Any]) -> np.ndarray:
        """``[W_query | W_key | W_value]``, shape ``(d_in, 3 d_out)``, in ``dtype``."""
        return np.concatenate([self.W_query, self.W_key, self.W_value], axis=1).astype(
            dtype, copy=False
        )

    def _output(self, context: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Merge the heads and apply ``W_out`` if there is one: ``(merged, out)``."""
        merged = self._merge(context)
        if not self.out_projection:
            return merged, merged
        return merged, merged @ self.W_out.astype(merged.dtype, copy=False)

    def __call__(
        self, x: npt.ArrayLike, *, mask: npt.ArrayLike | None = None, is_causal: bool = False
    ) -> np.ndarray:
        """Attend over ``x`` of shape ``(..., n, d_in)``; returns ``(..., n, d_out)``.

        ``mask`` broadcasts against the scores (``(..., n_heads, n, n)`` with heads) and
        follows :func:`~simple_attention.scaled_dot_product_attention` (boolean ``True`` = may
        attend, float masks added to the scores); ``is_causal=True`` applies
        :func:`~simple_attention.causal_mask`, and cannot be combined with ``mask``. The result
        has the dtype of ``x``; float16 is computed in float32 (the parameters are cast). Empty
        sequences and batches give empty results.

        Raises
        ------
        ValueError
            If ``x`` is not ``(..., n, d_in)``, or ``x`` or a parameter (named) holds NaN or
            inf, or ``mask`` does not fit, or comes with ``is_causal=True``.
        TypeError
            If ``x`` is not real floating-point or integer, or ``is_causal`` is not a bool.
        FloatingPointError
            If the scores or the result overflow their dtype.

        A call that raises changes neither :attr:`weights`, nor the parameters, nor the
        dropout's generator.
        """
        x_arr = self._check_input(x, self.d_in, self._size_names[0])
        is_causal = check_flag(is_causal, "is_causal")
        # A private copy: the caller may refill its buffer before the backward pass.
        xw = x_arr.astype(working_dtype(x_arr.dtype))
        positions = np.arange(xw.shape[-2])
        query, key, value = self._project(xw, positions)
        scale = resolve_scale(self.scale, self.d_head)
        scores_shape = (*query.shape[:-1], key.shape[-2])
        mask_arr = resolve_mask(mask, is_causal, scores_shape)

        if not (self.keep_weights or self.training):
            # Evaluation without the weights: no (..., n_queries, n_keys) array, nothing
            # for backward.
            context = attend_blocked(
                query, key, value, scale=scale, mask=mask_arr, is_causal=is_causal
            )
            out = self._finite(self._output(context)[1], "the output", x_arr.dtype)
            self.weights = None
            self._cache = {"weights_dropped": True}
            return out
        rng_state = self.dropout.rng.bit_generator.state
        try:
            if self.dropout.active:
                # The context comes from the dropped weights, so only the weights are computed.
                weights = attention_weights(
                    query, key, scale=scale, mask=mask_arr, is_causal=is_causal
                )
                dropped = self.dropout(weights)
                context = dropped @ value
            else:
                context, weights = attend(
                    query, key, value, scale=scale, mask=mask_arr, is_causal=is_causal
                )
                dropped = None
            merged, out = self._output(context)
            out = self._finite(out, "the output", x_arr.dtype)
        except FloatingPointError:
            # A failed call must not change the masks the next calls draw.
            self.dropout.rng.bit_generator.state = rng_state
            raise
        weights.flags.writeable = False  # shared with the backward pass
        self.weights = weights
        self._cache = {
            "x": xw,
            "positions": positions,
            "query": query,
            "key": key,
            "value": value,
            "weights": weights,
            "dropped": dropped,
            "merged": merged,
            "scale": scale,
            "dtype": x_arr.dtype,
            "out_shape": out.shape,
        }
        return out

    # --- backward -----------------------------------------------------------------------------

    def backward(self, grad_out: npt.ArrayLike) -> np.ndarray:
        r"""Gradients of a loss through the last call, given ``grad_out`` = dL/d(out).

        Backwards through :math:`\text{out} = C\,W_o` (if there is :math:`W_o`), the merge of
        the heads, the attention of every head (with dropout, only through the kept weights,
        scaled by :math:`1/(1-p)` as in the forward pass), :meth:`transform_qk_backward`, and
        the three input projections: with :math:`dQ, dK, dV` the gradients of the queries, keys
        and values,

        .. math:: \frac{\partial \mathcal{L}}{\partial W_q} = X^\top dQ,\quad
                  \frac{\partial \mathcal{L}}{\partial W_k} = X^\top dK,\quad
                  \frac{\partial \mathcal{L}}{\partial W_v} = X^\top dV,\qquad
                  \frac{\partial \mathcal{L}}{\partial X} = dQ\,W_q^\top + dK\,W_k^\top
                  + dV\,W_v^\top,

        the products :math:`X^\top dQ` summing over every sequence of a batch.

        Parameters
        ----------
        grad_out : array_like, shape of the last output (..., n, d_out)

        Returns
        -------
        ndarray, shape of the last input (..., n, d_in)
            dL/dx, in the dtype of the last input. :attr:`grads` then holds the gradients of
            the projections, in the dtype of the parameters, summed over the batch.

        Raises
        ------
        RuntimeError
            If the layer has not been called yet (or only through :meth:`decode_step`), or its
            last call raised, or ran in evaluation mode with ``keep_weights=False``.
        ValueError
            If ``grad_out`` does not have the shape of the last output, or holds NaN or inf.
        TypeError
            If ``grad_out`` is not real (complex gradients are refused).
        FloatingPointError
            If a gradient overflows its dtype; :attr:`grads` is then left as it was.
        """
        saved = self._saved()
        if "weights_dropped" in saved:
            raise RuntimeError(
                "the last call ran in evaluation mode with keep_weights=False and kept nothing "
                "for the backward pass; call train() first, or use keep_weights=True"
            )
        x = saved["x"]
        g = self._grad_out(grad_out, saved["out_shape"]).astype(x.dtype, copy=False)
        grads = {}
        if self.out_projection:
            W_out = self.W_out
            grads["W_out"] = self._finite(
                sum_outer(saved["merged"], g), "the gradient of W_out", W_out.dtype
            )
            g = g @ W_out.T.astype(x.dtype, copy=False)
        grad_query, grad_key, grad_value = self._attention_backward(self._split(g), saved)
        grad_query, grad_key = self.transform_qk_backward(grad_query, grad_key, saved["positions"])
        # The three products of the formula at once, through [W_q | W_k | W_v] as in forward:
        # X^T [dQ | dK | dV] holds the three weight gradients side by side, and
        # [dQ | dK | dV] [W_q | W_k | W_v]^T is the sum of the three input gradients.
        grad_qkv = np.concatenate(
            [self._merge(grad) for grad in (grad_query, grad_key, grad_value)], axis=-1
        )  # (..., n, 3 d_out)
        stacked_grads = np.split(sum_outer(x, grad_qkv), 3, axis=1)  # 3 x (d_in, d_out)
        for name, grad in zip(("W_query", "W_key", "W_value"), stacked_grads, strict=True):
            grads[name] = self._finite(grad, f"the gradient of {name}", getattr(self, name).dtype)
        grad_x = grad_qkv @ self._stacked_projections(x.dtype).T  # (..., n, d_in)
        grad_x = self._finite(grad_x, "the gradient of x", saved["dtype"])
        self._store_grads(grads)
        return grad_x

    def _attention_backward(
        self, grad_context: np.ndarray, saved: dict[str, Any]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""dL/dQ, dL/dK, dL/dV through :math:`C = \operatorname{dropout}(W)\,V`, or :math:`WV`."""
        query, key, value = saved["query"], saved["key"], saved["value"]
        weights, dropped, scale = saved["weights"], saved["dropped"], saved["scale"]
        if dropped is None:
            return attend_backward(grad_context, query, key, value, weights, scale=scale)
        grad_value = np.swapaxes(dropped, -1, -2) @ grad_context
        grad_weights = self.dropout.backward(grad_context @ np.swapaxes(value, -1, -2))
        grad_query, grad_key = backward_through_scores(grad_weights, weights, query, key, scale)
        return (
            sum_to_shape(grad_query, query.shape),
            sum_to_shape(grad_key, key.shape),
            sum_to_shape(grad_value, value.shape),
        )

    # --- decoding -----------------------------------------------------------------------------

    def decode_step(self, x_new: npt.ArrayLike, cache: KVCache) -> np.ndarray:
        """Attend from the newest position(s) to everything so far, using and filling ``cache``.

        The keys and values of ``x_new`` are appended to ``cache``; the new queries then attend
        to every cached position up to their own, with the causal mask aligned at the bottom
        right (:func:`~simple_attention.causal_mask_bottom_right`), because the new queries
        are the *last* positions (:meth:`transform_qk` sees them at positions ``len(cache)``
        on). Feeding a sequence one token at a time through this method gives the same outputs
        as one causal call on the whole sequence, while every step projects only the new token
        and computes one row of scores per head.

        Decoding is for inference: no dropout is applied and nothing is kept for
        :meth:`backward`. :attr:`weights` holds the new rows, ``(..., [n_heads,] m, n_keys)``. A
        step that raises changes nothing: neither the cache, nor :attr:`weights`, nor what
        :meth:`backward` would use.

        Parameters
        ----------
        x_new : array_like, shape (..., m, d_in)
            The ``m`` new positions (usually ``m = 1``).
        cache : KVCache
            The keys and values of the earlier positions of the same sequences; empty at the
            first step.

        Returns
        -------
        ndarray, shape (..., m, d_out)
            The outputs of the new positions, in the dtype of ``x_new``.

        Raises
        ------
        TypeError
            If ``cache`` is not a :class:`~simple_attention.KVCache`, or ``x_new`` is not real,
            or its dtype differs from the cached keys'.
        ValueError
            If ``x_new`` is not ``(..., m, d_in)``, holds NaN or inf, or its leading
            dimensions differ from the cached ones.
        FloatingPointError
            If the scores or the result overflow their dtype.

        Examples
        --------
        >>> import numpy as np
        >>> from simple_attention import KVCache, MultiHeadAttention
        >>> layer = MultiHeadAttention(d_model=4, n_heads=2, rng=0)
        >>> x = np.random.default_rng(1).standard_normal((5, 4))
        >>> cache = KVCache()
        >>> steps = [layer.decode_step(x[t : t + 1], cache) for t in range(5)]
        >>> np.allclose(np.concatenate(steps), layer(x, is_causal=True), rtol=0, atol=1e-12)
        True
        >>> len(cache)
        5
        """
        if not isinstance(cache, KVCache):
            raise TypeError(f"cache must be a KVCache, got {type(cache).__name__}")
        x_arr = self._check_input(x_new, self.d_in, self._size_names[0])
        xw = x_arr.astype(working_dtype(x_arr.dtype), copy=False)
        start = len(cache)
        query, key, value = self._project(xw, np.arange(start, start + xw.shape[-2]))
        # Stored in the cache only once the step has succeeded.
        keys, values = cache.extended(key, value)
        mask = causal_mask_bottom_right(query.shape[-2], keys.shape[-2])
        context, weights = attend(
            query, keys, values, scale=resolve_scale(self.scale, self.d_head), mask=mask
        )
        out = self._finite(self._output(context)[1], "the output", x_arr.dtype)
        cache.keys, cache.values = keys, values
        weights.flags.writeable = False  # as after a full call
        self.weights = weights
        self._cache = None
        return out


class SelfAttention(Attention):
    r"""Single-head self-attention with trainable query, key and value projections.

    For inputs :math:`X` of shape ``(..., n, d_in)``:

    .. math:: Q = X W_q,\quad K = X W_k,\quad V = X W_v,\qquad
              \text{context} = \operatorname{softmax}\!\Bigl(\frac{Q K^\top}{\sqrt{d_k}}
              \Bigr) V.

    Parameters
    ----------
    d_in : int
        Size of each input vector.
    d_out : int
        Size of the queries, keys, values and outputs.
    rng : None, int or numpy.random.Generator, optional
        Source of randomness for the initial weights, drawn uniformly from
        :math:`[-1/\sqrt{d_\text{in}}, 1/\sqrt{d_\text{in}}]` (the usual default for a linear
        layer, which keeps the projections' spread independent of ``d_in``).
    scale : float, optional
        The factor applied to the scores; ``None`` (the default) means
        :math:`1/\sqrt{d_k}`, the size of a query or key. Set it to study what the
        scaling does (``scale=1.0`` is the unscaled dot product).
    dropout : float, default 0.0
        Probability of dropping each attention weight in training mode (see
        :class:`~simple_attention.Dropout`), drawn from ``rng`` after the initial weights.
    keep_weights : bool, default True
        Keep the attention weights of each call in :attr:`weights`; with ``False``, a call in
        evaluation mode holds no ``(..., n, n)`` array (see :class:`Attention`).
    rotary : bool, default False
        Rotate the queries and keys by their positions first
        (:func:`~simple_attention.rotary_embedding`); needs an even ``d_out``.

    Attributes
    ----------
    W_query, W_key, W_value : ndarray, shape (d_in, d_out)
        The projections, applied as ``x @ W``.
    weights : ndarray, shape (..., n, n) or None
        The attention weights of the last call (before dropout), for plotting; ``None`` before
        the first call. Read-only: the backward pass uses the same array.
    dropout : Dropout
        The dropout applied to the weights.
    grads : dict of str to ndarray
        Gradients of ``W_query``, ``W_key`` and ``W_value`` from the last :meth:`backward`.

    See Also
    --------
    scaled_dot_product_attention : the attention step inside the layer.
    simple_attention.Attention : the general layer: heads, output projection, decoding.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import SelfAttention
    >>> layer = SelfAttention(d_in=3, d_out=2, rng=0)
    >>> layer.W_query.shape
    (3, 2)
    >>> x = np.array([[0.86, 0.93, 0.82], [0.11, 0.23, 0.26], [0.79, 0.64, 0.39]])
    >>> context = layer(x)
    >>> context.shape
    (3, 2)
    >>> layer.weights.round(3)
    array([[0.327, 0.351, 0.322],
           [0.333, 0.335, 0.332],
           [0.326, 0.353, 0.322]])

    With ``is_causal=True`` each token attends only to itself and the tokens before it:

    >>> _ = layer(x, is_causal=True)
    >>> layer.weights.round(3)
    array([[1.   , 0.   , 0.   ],
           [0.498, 0.502, 0.   ],
           [0.326, 0.353, 0.322]])

    Backward from an upstream gradient gives the gradient for ``x`` and fills ``grads``:

    >>> grad_x = layer.backward(np.ones((3, 2)))
    >>> grad_x.shape, layer.grads["W_value"].shape
    ((3, 3), (3, 2))
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        *,
        rng: int | np.random.Generator | None = None,
        scale: float | None = None,
        dropout: float = 0.0,
        keep_weights: bool = True,
        rotary: bool = False,
    ) -> None:
        super().__init__(
            d_in,
            d_out,
            scale=scale,
            dropout=dropout,
            keep_weights=keep_weights,
            rotary=rotary,
            rng=rng,
        )

    def __repr__(self) -> str:
        return f"SelfAttention(d_in={self.d_in}, d_out={self.d_out}" + (
            ", rotary=True)" if self.rotary else ")"
        )


class MultiHeadAttention(Attention):
    r"""Multi-head self-attention with query, key, value and output projections.

    For inputs :math:`X` of shape ``(..., n, d_model)``, each head :math:`g` of the :math:`h`
    attends with its own slice of the projected queries, keys and values, and the heads are
    merged and mixed:

    .. math:: \text{head}_g = \operatorname{softmax}\!\Bigl(\frac{Q_g K_g^\top}
              {\sqrt{d_k}} + M\Bigr) V_g, \qquad
              \text{out} = [\text{head}_0, \dots, \text{head}_{h-1}]\, W_o,

    with :math:`Q = X W_q`, :math:`K = X W_k`, :math:`V = X W_v` and
    :math:`d_k = d_\text{model} / h`. With one head this is
    :class:`~simple_attention.SelfAttention` followed by :math:`W_o`.

    Parameters
    ----------
    d_model : int
        Size of each input and output vector; must be divisible by ``n_heads``.
    n_heads : int
        Number of heads.
    dropout : float, default 0.0
        Probability of dropping each attention weight in training mode (see
        :class:`~simple_attention.Dropout`). With ``dropout > 0`` the rows of the weights that
        produce the output no longer sum to 1 while training.
    scale : float, optional
        The factor applied to the scores; ``None`` (the default) means
        :math:`1/\sqrt{d_k}`.
    rng : None, int or numpy.random.Generator, optional
        Source of randomness for the initial weights, drawn uniformly from
        :math:`[-1/\sqrt{d_\text{model}}, 1/\sqrt{d_\text{model}}]`, and then for the dropout
        masks.
    keep_weights : bool, default True
        Keep the attention weights of each call in :attr:`weights` (for plotting). With ``False``,
        a call in evaluation mode uses the blocked kernel and holds no
        ``(..., n_heads, n_queries, n_keys)`` array: :attr:`weights` is then ``None`` and
        :meth:`backward` raises ``RuntimeError``. Training mode always keeps what the backward pass
        needs.
    rotary : bool, default False
        Rotate the queries and keys of every head by their positions
        (:func:`~simple_attention.rotary_embedding`), the position embedding of RoFormer and of
        many recent language models; needs an even ``d_head``.

    Attributes
    ----------
    W_query, W_key, W_value, W_out : ndarray, shape (d_model, d_model)
        The projections, applied as ``x @ W``. Columns ``h * d_head`` to
        ``(h + 1) * d_head - 1`` of ``W_query``, ``W_key`` and ``W_value`` belong to head ``h``.
    d_head : int
        Features per head, ``d_model // n_heads``; the default scale is ``1/sqrt(d_head)``.
    weights : ndarray, shape (..., n_heads, n_queries, n_keys) or None
        The attention weights of every head in the last call (before dropout), for plotting;
        ``None`` before the first call. Read-only: the backward pass uses the same array.
    dropout : Dropout
        The dropout applied to the weights; :meth:`train` and :meth:`~simple_attention.Layer.eval`
        switch its mode.
    grads : dict of str to ndarray
        Gradients of the four projections from the last :meth:`backward`.

    Raises
    ------
    ValueError
        If ``d_model`` or ``n_heads`` is not positive, or ``d_model`` is not divisible by
        ``n_heads``, or ``dropout`` is outside ``[0, 1)``.
    TypeError
        If a size is not an integer, or ``dropout`` is not a real number.

    Every argument is checked before anything is drawn from ``rng``.

    See Also
    --------
    simple_attention.key_padding_mask : the ``(B, 1, 1, n_keys)`` mask for padded batches.
    simple_attention.KVCache : step-by-step decoding with :meth:`decode_step`.
    simple_attention.Attention : the general layer, of which this is one configuration.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import MultiHeadAttention
    >>> layer = MultiHeadAttention(d_model=4, n_heads=2, rng=0)
    >>> layer
    MultiHeadAttention(d_model=4, n_heads=2, dropout=0.0)
    >>> x = np.random.default_rng(1).standard_normal((3, 4))  # 3 tokens
    >>> out = layer(x, is_causal=True)
    >>> out.shape, layer.weights.shape  # one (3, 3) weight matrix per head
    ((3, 4), (2, 3, 3))
    >>> layer.weights[1].round(3)
    array([[1.   , 0.   , 0.   ],
           [0.449, 0.551, 0.   ],
           [0.307, 0.358, 0.336]])

    A key-padding mask ``(B, n_keys)`` must become ``(B, 1, 1, n_keys)``, to broadcast over the
    heads and the queries:

    >>> batch = np.random.default_rng(2).standard_normal((2, 3, 4))
    >>> keep = np.array([[True, True, False], [True, True, True]])
    >>> out = layer(batch, mask=keep[:, None, None, :])
    >>> layer.weights[0, :, :, 2]  # no head of sentence 0 attends to its padding
    array([[0., 0., 0.],
           [0., 0., 0.]])
    >>> MultiHeadAttention(d_model=6, n_heads=4)
    Traceback (most recent call last):
        ...
    ValueError: d_model=6 is not divisible by n_heads=4
    """

    _size_names = ("d_model", "d_model")

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        *,
        dropout: float = 0.0,
        scale: float | None = None,
        keep_weights: bool = True,
        rotary: bool = False,
        rng: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__(
            d_model,
            d_model,
            n_heads=n_heads,
            out_projection=True,
            scale=scale,
            dropout=dropout,
            keep_weights=keep_weights,
            rotary=rotary,
            rng=rng,
        )
        self.d_model = self.d_in

    def __repr__(self) -> str:
        return (
            f"MultiHeadAttention(d_model={self.d_model}, n_heads={self.n_heads}, "
            f"dropout={self.dropout.p}" + (", rotary=True" if self.rotary else "") + ")"
        )
