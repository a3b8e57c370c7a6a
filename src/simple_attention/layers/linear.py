r"""The output head: from context vectors to one score per vocabulary entry.

Attention produces a context vector per position; to predict a token, a linear map turns each
context vector into a vector of *logits*, one per token of the vocabulary, which a softmax
(inside the loss, :func:`~simple_attention.softmax_cross_entropy`) turns into probabilities.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from .._validation import as_float_array, as_rng, check_positive_int, working_dtype
from .base import Layer, sum_outer

__all__ = ["Linear"]


class Linear(Layer):
    r"""An affine map :math:`y = x W + b`, applied to the last axis.

    Parameters
    ----------
    d_in : int
        Size of each input vector.
    d_out : int
        Size of each output vector (the vocabulary size, for an output head).
    rng : None, int or numpy.random.Generator, optional
        Source of randomness for ``W``, drawn uniformly from
        :math:`[-1/\sqrt{d_\text{in}}, 1/\sqrt{d_\text{in}}]` as in
        :class:`~simple_attention.SelfAttention`; ``b`` starts at zero.

    Attributes
    ----------
    W : ndarray, shape (d_in, d_out)
    b : ndarray, shape (d_out,)
    params, grads : dict of str to ndarray
        ``{"W": W, "b": b}`` and their gradients after :meth:`backward`.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import Linear
    >>> head = Linear(3, 2, rng=0)
    >>> x = np.ones((4, 3))
    >>> head(x).shape
    (4, 2)

    Backward, the bias collects the gradient of every row, and ``W`` the products
    :math:`x^\top g`:

    >>> grad_x = head.backward(np.ones((4, 2)))
    >>> head.grads["b"]
    array([4., 4.])
    >>> head.grads["W"]
    array([[4., 4.],
           [4., 4.],
           [4., 4.]])
    """

    param_names = ("W", "b")

    def __init__(
        self, d_in: int, d_out: int, *, rng: int | np.random.Generator | None = None
    ) -> None:
        super().__init__()
        self.d_in = check_positive_int(d_in, "d_in")
        self.d_out = check_positive_int(d_out, "d_out")
        bound = 1.0 / math.sqrt(self.d_in)
        self.W = as_rng(rng).uniform(-bound, bound, (self.d_in, self.d_out))
        self.b = np.zeros(self.d_out)

    def __repr__(self) -> str:
        return f"Linear(d_in={self.d_in}, d_out={self.d_out})"

    def __call__(self, x: npt.ArrayLike) -> np.ndarray:
        """Map ``x`` of shape ``(..., d_in)`` to ``(..., d_out)``, in the dtype of ``x``.

        float16 is computed in float32, as in the attention layers.

        Raises
        ------
        ValueError
            If ``x`` is not ``(..., d_in)``, or ``x``, ``W`` or ``b`` (named) holds NaN or inf.
        TypeError
            If ``x`` is not real floating-point or integer.
        FloatingPointError
            If the result overflows the dtype of ``x``.
        """
        x_arr = as_float_array(x, "x")
        if x_arr.ndim < 1 or x_arr.shape[-1] != self.d_in:
            raise ValueError(f"x must have shape (..., {self.d_in}), got {x_arr.shape}")
        self._check_params()
        work = working_dtype(x_arr.dtype)
        # A private copy: the caller may refill its buffer before the backward pass.
        xw = x_arr.astype(work)
        with np.errstate(over="ignore", invalid="ignore"):
            out = xw @ self.W.astype(work, copy=False)
            out += self.b.astype(work, copy=False)  # in place: no second (..., d_out) array
        out = self._finite(out, "the output", x_arr.dtype)
        self._cache = {"x": xw, "dtype": x_arr.dtype, "out_shape": out.shape}
        return out

    def backward(self, grad_out: npt.ArrayLike) -> np.ndarray:
        r"""Return dL/dx = :math:`g W^\top` and fill ``grads`` with :math:`x^\top g` and
        :math:`\sum g`, summed over all leading dimensions.

        dL/dx has the dtype of the last input, the gradients that of the parameters.

        Raises
        ------
        RuntimeError
            If the layer has not been called yet, or its last call raised.
        ValueError
            If ``grad_out`` does not have the shape of the last output, or holds NaN or inf.
        TypeError
            If ``grad_out`` is not real (complex gradients are refused).
        FloatingPointError
            If a gradient overflows its dtype; ``grads`` is then left as it was.
        """
        saved = self._saved()
        x = saved["x"]
        g = self._grad_out(grad_out, saved["out_shape"]).astype(x.dtype, copy=False)
        grads = {
            "W": self._finite(sum_outer(x, g), "the gradient of W", self.W.dtype),
            "b": self._finite(
                g.reshape(-1, self.d_out).sum(axis=0), "the gradient of b", self.b.dtype
            ),
        }
        grad_x = self._finite(
            g @ self.W.T.astype(x.dtype, copy=False), "the gradient of x", saved["dtype"]
        )
        self._store_grads(grads)
        return grad_x
