r"""Positional information: telling attention *where* each token stands.

Attention on its own is blind to order: permute the inputs and the outputs are permuted the
same way. A task such as "reverse the sequence" depends on positions, so the model adds a vector
that depends only on the position to each token's vector. Two classic choices:

* :class:`PositionalEmbedding` learns one vector per position, like a token embedding table
  indexed by position;
* :func:`sinusoidal_positions` uses fixed sines and cosines of geometrically spaced frequencies,
  which need no training.

A third choice adds nothing to the tokens: :func:`rotary_embedding` (rotary position embeddings,
RoPE) rotates each pair of features of the queries and keys by an angle proportional to the
position, so that the score of a query and a key depends on their positions only through the
difference of the two. :func:`rotary_embedding_backward` is its backward pass, the rotation by
the opposite angle.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .._validation import as_float_array, as_rng, check_positive_int, check_real, working_dtype
from ..layers.base import Layer

__all__ = [
    "PositionalEmbedding",
    "rotary_embedding",
    "rotary_embedding_backward",
    "rotary_frequencies",
    "sinusoidal_positions",
]


def sinusoidal_positions(n_positions: int, dim: int, *, base: float = 10000.0) -> np.ndarray:
    r"""Fixed position vectors made of sines and cosines.

    Position :math:`p` gets, for :math:`f = 0, 1, \dots, \lceil d/2 \rceil - 1`,

    .. math:: P_{p,\,2f} = \sin\bigl(p\,\theta_f\bigr), \qquad
              P_{p,\,2f+1} = \cos\bigl(p\,\theta_f\bigr), \qquad
              \theta_f = \text{base}^{-2f/d}.

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


# --- rotary position embeddings -----------------------------------------------------------------


def rotary_frequencies(d_k: int, *, base: float = 10000.0) -> np.ndarray:
    r"""The angle by which each pair of features turns per position, ``base ** (-2f / d_k)``.

    .. math:: \theta_f = \text{base}^{-2f/d_k}, \qquad f = 0, 1, \dots, d_k/2 - 1,

    for the pair of features :math:`2f` and :math:`2f + 1`: the first pair turns by one radian
    per position, the last by nearly nothing. These are the frequencies of
    :func:`sinusoidal_positions` with ``dim = d_k``.

    Parameters
    ----------
    d_k : int
        Number of features of each query and key; even and ``>= 0``.
    base : float, default 10000.0
        Sets the slowest frequency; a finite number greater than 1.

    Returns
    -------
    ndarray of float64, shape (d_k // 2,)

    Raises
    ------
    ValueError
        If ``d_k`` is negative or odd, or ``base`` is not a finite number greater than 1.
    TypeError
        If ``d_k`` is not an integer or ``base`` is not a real number.

    Examples
    --------
    >>> from simple_attention import rotary_frequencies
    >>> rotary_frequencies(6, base=1000.0)
    array([1. , 0.1, 0.01])
    """
    d_k = check_positive_int(d_k, "d_k", allow_zero=True)
    if d_k % 2:
        raise ValueError(f"d_k must be even (the features are rotated in pairs), got {d_k}")
    base = check_real(base, "base", low=1.0, low_open=True)
    return np.asarray(base ** (-np.arange(0, d_k, 2) / d_k), dtype=np.float64)


def rotary_angles(positions: np.ndarray, d_k: int, base: float) -> np.ndarray:
    """The angles ``positions[:, None] * theta``, shape ``(n, d_k // 2)``, in float64.

    For callers that have checked their arguments (the attention layers).
    """
    return positions[:, None] * rotary_frequencies(d_k, base=base)


def rotate_pairs(x: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Rotate the feature pairs ``(2f, 2f + 1)`` of ``x`` ``(..., n, d_k)`` by ``angles``.

    ``angles`` has shape ``(n, d_k // 2)``. A new array of the dtype of ``x`` (float16 is
    computed in float32); no checks: for callers that have checked their arguments.
    """
    work = working_dtype(x.dtype)
    cos = np.cos(angles).astype(work)
    sin = np.sin(angles).astype(work)
    even = x[..., 0::2].astype(work, copy=False)
    odd = x[..., 1::2].astype(work, copy=False)
    out = np.empty(x.shape, dtype=work)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out.astype(x.dtype, copy=False)


def _check_rotary(
    x: npt.ArrayLike, positions: npt.ArrayLike | None, base: float, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """``x`` as a checked float array and the angles of its rows, or raise naming the argument."""
    x_arr = as_float_array(x, name)
    if x_arr.ndim < 2:
        raise ValueError(f"{name} must have shape (..., n, d_k), got {x_arr.shape}")
    n, d_k = x_arr.shape[-2:]
    if d_k % 2:
        raise ValueError(
            f"{name} must have an even number of features d_k (they are rotated in pairs), "
            f"got shape {x_arr.shape}"
        )
    base = check_real(base, "base", low=1.0, low_open=True)
    if positions is None:
        pos = np.arange(n)
    else:
        pos = np.asarray(positions)
        if pos.dtype == np.bool_ or not np.issubdtype(pos.dtype, np.integer):
            raise TypeError(f"positions must hold integers, got dtype {pos.dtype}")
        if pos.shape != (n,):
            raise ValueError(
                f"positions must have shape ({n},), one per row of {name} {x_arr.shape}, "
                f"got {pos.shape}"
            )
        if (pos < 0).any():
            raise ValueError(f"positions must be non-negative, got {int(pos.min())}")
    return x_arr, rotary_angles(pos.astype(np.float64), d_k, base)


def rotary_embedding(
    x: npt.ArrayLike, positions: npt.ArrayLike | None = None, *, base: float = 10000.0
) -> np.ndarray:
    r"""Rotary position embedding (RoPE): rotate each pair of features by position times frequency.

    Row :math:`p` of ``x`` (a query or a key at position :math:`p`) has its features paired,
    :math:`(x_{2f}, x_{2f+1})` for :math:`f = 0, \dots, d_k/2 - 1`, and each pair is turned by
    the angle :math:`p\,\theta_f`, with :math:`\theta_f = \text{base}^{-2f/d_k}`
    (:func:`rotary_frequencies`):

    .. math:: \begin{pmatrix} y_{2f} \\ y_{2f+1} \end{pmatrix} =
              \begin{pmatrix} \cos p\theta_f & -\sin p\theta_f \\
                              \sin p\theta_f & \cos p\theta_f \end{pmatrix}
              \begin{pmatrix} x_{2f} \\ x_{2f+1} \end{pmatrix}.

    Written :math:`y = R_p\,x`: since :math:`R_i^\top R_j = R_{j-i}`, the score of a rotated
    query at position :math:`i` and a rotated key at position :math:`j` is
    :math:`(R_i q)^\top (R_j k) = q^\top R_{j-i}\, k`, which depends on the two positions only
    through :math:`j - i`. Lengths are kept: a rotation changes no vector's norm.

    Parameters
    ----------
    x : array_like, shape (..., n, d_k)
        Queries or keys, one row per position; ``d_k`` must be even. Leading axes (batch,
        heads) share the positions.
    positions : array_like of int, shape (n,), optional
        The position of each row, ``>= 0``; ``None`` (the default) means ``0, 1, ..., n - 1``.
        When decoding with a cache, the new rows sit at ``len(cache)`` and after.
    base : float, default 10000.0
        Sets the slowest frequency; a finite number greater than 1.

    Returns
    -------
    ndarray, shape (..., n, d_k)
        The rotated rows, a new array of the dtype of ``x`` (integers give float64; float16
        is computed in float32).

    Raises
    ------
    ValueError
        If ``x`` is not ``(..., n, d_k)`` with an even ``d_k``, or holds NaN or inf;
        ``positions`` is not of shape ``(n,)`` or holds a negative number; ``base`` is not a
        finite number greater than 1.
    TypeError
        If ``x`` is not real, ``positions`` are not integers, or ``base`` is not a number.

    See Also
    --------
    rotary_embedding_backward : the gradient, the rotation by the opposite angle.
    simple_attention.MultiHeadAttention : ``rotary=True`` applies this to its queries and keys.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import rotary_embedding
    >>> rotary_embedding(np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])).round(4)
    array([[ 1.    ,  0.    ],
           [ 0.5403,  0.8415],
           [-0.4161,  0.9093]])

    The score of a query and a key depends only on how far apart they are: the same two
    vectors at positions 2 and 5, or 10 and 13, give the same dot product.

    >>> rng = np.random.default_rng(0)
    >>> q, k = rng.standard_normal((2, 1, 8))
    >>> def score(i, j):
    ...     return (rotary_embedding(q, [i]) @ rotary_embedding(k, [j]).T).item()
    >>> round(score(2, 5), 10) == round(score(10, 13), 10)
    True
    >>> bool(np.isclose(score(2, 5), score(2, 6)))
    False
    """
    x_arr, angles = _check_rotary(x, positions, base, "x")
    return rotate_pairs(x_arr, angles)


def rotary_embedding_backward(
    grad_out: npt.ArrayLike, positions: npt.ArrayLike | None = None, *, base: float = 10000.0
) -> np.ndarray:
    r"""The gradient through :func:`rotary_embedding`: the rotation by the opposite angle.

    With :math:`y = R_p\,x` for each row,
    :math:`\partial \mathcal{L}/\partial x = R_p^\top\, \partial \mathcal{L}/\partial y`, and the
    transpose of a rotation is the rotation by the opposite angle, :math:`R_p^\top = R_{-p}`.

    Parameters
    ----------
    grad_out : array_like, shape (..., n, d_k)
        :math:`\partial \mathcal{L}/\partial y`, the gradient of the rotated rows.
    positions : array_like of int, shape (n,), optional
        The positions of the forward call (``None``: ``0, ..., n - 1``).
    base : float, default 10000.0
        The base of the forward call.

    Returns
    -------
    ndarray, shape (..., n, d_k)
        :math:`\partial \mathcal{L}/\partial x`, in the dtype of ``grad_out``.

    Raises
    ------
    ValueError, TypeError
        As :func:`rotary_embedding`, naming ``grad_out``.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import rotary_embedding, rotary_embedding_backward
    >>> x = np.random.default_rng(0).standard_normal((4, 6))
    >>> back = rotary_embedding_backward(rotary_embedding(x))  # R^T R = I
    >>> bool(np.allclose(back, x, rtol=0, atol=1e-15))
    True
    """
    g, angles = _check_rotary(grad_out, positions, base, "grad_out")
    return rotate_pairs(g, -angles)
