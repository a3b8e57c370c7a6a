r"""Positional information: telling attention *where* each token stands.

Attention on its own is blind to order: permute the inputs and the outputs are permuted the
same way. A task such as "reverse the sequence" depends on positions, so the model adds a vector
that depends only on the position to each token's vector. Two classic choices:

* :class:`PositionalEmbedding` learns one vector per position, like a token embedding table
  indexed by position;
* :func:`sinusoidal_positions` uses fixed sines and cosines of geometrically spaced frequencies,
  which need no training.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .._validation import as_float_array, as_rng, check_positive_int, check_real
from ..layers.base import Layer

__all__ = ["PositionalEmbedding", "sinusoidal_positions"]


def sinusoidal_positions(n_positions: int, dim: int, *, base: float = 10000.0) -> np.ndarray:
    r"""Fixed position vectors made of sines and cosines.

    Position :math:`p` gets, for :math:`i = 0, 1, \dots, \lceil d/2 \rceil - 1`,

    .. math:: P_{p,\,2i} = \sin\bigl(p\,\omega_i\bigr), \qquad
              P_{p,\,2i+1} = \cos\bigl(p\,\omega_i\bigr), \qquad
              \omega_i = \text{base}^{-2i/d}.

    Each pair of columns turns at its own speed, from one radian per position down to nearly
    nothing, so every position gets a distinct vector, and moving by a fixed offset is the same
    rotation wherever it starts.

    Parameters
    ----------
    n_positions : int
        Number of positions (rows), ``>= 0``.
    dim : int
        Size of each vector, ``>= 1``; an odd size drops the last cosine.
    base : float, default 10000.0
        Sets the slowest frequency; must be greater than 1 (and finite), so that the
        frequencies fall from one radian per position. ``base = 1`` would give every pair of
        columns the same frequency, a base below 1 frequencies above one radian per position
        (positions that alias one another), and a base of 0 or below NaN.

    Returns
    -------
    ndarray of float64, shape (n_positions, dim)

    Raises
    ------
    ValueError
        If ``n_positions`` is negative, ``dim`` is not positive, or ``base`` is not a finite
        number greater than 1.
    TypeError
        If a size is not an integer or ``base`` is not a real number.

    Examples
    --------
    >>> from simple_attention import sinusoidal_positions
    >>> sinusoidal_positions(3, 4).round(4)
    array([[0.    , 1.    , 0.    , 1.    ],
           [0.8415, 0.5403, 0.01  , 1.    ],
           [0.9093, -0.4161, 0.02  , 0.9998]])
    """
    n_positions = check_positive_int(n_positions, "n_positions", allow_zero=True)
    dim = check_positive_int(dim, "dim")
    base = check_real(base, "base", low=1.0, low_open=True)
    frequencies = base ** (-np.arange(0, dim, 2) / dim)
    angles = np.arange(n_positions)[:, None] * frequencies
    out = np.empty((n_positions, dim))
    out[:, 0::2] = np.sin(angles)
    out[:, 1::2] = np.cos(angles[:, : dim // 2])
    return out


class PositionalEmbedding(Layer):
    r"""Adds row ``p`` of a learned table (``weight``) to the vector at position ``p``.

    Parameters
    ----------
    max_len : int
        Longest sequence the layer accepts.
    dim : int
        Size of each vector.
    rng : None, int or numpy.random.Generator, optional
        Source of randomness for the initial table, drawn from a standard normal distribution
        (the same as :class:`~simple_attention.Embedding`, so that token and position
        contribute on the same scale).

    Attributes
    ----------
    weight : ndarray, shape (max_len, dim)
        Row ``p`` is added to the vector at position ``p``.
    params, grads : dict of str to ndarray
        ``{"weight": weight}`` and its gradient after :meth:`backward`.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import PositionalEmbedding
    >>> positions = PositionalEmbedding(max_len=6, dim=2, rng=0)
    >>> x = np.zeros((2, 3, 2))  # two sequences of three tokens
    >>> out = positions(x)
    >>> bool((out[0] == positions.weight[:3]).all())
    True

    The gradient of a position's vector sums over the sequences of the batch; positions past
    the sequence get none:

    >>> _ = positions.backward(np.ones((2, 3, 2)))
    >>> positions.grads["weight"]
    array([[2., 2.],
           [2., 2.],
           [2., 2.],
           [0., 0.],
           [0., 0.],
           [0., 0.]])
    """

    param_names = ("weight",)

    def __init__(
        self, max_len: int, dim: int, *, rng: int | np.random.Generator | None = None
    ) -> None:
        super().__init__()
        self.max_len = check_positive_int(max_len, "max_len")
        self.dim = check_positive_int(dim, "dim")
        self.weight = as_rng(rng).standard_normal((self.max_len, self.dim))

    def __repr__(self) -> str:
        return f"PositionalEmbedding(max_len={self.max_len}, dim={self.dim})"

    def __call__(self, x: npt.ArrayLike) -> np.ndarray:
        """Add the position vectors to ``x`` of shape ``(..., n, dim)``, ``n <= max_len``.

        The result has the dtype of ``x``; ``n = 0`` and empty batches are allowed.

        Raises
        ------
        ValueError
            If ``x`` is not ``(..., n, dim)`` with ``n <= max_len``, or ``x`` or :attr:`weight`
            holds NaN or inf.
        TypeError
            If ``x`` is not real floating-point or integer.
        FloatingPointError
            If the sum overflows the dtype of ``x``.
        """
        x_arr = as_float_array(x, "x")
        if x_arr.ndim < 2 or x_arr.shape[-1] != self.dim:
            raise ValueError(f"x must have shape (..., n, {self.dim}), got {x_arr.shape}")
        n = x_arr.shape[-2]
        if n > self.max_len:
            raise ValueError(f"x has {n} positions but the layer holds max_len={self.max_len}")
        self._check_params()
        with np.errstate(over="ignore", invalid="ignore"):
            out = x_arr + self.weight[:n].astype(x_arr.dtype, copy=False)
        self._finite(out, "the output")
        self._cache = {"shape": x_arr.shape, "dtype": x_arr.dtype}
        return out

    def backward(self, grad_out: npt.ArrayLike) -> np.ndarray:
        """Return dL/dx (a copy of ``grad_out``: addition passes it through); fill ``grads``.

        dL/dx has the dtype of the last input, the gradient of :attr:`weight` its dtype.

        Raises
        ------
        RuntimeError
            If the layer has not been called yet, or its last call raised.
        ValueError
            If ``grad_out`` does not have the shape of the last output, or holds NaN or inf.
        TypeError
            If ``grad_out`` is not real (complex gradients are refused).
        """
        saved = self._saved()
        g = self._grad_out(grad_out, saved["shape"])
        n = g.shape[-2]
        grad_x = self._finite(g.astype(saved["dtype"]), "the gradient of x")
        grad_weight = np.zeros_like(self.weight)
        # Summing over the leading axes, not reshaping to (-1, n, dim): -1 is ambiguous when
        # n = 0.
        batch_axes = tuple(range(g.ndim - 2))
        grad_weight[:n] = g.astype(self.weight.dtype, copy=False).sum(axis=batch_axes)
        self._store_grads({"weight": self._finite(grad_weight, "the gradient of weight")})
        return grad_x
