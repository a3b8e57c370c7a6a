r"""Multi-head attention: several small attentions side by side, each with its own view.

One attention head computes one set of weights per query, so it can follow only one kind of
relation at a time. Multi-head attention cuts the ``d_model`` features of the queries, keys and
values into ``n_heads`` slices of ``d_head = d_model / n_heads`` features, runs scaled
dot-product attention on every slice independently, glues the results back together and mixes
them with one more projection, ``W_out``.

The cutting and gluing are only reshapes:

.. code-block:: text

    (..., n, d_model) --reshape--> (..., n, n_heads, d_head) --swap--> (..., n_heads, n, d_head)

and the same steps backwards to merge the heads, so every head is simply one more leading
dimension for :func:`~simple_attention.scaled_dot_product_attention`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from .._validation import as_rng, check_flag, check_positive_int, working_dtype
from ..attention.kv_cache import KVCache
from ..attention.masks import causal_mask_bottom_right
from ..attention.scaled import (
    backward_through_scores,
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
    sum_to_shape,
)
from .base import Layer, sum_outer
from .dropout import Dropout, check_probability

__all__ = ["MultiHeadAttention", "merge_heads", "split_heads"]


def split_heads(x: np.ndarray, n_heads: int) -> np.ndarray:
    """Cut the last axis into heads: ``(..., n, d_model) -> (..., n_heads, n, d_head)``.

    Head ``h`` gets the features ``h * d_head`` to ``(h + 1) * d_head - 1``.

    Raises
    ------
    ValueError
        If ``x`` is not at least 2-D, or ``n_heads`` is not positive or does not divide the
        size of the last axis.
    TypeError
        If ``n_heads`` is not an integer.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention.layers.multihead import split_heads
    >>> x = np.arange(12.0).reshape(3, 4)  # 3 tokens, d_model = 4
    >>> split_heads(x, 2)  # head 0 gets features 0-1, head 1 features 2-3
    array([[[ 0.,  1.],
            [ 4.,  5.],
            [ 8.,  9.]],
    <BLANKLINE>
           [[ 2.,  3.],
            [ 6.,  7.],
            [10., 11.]]])
    """
    n_heads = check_positive_int(n_heads, "n_heads")
    if x.ndim < 2:
        raise ValueError(f"x must be at least 2-D (..., n, d_model), got shape {x.shape}")
    *lead, n, d_model = x.shape
    if d_model % n_heads:
        raise ValueError(f"x has d_model={d_model} features, not divisible by n_heads={n_heads}")
    return np.swapaxes(x.reshape(*lead, n, n_heads, d_model // n_heads), -2, -3)


def merge_heads(x: np.ndarray) -> np.ndarray:
    """Glue the heads back together: ``(..., n_heads, n, d_head) -> (..., n, d_model)``.

    The inverse of :func:`split_heads`.

    Raises
    ------
    ValueError
        If ``x`` is not at least 3-D.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention.layers.multihead import merge_heads, split_heads
    >>> x = np.arange(12.0).reshape(3, 4)
    >>> np.array_equal(merge_heads(split_heads(x, 2)), x)
    True
    """
    if x.ndim < 3:
        raise ValueError(f"x must be at least 3-D (..., n_heads, n, d_head), got shape {x.shape}")
    swapped = np.swapaxes(x, -2, -3)
    # The size spelled out, not -1, which is ambiguous for an empty sequence or batch.
    return swapped.reshape(*swapped.shape[:-2], swapped.shape[-2] * swapped.shape[-1])


class MultiHeadAttention(Layer):
    r"""Multi-head self-attention with query, key, value and output projections.

    For inputs :math:`X` of shape ``(..., n, d_model)``, each head :math:`h` attends with its
    own slice of the projected queries, keys and values, and the heads are merged and mixed:

    .. math:: \text{head}_h = \operatorname{softmax}\!\Bigl(\frac{Q_h K_h^\top}
              {\sqrt{d_\text{head}}} + M\Bigr) V_h, \qquad
              \text{out} = [\text{head}_1, \dots, \text{head}_H]\, W_o,

    with :math:`Q = X W_q`, :math:`K = X W_k`, :math:`V = X W_v` and
    :math:`d_\text{head} = d_\text{model} / H`. With one head this is
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
    rng : None, int or numpy.random.Generator, optional
        Source of randomness for the initial weights, drawn uniformly from
        :math:`[-1/\sqrt{d_\text{model}}, 1/\sqrt{d_\text{model}}]`, and then for the dropout
        masks.
    keep_weights : bool, default True
        Keep the attention weights of each call in :attr:`weights` (for plotting). With
        ``False``, a call in evaluation mode uses the blocked kernel and holds no
        ``(..., n_heads, L, S)`` array: :attr:`weights` is then ``None`` and :meth:`backward`
        raises ``RuntimeError``. Training mode always keeps what the backward pass needs.

    Attributes
    ----------
    W_query, W_key, W_value, W_out : ndarray, shape (d_model, d_model)
        The projections, applied as ``x @ W``. Columns ``h * d_head`` to
        ``(h + 1) * d_head - 1`` of ``W_query``, ``W_key`` and ``W_value`` belong to head ``h``.
    d_head : int
        Features per head, ``d_model // n_heads``; the default scale is ``1/sqrt(d_head)``.
    weights : ndarray, shape (..., n_heads, L, S) or None
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
    simple_attention.key_padding_mask : the ``(B, 1, 1, S)`` mask for padded batches.
    simple_attention.KVCache : step-by-step decoding with :meth:`decode_step`.

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

    A key-padding mask ``(B, S)`` must become ``(B, 1, 1, S)``, to broadcast over the heads
    and the queries:

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

    param_names = ("W_query", "W_key", "W_value", "W_out")

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        *,
        dropout: float = 0.0,
        rng: int | np.random.Generator | None = None,
        keep_weights: bool = True,
    ) -> None:
        super().__init__()
        self.d_model = check_positive_int(d_model, "d_model")
        self.n_heads = check_positive_int(n_heads, "n_heads")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
        self.d_head = self.d_model // self.n_heads
        p = check_probability(dropout, "dropout")
        self.keep_weights = check_flag(keep_weights, "keep_weights")
        generator = as_rng(rng)
        bound = 1.0 / math.sqrt(self.d_model)
        shape = (self.d_model, self.d_model)
        self.W_query = generator.uniform(-bound, bound, shape)
        self.W_key = generator.uniform(-bound, bound, shape)
        self.W_value = generator.uniform(-bound, bound, shape)
        self.W_out = generator.uniform(-bound, bound, shape)
        self.dropout = Dropout(p, rng=generator)
        self.weights: np.ndarray | None = None

    def __repr__(self) -> str:
        return (
            f"MultiHeadAttention(d_model={self.d_model}, n_heads={self.n_heads}, "
            f"dropout={self.dropout.p})"
        )

    def _project(self, x: np.ndarray, name: str) -> np.ndarray:
        """``x @ W`` for the parameter ``name``, split into heads."""
        return split_heads(x @ self.params[name].astype(x.dtype, copy=False), self.n_heads)

    def __call__(
        self, x: npt.ArrayLike, *, mask: npt.ArrayLike | None = None, is_causal: bool = False
    ) -> np.ndarray:
        """Attend over ``x`` of shape ``(..., n, d_model)``; returns ``(..., n, d_model)``.

        ``mask`` broadcasts against the scores ``(..., n_heads, n, n)`` and follows the
        conventions of :func:`~simple_attention.scaled_dot_product_attention` (boolean ``True``
        = may attend, float masks added to the scores); ``is_causal=True`` applies
        :func:`~simple_attention.causal_mask`. A key-padding mask ``(B, n)`` must be reshaped
        to ``(B, 1, 1, n)`` first (:func:`~simple_attention.key_padding_mask` does it). The
        result has the dtype of ``x``; float16 is computed in float32. Empty sequences
        (``n = 0``) and empty batches give empty results.

        Raises
        ------
        ValueError
            If ``x`` is not ``(..., n, d_model)``, or ``x`` or a parameter (named) holds NaN or
            inf, or ``mask`` does not fit.
        TypeError
            If ``x`` is not real floating-point or integer, or ``is_causal`` is not a bool.
        FloatingPointError
            If the scores or the result overflow their dtype.

        A call that raises changes neither :attr:`weights`, nor the parameters, nor the
        dropout's generator.
        """
        x_arr = self._check_input(x, self.d_model, "d_model")
        is_causal = check_flag(is_causal, "is_causal")
        # A private copy: the caller may refill its buffer before the backward pass.
        xw = x_arr.astype(working_dtype(x_arr.dtype))
        query, key, value = (self._project(xw, n) for n in ("W_query", "W_key", "W_value"))
        if not (self.keep_weights or self.training):
            # Evaluation without the weights: no (..., L, S) array, nothing for backward.
            context = scaled_dot_product_attention(
                query, key, value, mask=mask, is_causal=is_causal
            )
            out = merge_heads(context) @ self.W_out.astype(xw.dtype, copy=False)
            self.weights = None
            self._cache = {"weights_dropped": True}
            return self._finite(out, "the output", x_arr.dtype)
        context, weights = scaled_dot_product_attention(
            query, key, value, mask=mask, is_causal=is_causal, return_weights=True
        )
        rng_state = self.dropout.rng.bit_generator.state
        dropped = None
        if self.dropout.active:
            dropped = self.dropout(weights)
            context = dropped @ value
        merged = merge_heads(context)
        try:
            out = self._finite(
                merged @ self.W_out.astype(xw.dtype, copy=False), "the output", x_arr.dtype
            )
        except FloatingPointError:
            # A failed call must not change the masks the next calls draw.
            self.dropout.rng.bit_generator.state = rng_state
            raise
        weights.flags.writeable = False  # shared with the backward pass
        self.weights = weights
        self._cache = {
            "x": xw,
            "query": query,
            "key": key,
            "value": value,
            "weights": weights,
            "dropped": dropped,
            "merged": merged,
            "dtype": x_arr.dtype,
            "out_shape": out.shape,
        }
        return out

    def backward(self, grad_out: npt.ArrayLike) -> np.ndarray:
        r"""Gradients of a loss through the last call, given ``grad_out`` = dL/d(out).

        Going backwards through :math:`\text{out} = C\,W_o`, the merge (a reshape, undone by
        splitting the gradient into heads), the attention of every head, and the three input
        projections; with dropout, the gradient flows only through the kept weights, scaled
        by :math:`1/(1-p)` as in the forward pass.

        Parameters
        ----------
        grad_out : array_like, shape of the last output (..., n, d_model)

        Returns
        -------
        ndarray, shape of the last input (..., n, d_model)
            dL/dx, in the dtype of the last input. :attr:`grads` then holds the gradients of
            ``W_query``, ``W_key``, ``W_value`` and ``W_out``, summed over the batch.

        Raises
        ------
        RuntimeError
            If the layer has not been called yet (or only through :meth:`decode_step`), or its
            last call raised.
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
        grads = {"W_out": sum_outer(saved["merged"], g).astype(self.W_out.dtype, copy=False)}
        grad_context = split_heads(g @ self.W_out.T.astype(x.dtype, copy=False), self.n_heads)
        if saved["dropped"] is None:
            grads_qkv = scaled_dot_product_attention_backward(
                grad_context, saved["query"], saved["key"], saved["value"], saved["weights"]
            )
        else:
            grads_qkv = self._attention_backward_with_dropout(grad_context, saved)
        grad_x = np.zeros_like(x)
        for name, grad in zip(("W_query", "W_key", "W_value"), grads_qkv, strict=True):
            W = self.params[name]
            grad_merged = merge_heads(grad)
            grads[name] = sum_outer(x, grad_merged).astype(W.dtype, copy=False)
            grad_x += grad_merged @ W.T.astype(x.dtype, copy=False)
        for name, grad in grads.items():
            self._finite(grad, f"the gradient of {name}")
        grad_x = self._finite(grad_x, "the gradient of x", saved["dtype"])
        self._store_grads(grads)
        return grad_x

    def _attention_backward_with_dropout(
        self, grad_context: np.ndarray, saved: dict[str, Any]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""Backward through :math:`C = \operatorname{dropout}(W)\,V`, then as without dropout."""
        query, key, value = saved["query"], saved["key"], saved["value"]
        dropped = saved["dropped"]
        weights = np.broadcast_to(saved["weights"], dropped.shape)
        grad_value = np.swapaxes(dropped, -1, -2) @ grad_context
        grad_weights = self.dropout.backward(grad_context @ np.swapaxes(value, -1, -2))
        grad_query, grad_key = backward_through_scores(
            grad_weights, weights, query, key, 1.0 / math.sqrt(self.d_head)
        )
        return (
            sum_to_shape(grad_query, query.shape),
            sum_to_shape(grad_key, key.shape),
            sum_to_shape(grad_value, value.shape),
        )

    def decode_step(self, x_new: npt.ArrayLike, cache: KVCache) -> np.ndarray:
        """Attend from the newest position(s) to everything so far, using and filling ``cache``.

        The keys and values of ``x_new`` are appended to ``cache``; the new queries then attend
        to every cached position up to their own, with the causal mask aligned at the bottom
        right (:func:`~simple_attention.causal_mask_bottom_right`), because the new queries
        are the *last* positions. Feeding a sequence one token at a time through this method
        gives the same outputs as one causal call on the whole sequence, while every step
        projects only the new token and computes one row of scores per head.

        Decoding is for inference: no dropout is applied and nothing is kept for
        :meth:`backward`. :attr:`weights` holds the new rows, ``(..., n_heads, m, S)``. A step
        that raises changes nothing: neither the cache, nor :attr:`weights`, nor what
        :meth:`backward` would use.

        Parameters
        ----------
        x_new : array_like, shape (..., m, d_model)
            The ``m`` new positions (usually ``m = 1``).
        cache : KVCache
            The keys and values of the earlier positions of the same sequences; empty at the
            first step.

        Returns
        -------
        ndarray, shape (..., m, d_model)
            The outputs of the new positions, in the dtype of ``x_new``.

        Raises
        ------
        TypeError
            If ``cache`` is not a :class:`~simple_attention.KVCache`, or ``x_new`` is not real,
            or its dtype differs from the cached keys'.
        ValueError
            If ``x_new`` is not ``(..., m, d_model)``, holds NaN or inf, or its leading
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
        x_arr = self._check_input(x_new, self.d_model, "d_model")
        xw = x_arr.astype(working_dtype(x_arr.dtype), copy=False)
        query, key, value = (self._project(xw, n) for n in ("W_query", "W_key", "W_value"))
        # Stored in the cache only once the step has succeeded.
        keys, values = cache._extended(key, value)
        mask = causal_mask_bottom_right(query.shape[-2], keys.shape[-2])
        context, weights = scaled_dot_product_attention(
            query, keys, values, mask=mask, return_weights=True
        )
        out = merge_heads(context) @ self.W_out.astype(xw.dtype, copy=False)
        out = self._finite(out, "the output", x_arr.dtype)
        cache.keys, cache.values = keys, values
        weights.flags.writeable = False  # as after a full call
        self.weights = weights
        self._cache = None
        return out
