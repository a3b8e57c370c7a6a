"""Attention with trainable weights: the seed notebook's open TODO.

The inputs are no longer compared with each other directly. Three matrices project each input
into a *query* (what this token is looking for), a *key* (what it offers to be found by) and a
*value* (what it hands on when chosen). Those matrices are the layer's parameters; training
adjusts them.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from .._validation import (
    as_rng,
    check_flag,
    check_positive_int,
    check_scale,
    working_dtype,
)
from ..attention.scaled import scaled_dot_product_attention, scaled_dot_product_attention_backward
from .base import Layer, sum_outer

__all__ = ["SelfAttention"]


class SelfAttention(Layer):
    r"""Single-head self-attention with trainable query, key and value projections.

    For inputs :math:`X` of shape ``(..., n, d_in)``:

    .. math:: Q = X W_q,\quad K = X W_k,\quad V = X W_v,\qquad
              \text{context} = \operatorname{softmax}\!\Bigl(\frac{Q K^\top}{\sqrt{d_\text{out}}}
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
        :math:`1/\sqrt{d_\text{out}}`, the size of a query or key. Set it to study what the
        scaling does (``scale=1.0`` is the unscaled dot product).

    Attributes
    ----------
    W_query, W_key, W_value : ndarray, shape (d_in, d_out)
        The projections, applied as ``x @ W``.
    weights : ndarray, shape (..., n, n) or None
        The attention weights of the last call, for plotting; ``None`` before the first call.
        Read-only: the backward pass uses the same array.
    grads : dict of str to ndarray
        Gradients of ``W_query``, ``W_key`` and ``W_value`` from the last :meth:`backward`.

    See Also
    --------
    scaled_dot_product_attention : the attention step inside the layer.

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

    param_names = ("W_query", "W_key", "W_value")

    def __init__(
        self,
        d_in: int,
        d_out: int,
        *,
        rng: int | np.random.Generator | None = None,
        scale: float | None = None,
    ) -> None:
        super().__init__()
        self.d_in = check_positive_int(d_in, "d_in")
        self.d_out = check_positive_int(d_out, "d_out")
        self.scale = None if scale is None else check_scale(scale)
        generator = as_rng(rng)
        bound = 1.0 / math.sqrt(self.d_in)
        shape = (self.d_in, self.d_out)
        self.W_query = generator.uniform(-bound, bound, shape)
        self.W_key = generator.uniform(-bound, bound, shape)
        self.W_value = generator.uniform(-bound, bound, shape)
        self.weights: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"SelfAttention(d_in={self.d_in}, d_out={self.d_out})"

    def __call__(
        self, x: npt.ArrayLike, *, mask: npt.ArrayLike | None = None, is_causal: bool = False
    ) -> np.ndarray:
        """Attend over ``x`` of shape ``(..., n, d_in)``; returns ``(..., n, d_out)``.

        ``mask`` and ``is_causal`` work as in :func:`scaled_dot_product_attention`. The result
        has the dtype of ``x``; float16 is computed in float32 (the parameters are cast).

        Raises
        ------
        ValueError
            If ``x`` is not ``(..., n, d_in)``, or ``x`` or a parameter (named) holds NaN or
            inf, or ``mask`` does not fit.
        TypeError
            If ``x`` is not real floating-point or integer, or ``is_causal`` is not a bool.
        FloatingPointError
            If the scores or the result overflow their dtype.

        A call that raises changes neither :attr:`weights` nor the parameters.
        """
        x_arr = self._check_input(x, self.d_in, "d_in")
        is_causal = check_flag(is_causal, "is_causal")
        work = working_dtype(x_arr.dtype)
        # A private copy: the caller may refill its buffer before the backward pass.
        xw = x_arr.astype(work)
        query = xw @ self.W_query.astype(work, copy=False)
        key = xw @ self.W_key.astype(work, copy=False)
        value = xw @ self.W_value.astype(work, copy=False)
        context, weights = scaled_dot_product_attention(
            query,
            key,
            value,
            mask=mask,
            is_causal=is_causal,
            scale=self.scale,
            return_weights=True,
        )
        out = self._finite(context, "the output", x_arr.dtype)
        weights.flags.writeable = False  # shared with the backward pass
        self.weights = weights
        self._cache = {
            "x": xw,
            "query": query,
            "key": key,
            "value": value,
            "weights": weights,
            "dtype": x_arr.dtype,
            "context_shape": context.shape,
        }
        return out

    def backward(self, grad_out: npt.ArrayLike) -> np.ndarray:
        r"""Gradients of a loss through the last call, given ``grad_out`` = dL/d(context).

        With :math:`Q = XW_q`, :math:`K = XW_k`, :math:`V = XW_v` and the gradients
        :math:`dQ, dK, dV` from :func:`scaled_dot_product_attention_backward`:

        .. math:: \frac{\partial L}{\partial W_q} = X^\top dQ,\quad
                  \frac{\partial L}{\partial W_k} = X^\top dK,\quad
                  \frac{\partial L}{\partial W_v} = X^\top dV,\qquad
                  \frac{\partial L}{\partial X} = dQ\,W_q^\top + dK\,W_k^\top
                  + dV\,W_v^\top,

        the products :math:`X^\top dQ` summing over every sequence of a batch.

        Parameters
        ----------
        grad_out : array_like, shape of the last output (..., n, d_out)

        Returns
        -------
        ndarray, shape of the last input (..., n, d_in)
            dL/dx, in the dtype of the last input. :attr:`grads` then holds the gradients of the
            three projections, in the dtype of the parameters.

        Raises
        ------
        RuntimeError
            If the layer has not been called yet, or its last call raised.
        ValueError
            If ``grad_out`` does not have the shape of the last output, or holds NaN or inf.
        TypeError
            If ``grad_out`` is not real (complex gradients are refused).
        FloatingPointError
            If a gradient overflows its dtype; :attr:`grads` is then left as it was.
        """
        saved = self._saved()
        x = saved["x"]
        g = self._grad_out(grad_out, saved["context_shape"]).astype(x.dtype, copy=False)
        grad_query, grad_key, grad_value = scaled_dot_product_attention_backward(
            g, saved["query"], saved["key"], saved["value"], saved["weights"], scale=self.scale
        )
        grad_x = np.zeros_like(x)
        grads = {}
        for name, grad in (
            ("W_query", grad_query),
            ("W_key", grad_key),
            ("W_value", grad_value),
        ):
            W = self.params[name]
            grads[name] = self._finite(sum_outer(x, grad), f"the gradient of {name}", W.dtype)
            grad_x += grad @ W.T.astype(x.dtype, copy=False)
        grad_x = self._finite(grad_x, "the gradient of x", saved["dtype"])
        self._store_grads(grads)
        return grad_x
