r"""Dropout: switching random entries off while training, so that no single path is relied on.

In attention, dropout acts on the attention *weights*: each weight is kept with probability
:math:`1 - p` and set to zero otherwise, and the kept weights are divided by :math:`1 - p`
("inverted dropout"). The division keeps the *expected* value of every weight unchanged, so
nothing needs rescaling at evaluation time, when dropout does nothing at all.

One consequence surprises many readers: in training mode the rows of the attention weights no
longer sum to 1. A row sums to 1 only on average; any one draw can give more or less.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .._validation import as_float_array, as_rng, check_real, working_dtype
from .base import Layer

__all__ = ["Dropout"]


def check_probability(p: Any, name: str = "p") -> float:
    """Return ``p`` as a Python float in ``[0, 1)``, or raise naming the argument.

    ``1`` is refused: dropping everything would divide by :math:`1 - p = 0`.

    Examples
    --------
    >>> from simple_attention.layers.dropout import check_probability
    >>> check_probability(0.25)
    0.25
    >>> check_probability(1.0)
    Traceback (most recent call last):
        ...
    ValueError: p must lie in [0, 1), got 1.0
    """
    return check_real(p, name, low=0.0, high=1.0, high_open=True)


class Dropout(Layer):
    r"""Inverted dropout: zero each entry with probability ``p``, scale the rest by ``1/(1-p)``.

    .. math:: \operatorname{dropout}(w)_{ij} = \frac{m_{ij}}{1 - p}\, w_{ij},
              \qquad m_{ij} \sim \operatorname{Bernoulli}(1 - p)\ \text{independently.}

    In training mode (the default, as in PyTorch) every call draws a new mask :math:`m`; in
    evaluation mode (after :meth:`~simple_attention.Layer.eval`) the layer is the identity. Applied
    to attention
    weights, the rows of the result no longer sum to 1 in training mode: each kept weight is
    enlarged and each dropped one is lost, so a row sums to 1 only on average over the draws.

    Parameters
    ----------
    p : float, default 0.1
        The probability of dropping an entry, in ``[0, 1)``. ``p = 0`` keeps everything.
    rng : None, int or numpy.random.Generator, optional
        Source of the random masks; the same seed gives the same sequence of masks.

    Attributes
    ----------
    p : float
        The drop probability.
    training : bool
        ``True`` in training mode, ``False`` in evaluation mode.
    rng : numpy.random.Generator
        The generator the masks are drawn from.

    Raises
    ------
    TypeError
        If ``p`` is not a real number.
    ValueError
        If ``p`` lies outside ``[0, 1)``.

    Notes
    -----
    The scale :math:`1/(1-p)` is applied in float32 for float16 input (for ``p`` close to 1 it
    is beyond float16 itself). A call whose scaled result is beyond the range of the dtype
    (``p = 0.99999`` on float16 weights near 1, for instance) raises ``FloatingPointError``
    and changes nothing: neither the saved state nor the random generator moves on.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import Dropout
    >>> dropout = Dropout(p=0.5, rng=0)
    >>> weights = np.array([[0.25, 0.25, 0.5], [0.1, 0.6, 0.3]])
    >>> dropout(weights)  # kept weights doubled, dropped ones zero
    array([[0.5, 0. , 0. ],
           [0. , 1.2, 0.6]])
    >>> dropout(weights).sum(axis=-1)  # a new draw; the rows no longer sum to 1
    array([2. , 1.4])

    The backward pass lets the gradient through where the entry was kept, scaled the same way:

    >>> dropout.backward(np.ones((2, 3)))
    array([[2., 2., 2.],
           [2., 2., 0.]])

    In evaluation mode nothing is dropped:

    >>> dropout.eval()
    Dropout(p=0.5, training=False)
    >>> dropout(weights)
    array([[0.25, 0.25, 0.5 ],
           [0.1 , 0.6 , 0.3 ]])
    """

    def __init__(self, p: float = 0.1, *, rng: int | np.random.Generator | None = None) -> None:
        super().__init__()
        self.p = check_probability(p, "p")
        self.rng = as_rng(rng)

    def __repr__(self) -> str:
        return f"Dropout(p={self.p}, training={self.training})"

    @property
    def active(self) -> bool:
        """Whether a call drops anything: in training mode with ``p > 0``."""
        return self.training and self.p > 0

    def __call__(self, x: npt.ArrayLike) -> np.ndarray:
        """Drop entries of ``x`` (any shape) in training mode; return ``x`` unchanged otherwise.

        The result has the shape and dtype of ``x``. Raises ``FloatingPointError``, with
        nothing changed, if a kept entry scaled by :math:`1/(1-p)` is beyond the dtype.
        """
        arr = as_float_array(x, "x")
        if not self.active:
            self._cache = {"factor": None, "shape": arr.shape}
            return arr
        state = self.rng.bit_generator.state  # restored if the call fails
        keep = self.rng.random(arr.shape) >= self.p
        # A Python float keeps float32 input in float32; float16 could not hold 1 / (1 - p).
        factor = keep.astype(working_dtype(arr.dtype)) * (1.0 / (1.0 - self.p))
        try:
            out = _scale(arr, factor)
        except FloatingPointError:
            self.rng.bit_generator.state = state
            raise FloatingPointError(
                f"dropout with p={self.p} scales the kept entries by {1.0 / (1.0 - self.p):.6g}, "
                f"which takes some of x beyond the range of {arr.dtype}; use a smaller p or a "
                "wider dtype"
            ) from None
        self._cache = {"factor": factor, "shape": arr.shape}
        return out

    def backward(self, grad_out: npt.ArrayLike) -> np.ndarray:
        """Gradient through the last call: ``grad_out`` times the same mask and scale.

        Raises ``FloatingPointError`` if a scaled gradient is beyond the range of its dtype.
        """
        saved = self._saved()
        g = self._grad_out(grad_out, saved["shape"])
        factor = saved["factor"]
        if factor is None:
            return g
        try:
            return _scale(g, factor.astype(working_dtype(g.dtype), copy=False))
        except FloatingPointError:
            raise FloatingPointError(
                f"dropout's scale {1.0 / (1.0 - self.p):.6g} takes some of grad_out beyond the "
                f"range of {g.dtype}; use a smaller p or a wider dtype"
            ) from None


def _scale(x: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """``x * factor`` in the dtype of ``x``; ``FloatingPointError`` if it overflows.

    The overflow flag of the multiplication (or of the cast back to float16) is free to read,
    unlike a pass over the result.
    """
    with np.errstate(over="raise"):
        return (x * factor).astype(x.dtype, copy=False)
