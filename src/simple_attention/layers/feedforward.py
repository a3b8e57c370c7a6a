r"""The feed-forward half of a transformer block: widen, GELU, narrow, for each token alone.

Attention mixes information *between* positions; the feed-forward layer then transforms each
position on its own, with the same weights everywhere: a linear map up to a wider hidden layer
(four times ``d_model`` in GPT-2), the smooth non-linearity :func:`gelu`, and a linear map back.

GELU is used in its tanh approximation, the one of GPT-2 and of
``torch.nn.functional.gelu(x, approximate="tanh")``:

.. math:: \operatorname{gelu}(x) = \tfrac12\, x\, \Bigl(1 + \tanh\bigl(\sqrt{2/\pi}\,
          (x + 0.044715\, x^3)\bigr)\Bigr).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from .._validation import (
    as_float_array,
    as_rng,
    check_positive_int,
    check_same_dtype,
    working_dtype,
)
from .base import Layer
from .linear import Linear

__all__ = ["GELU", "FeedForward", "gelu", "gelu_backward"]

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
CUBIC = 0.044715

# Beyond |x| = 10 the argument of tanh exceeds 43, where tanh is exactly +-1 in every float
# dtype (1 - tanh(u) ~ 2 exp(-2u) < 1e-37): gelu(x) is then exactly x or 0, its derivative
# exactly 1 or 0. Clipping there gives the same results bit for bit, without x**3 overflowing
# (float32 near 7e12) and without inf * 0 = NaN in the derivative.
SATURATION = 10.0


def _tanh_term(x: np.ndarray) -> np.ndarray:
    r""":math:`t = \tanh(\sqrt{2/\pi}\,(x + 0.044715\,x^3))`, elementwise, in the dtype of ``x``.

    Written as :math:`\tanh u = 1 - 2 / (e^{2u} + 1)`, in place on one buffer: on this kind of
    machine ``np.tanh`` takes three times as long as ``np.exp``, and ``x**3`` (a call to
    ``pow``) thirty times as long as ``x * x * x``. The two agree to a few units in the last
    place of ``1 + t``, which is all that gelu and its derivative use. After the clip,
    :math:`2u \le 88`, where :math:`e^{2u}` is still finite in float32.
    """
    clipped = np.clip(x, -SATURATION, SATURATION)
    u = clipped * clipped  # the buffer, reused by every step below
    u *= CUBIC
    u += 1.0
    u *= clipped
    u *= 2.0 * SQRT_2_OVER_PI  # 2u = 2 sqrt(2/pi) (x + 0.044715 x^3)
    np.exp(u, out=u)
    u += 1.0
    np.divide(-2.0, u, out=u)
    u += 1.0  # tanh(u)
    return u


def gelu_unchecked(x: np.ndarray, t: np.ndarray | None = None) -> np.ndarray:
    """:func:`gelu` without input checks, for callers that already validated ``x``.

    ``t`` is :func:`_tanh_term` of ``x``, if the caller has it already.
    """
    t = _tanh_term(x) if t is None else t
    out = 0.5 * x  # (0.5 * x) first: x * 2 could overflow
    out *= 1.0 + t
    return out


def gelu_derivative_unchecked(x: np.ndarray, t: np.ndarray | None = None) -> np.ndarray:
    r"""The derivative of :func:`gelu` at ``x``, without input checks.

    .. math:: \operatorname{gelu}'(x) = \tfrac12 (1 + t) + \tfrac12\, x\, (1 - t^2)\,
              \sqrt{2/\pi}\, (1 + 3 \cdot 0.044715\, x^2), \qquad t = \tanh(\dots)

    ``t`` is :func:`_tanh_term` of ``x``, if the caller kept it from the forward pass.
    """
    t = _tanh_term(x) if t is None else t
    # Where |x| > SATURATION, t = +-1 exactly and the second term is 0: the clipped x gives it
    # without computing inf * 0.
    clipped = np.clip(x, -SATURATION, SATURATION)
    slope = clipped * clipped
    slope *= 3.0 * CUBIC
    slope += 1.0
    slope *= SQRT_2_OVER_PI  # d(inner)/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2)
    slope *= 1.0 - t * t
    slope *= clipped
    slope += 1.0 + t
    slope *= 0.5
    return slope


def gelu(x: npt.ArrayLike) -> np.ndarray:
    r"""The GELU activation, tanh approximation (GPT-2), elementwise.

    .. math:: \operatorname{gelu}(x) = \tfrac12\, x\, \Bigl(1 + \tanh\bigl(\sqrt{2/\pi}\,
              (x + 0.044715\, x^3)\bigr)\Bigr)

    As ``torch.nn.functional.gelu(x, approximate="tanh")``. Close to :math:`x` for large
    positive :math:`x` and to 0 for large negative :math:`x`; beyond :math:`|x| = 10` exactly
    so, and without overflow however large :math:`|x|` is.

    Parameters
    ----------
    x : array_like
        Real numbers, finite, any shape (integers become float64).

    Returns
    -------
    ndarray
        Same shape and dtype as ``x`` (float16 is computed in float32 and cast back).

    Raises
    ------
    TypeError
        If ``x`` is boolean, complex or not numeric.
    ValueError
        If ``x`` contains NaN or inf.

    See Also
    --------
    gelu_backward : its gradient.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention.layers.feedforward import gelu
    >>> gelu([-3.0, -1.0, 0.0, 1.0, 3.0])
    array([-0.00363739, -0.15880801,  0.        ,  0.84119199,  2.99636261])
    >>> gelu(np.array([-1e30, 1e30], dtype=np.float32))
    array([-0.e+00,  1.e+30], dtype=float32)
    """
    arr = as_float_array(x, "x")
    out = gelu_unchecked(arr.astype(working_dtype(arr.dtype), copy=False))
    # |gelu(x)| <= |x|: the cast back to float16 cannot overflow.
    return out.astype(arr.dtype, copy=False)


def gelu_backward(x: npt.ArrayLike, grad: npt.ArrayLike) -> np.ndarray:
    r"""Gradient of a loss through :func:`gelu`: ``grad`` times the derivative at ``x``.

    .. math:: \frac{\partial \mathcal{L}}{\partial x} = g \odot \Bigl(\tfrac12 (1 + t)
              + \tfrac12\, x\, (1 - t^2)\, \sqrt{2/\pi}\, (1 + 3 \cdot 0.044715\, x^2)\Bigr),
              \qquad t = \tanh\bigl(\sqrt{2/\pi}\, (x + 0.044715\, x^3)\bigr)

    Parameters
    ----------
    x : array_like
        The input of :func:`gelu` (not its output: GELU cannot be inverted).
    grad : array_like
        Upstream gradient :math:`g = \partial \mathcal{L} / \partial \operatorname{gelu}(x)`, same
        shape and dtype as ``x``.

    Returns
    -------
    ndarray
        Gradient with respect to ``x``, same shape and dtype as ``x`` (float16 is computed in
        float32).

    Raises
    ------
    ValueError
        If the shapes differ, or either input holds NaN or inf.
    TypeError
        If either input is boolean, complex or not numeric, or the dtypes differ.
    FloatingPointError
        If the gradient overflows the dtype (the derivative lies in [-0.13, 1.13], so a ``grad``
        near the largest float16 can).

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention.layers.feedforward import gelu_backward
    >>> gelu_backward([-20.0, 0.0, 1.0, 20.0], [1.0, 1.0, 1.0, 1.0])
    array([0.        , 0.5       , 1.08296408, 1.        ])
    """
    x_arr = as_float_array(x, "x")
    g = as_float_array(grad, "grad")
    if x_arr.shape != g.shape:
        raise ValueError(
            f"x has shape {x_arr.shape} but grad has shape {g.shape}; they must match"
        )
    dtype = check_same_dtype(x=x_arr, grad=g)
    work = working_dtype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        out = (
            g.astype(work, copy=False) * gelu_derivative_unchecked(x_arr.astype(work, copy=False))
        ).astype(dtype, copy=False)
    return _finite_gradient(out)


def _finite_gradient(grad: np.ndarray) -> np.ndarray:
    """``grad`` itself, or ``FloatingPointError`` if it overflowed."""
    if not np.isfinite(grad).all():
        raise FloatingPointError(
            f"the gradient through gelu overflowed {grad.dtype}; use smaller gradients or a "
            "wider dtype"
        )
    return grad


class GELU(Layer):
    """:func:`gelu` as a layer without parameters, for use inside :class:`FeedForward`.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention.layers.feedforward import GELU
    >>> activation = GELU()
    >>> activation(np.array([[-1.0, 0.0, 1.0]]))
    array([[-0.15880801,  0.        ,  0.84119199]])
    >>> activation.backward(np.ones((1, 3)))
    array([[-0.08296408,  0.5       ,  1.08296408]])
    """

    def __repr__(self) -> str:
        return "GELU()"

    def __call__(self, x: npt.ArrayLike) -> np.ndarray:
        """Apply :func:`gelu` to ``x`` (any shape); the result has its shape and dtype."""
        arr = as_float_array(x, "x")
        # A private copy: the caller may refill its buffer before the backward pass.
        xw = arr.astype(working_dtype(arr.dtype))
        t = _tanh_term(xw)  # kept: the derivative needs it too
        out = gelu_unchecked(xw, t).astype(arr.dtype, copy=False)
        self._cache = {"x": xw, "t": t, "dtype": arr.dtype}
        return out

    def backward(self, grad_out: npt.ArrayLike) -> np.ndarray:
        """Return ``grad_out`` times the derivative of gelu at the last input.

        Raises ``FloatingPointError`` if the result overflows the dtype of the last input.
        """
        saved = self._saved()
        x = saved["x"]
        g = self._grad_out(grad_out, x.shape).astype(x.dtype, copy=False)
        with np.errstate(over="ignore", invalid="ignore"):
            grad = g * gelu_derivative_unchecked(x, saved["t"])
        return self._finite(grad, "the gradient of x", saved["dtype"])


class FeedForward(Layer):
    r"""The position-wise feed-forward layer of a transformer block.

    .. math:: \operatorname{ffn}(x) = \operatorname{gelu}(x W_\text{up} + b_\text{up})\,
              W_\text{down} + b_\text{down}

    applied to each position of each sequence alone, with the same weights.

    Parameters
    ----------
    d_model : int
        Size of the input and output vectors.
    d_hidden : int, optional
        Size of the hidden layer; ``4 * d_model`` by default, as in GPT-2.
    rng : None, int or numpy.random.Generator, optional
        Source of randomness for the two weight matrices (initialised as in
        :class:`~simple_attention.Linear`; the biases start at zero).

    Attributes
    ----------
    up : Linear
        ``d_model -> d_hidden``.
    activation : GELU
    down : Linear
        ``d_hidden -> d_model``.
    params, grads : dict of str to ndarray
        ``"up.W"``, ``"up.b"``, ``"down.W"``, ``"down.b"`` and their gradients after
        :meth:`backward`.

    Raises
    ------
    TypeError
        If ``d_model`` or ``d_hidden`` is not an integer, or ``rng`` is not None, an int or a
        Generator.
    ValueError
        If ``d_model`` or ``d_hidden`` is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention.layers.feedforward import FeedForward
    >>> ffn = FeedForward(4, rng=0)
    >>> ffn
    FeedForward(d_model=4, d_hidden=16)
    >>> x = np.random.default_rng(1).standard_normal((2, 3, 4))  # (batch, n_tokens, d_model)
    >>> ffn(x).shape
    (2, 3, 4)
    >>> ffn.backward(np.ones((2, 3, 4))).shape
    (2, 3, 4)
    >>> {name: g.shape for name, g in ffn.grads.items()}
    {'up.W': (4, 16), 'up.b': (16,), 'down.W': (16, 4), 'down.b': (4,)}
    """

    def __init__(
        self,
        d_model: int,
        *,
        d_hidden: int | None = None,
        rng: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.d_model = check_positive_int(d_model, "d_model")
        self.d_hidden = (
            4 * self.d_model if d_hidden is None else check_positive_int(d_hidden, "d_hidden")
        )
        generator = as_rng(rng)  # one generator for both layers: different weights
        self.up = Linear(self.d_model, self.d_hidden, rng=generator)
        self.activation = GELU()
        self.down = Linear(self.d_hidden, self.d_model, rng=generator)

    def __repr__(self) -> str:
        return f"FeedForward(d_model={self.d_model}, d_hidden={self.d_hidden})"

    def __call__(self, x: npt.ArrayLike) -> np.ndarray:
        """Map ``x`` of shape ``(..., d_model)`` to the same shape, in the dtype of ``x``.

        Raises
        ------
        ValueError
            If ``x`` is not ``(..., d_model)``, or ``x`` or a parameter (named) holds NaN or inf.
        TypeError
            If ``x`` is not real floating-point or integer.
        FloatingPointError
            If a linear map overflows the dtype of ``x``.
        """
        x_arr = as_float_array(x, "x")
        if x_arr.ndim < 1 or x_arr.shape[-1] != self.d_model:
            raise ValueError(f"x must have shape (..., {self.d_model}), got {x_arr.shape}")
        hidden = self.up(x_arr)  # (..., d_hidden)
        activated = self.activation(hidden)  # (..., d_hidden)
        return self.down(activated)  # (..., d_model)

    def backward(self, grad_out: npt.ArrayLike) -> np.ndarray:
        """Return dL/dx and fill ``grads``: the chain of the forward pass, last step first.

        Raises
        ------
        RuntimeError
            If the layer has not been called yet, or its last call raised, or a sub-layer has
            been called on its own since.
        ValueError
            If ``grad_out`` does not have the shape of the last output, or holds NaN or inf.
        TypeError
            If ``grad_out`` is not real (complex gradients are refused).
        FloatingPointError
            If a gradient overflows its dtype.
        """
        self._saved()  # raises if the last call failed, or a sub-layer was called on its own
        grad_activated = self.down.backward(grad_out)  # (..., d_hidden)
        grad_hidden = self.activation.backward(grad_activated)  # (..., d_hidden)
        return self.up.backward(grad_hidden)  # (..., d_model)
