"""Softmax: turning scores into weights that are positive and sum to one.

Two versions live here on purpose. :func:`naive_softmax` is the textbook formula, which overflows
for large scores; :func:`softmax` is the one the library uses: stable for any finite input, and
safe for rows that are entirely masked (``-inf``), which give zeros instead of NaN.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numpy.lib.array_utils import normalize_axis_index

from ._validation import as_float_array, working_dtype

__all__ = ["naive_softmax", "softmax", "softmax_backward"]


def naive_softmax(x: npt.ArrayLike, axis: int = -1) -> np.ndarray:
    r"""The textbook softmax :math:`e^{x_i} / \sum_j e^{x_j}`, without any safeguard.

    Kept to show *why* :func:`softmax` subtracts the maximum first: ``exp`` overflows to ``inf``
    for inputs above about 709 in float64 (88 in float32), and ``inf / inf`` is NaN.

    Parameters
    ----------
    x : array_like
        The scores.
    axis : int, default -1
        The axis along which the result sums to one.

    Returns
    -------
    ndarray
        Same shape as ``x``; NaN where the exponential overflowed.

    See Also
    --------
    softmax : the safe version.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import naive_softmax
    >>> naive_softmax([1.0, 2.0, 3.0])
    array([0.09003057, 0.24472847, 0.66524096])
    >>> with np.errstate(over="ignore", invalid="ignore"):
    ...     naive_softmax([1000.0, 2.0, 3.0])  # exp(1000) is inf in float64
    array([nan,  0.,  0.])
    """
    x = np.asarray(x)
    if x.dtype.kind in "biu":
        x = x.astype(np.float64)
    exps = np.exp(x)
    return exps / exps.sum(axis=axis, keepdims=True)


def softmax(x: npt.ArrayLike, axis: int = -1) -> np.ndarray:
    r"""Numerically stable, mask-safe softmax along ``axis``.

    .. math:: \operatorname{softmax}(x)_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}},
              \qquad m = \max_j x_j

    Subtracting the maximum changes nothing mathematically but keeps every exponent
    :math:`\le 0`, so nothing overflows. ``-inf`` entries mean "blocked" and get weight 0. A
    slice that is *entirely* ``-inf`` has nothing to attend to: its result is all zeros (it does
    not sum to 1), never NaN.

    Parameters
    ----------
    x : array_like
        Scores, at least 1-D. ``-inf`` is allowed; NaN and ``+inf`` raise ``ValueError``.
        Integers are converted to float64.
    axis : int, default -1
        The axis along which the result sums to one.

    Returns
    -------
    ndarray
        Same shape and dtype as ``x`` (float16 is computed in float32 and cast back).

    Raises
    ------
    ValueError
        If ``x`` is 0-d or contains NaN or ``+inf``.
    TypeError
        If ``x`` is boolean or complex.
    numpy.exceptions.AxisError
        If ``axis`` is out of range.

    See Also
    --------
    naive_softmax : the unsafe textbook version.
    softmax_backward : its gradient.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import softmax
    >>> softmax([1.0, 2.0, 3.0])
    array([0.09003057, 0.24472847, 0.66524096])

    Large inputs are no problem, and ``-inf`` blocks an entry:

    >>> softmax([1000.0, 2.0, 3.0])
    array([1., 0., 0.])
    >>> softmax([[0.0, 0.0, -np.inf], [-np.inf, -np.inf, -np.inf]])
    array([[0.5, 0.5, 0. ],
           [0. , 0. , 0. ]])
    """
    x = as_float_array(x, "x", allow_neg_inf=True)
    if x.ndim == 0:
        raise ValueError("x must be at least 1-D for softmax, got a 0-d array")
    axis = normalize_axis_index(axis, x.ndim)
    # A contiguous copy makes views, transposes and Fortran order sum in the same order as a
    # C-ordered array, so every layout gives bit-identical results.
    work = np.ascontiguousarray(x, dtype=working_dtype(x.dtype))
    return stable_softmax(work, axis).astype(x.dtype, copy=False)


def stable_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax without input checks, for callers that already validated ``x``."""
    if x.shape[axis] == 0:
        return np.empty_like(x)
    row_max = x.max(axis=axis, keepdims=True)
    # A fully blocked row has max -inf, and -inf - (-inf) is NaN: shift such rows by 0 instead,
    # *before* the exponential, so that neither the values nor the gradients ever see a NaN.
    row_max[np.isneginf(row_max)] = 0
    out = np.exp(x - row_max)
    total = out.sum(axis=axis, keepdims=True)
    total[total == 0] = 1  # all-zero rows stay zero
    out /= total
    return out


def softmax_backward(
    weights: npt.ArrayLike, grad_weights: npt.ArrayLike, axis: int = -1
) -> np.ndarray:
    r"""Gradient of a loss through softmax, given the softmax output.

    With :math:`w = \operatorname{softmax}(s)` and upstream gradient :math:`g = \partial L /
    \partial w`, the Jacobian :math:`\partial w_i / \partial s_j = w_i(\delta_{ij} - w_j)` gives

    .. math:: \frac{\partial L}{\partial s_j} = w_j \Bigl(g_j - \sum_i g_i w_i\Bigr).

    Rows of ``weights`` that are all zero (fully masked) get a zero gradient.

    Parameters
    ----------
    weights : array_like
        The output of :func:`softmax`.
    grad_weights : array_like
        Upstream gradient, same shape as ``weights``.
    axis : int, default -1
        The softmax axis.

    Returns
    -------
    ndarray
        Gradient with respect to the softmax input, same shape as ``weights``.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import softmax, softmax_backward
    >>> w = softmax([1.0, 2.0, 3.0])
    >>> softmax_backward(w, [1.0, 0.0, 0.0])
    array([ 0.08192507, -0.02203304, -0.05989202])

    A constant upstream gradient gives zero, since the weights always sum to one:

    >>> np.abs(softmax_backward(w, [5.0, 5.0, 5.0])).max() < 1e-15
    np.True_
    """
    w = as_float_array(weights, "weights")
    g = as_float_array(grad_weights, "grad_weights")
    if w.shape != g.shape:
        raise ValueError(
            f"weights has shape {w.shape} but grad_weights has shape {g.shape}; they must match"
        )
    axis = normalize_axis_index(axis, w.ndim)
    return w * (g - (g * w).sum(axis=axis, keepdims=True))
