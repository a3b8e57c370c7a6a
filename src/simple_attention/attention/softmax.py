"""Softmax: turning scores into weights that are positive and sum to one.

Two versions live here on purpose. :func:`naive_softmax` is the textbook formula, which overflows
for large scores; :func:`softmax` is the one the library uses: stable for any finite input, and
safe for rows that are entirely masked (``-inf``), which give zeros instead of NaN.
:func:`log_softmax` gives the logarithm of the same weights without ever taking the logarithm
of a weight that rounded to zero.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.exceptions import AxisError

from .._validation import as_float_array, check_same_dtype, working_dtype

__all__ = [
    "log_softmax",
    "log_softmax_backward",
    "naive_softmax",
    "softmax",
    "softmax_backward",
]


def check_axis(axis: Any, ndim: int) -> int:
    """Return ``axis`` as a non-negative index into ``ndim`` dimensions, or raise.

    A non-integer raises ``TypeError`` and an index out of range ``numpy.exceptions.AxisError``
    (a ``ValueError``); both messages name ``axis``. Works on NumPy 1.26 as on 2.x.

    Examples
    --------
    >>> from simple_attention.attention.softmax import check_axis
    >>> check_axis(-1, 3)
    2
    >>> check_axis(1.0, 3)
    Traceback (most recent call last):
    ...
    TypeError: axis must be an integer or None, got 1.0
    """
    if type(axis) is not int:  # the common case skips the slower checks below
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise TypeError(f"axis must be an integer or None, got {axis!r}")
        axis = int(axis)
    if not -ndim <= axis < ndim:
        raise AxisError(axis, ndim)
    return axis % ndim


def _as_scores(x: npt.ArrayLike, axis: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """Validate softmax input: ``(x, contiguous working copy, axis)``, flattened if axis is None.

    A contiguous copy makes views, transposes and Fortran order sum in the same order as a
    C-ordered array, so every layout gives bit-identical results.
    """
    arr = as_float_array(x, "x", allow_neg_inf=True)
    if arr.ndim == 0:
        raise ValueError("x must be at least 1-D for softmax, got a 0-d array")
    work = np.ascontiguousarray(arr, dtype=working_dtype(arr.dtype))
    if axis is None:
        return arr, work.reshape(-1), 0
    return arr, work, check_axis(axis, arr.ndim)


def naive_softmax(x: npt.ArrayLike, axis: int | None = -1) -> np.ndarray:
    r"""The textbook softmax, exp(x) divided by the sum of exp(x), without any safeguard.

    Kept to show *why* :func:`softmax` subtracts the maximum first: ``exp`` overflows to ``inf``
    for inputs above about 709 in float64 (88 in float32), and ``inf / inf`` is NaN.

    Parameters
    ----------
    x : array_like
        The scores: real numbers, ``-inf`` allowed (integers become float64).
    axis : int or None, default -1
        The axis along which the result sums to one (``None``: all the entries).

    Returns
    -------
    ndarray
        Same shape as ``x``; NaN where the exponential overflowed.

    Raises
    ------
    TypeError
        If ``x`` is boolean, complex or not numeric, or ``axis`` is not an integer or None.
    ValueError
        If ``x`` contains NaN or ``+inf`` (the overflow it shows must come from finite input).

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
    x = as_float_array(x, "x", allow_neg_inf=True)
    exps = np.exp(x)
    return exps / exps.sum(axis=None if axis is None else check_axis(axis, x.ndim), keepdims=True)


def softmax(x: npt.ArrayLike, axis: int | None = -1) -> np.ndarray:
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
    axis : int or None, default -1
        The axis along which the result sums to one. ``None`` means all the entries at once
        (the flattened array), as in SciPy; the result keeps the shape of ``x``.

    Returns
    -------
    ndarray
        Same shape and dtype as ``x`` (float16 is computed in float32 and cast back).

    Raises
    ------
    ValueError
        If ``x`` is 0-d or contains NaN or ``+inf``.
    TypeError
        If ``x`` is boolean or complex, or ``axis`` is neither an integer nor None.
    numpy.exceptions.AxisError
        If ``axis`` is out of range (a subclass of ``ValueError``).

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

    ``axis=None`` normalises over every entry:

    >>> softmax([[0.0, 0.0], [0.0, 0.0]], axis=None)
    array([[0.25, 0.25],
           [0.25, 0.25]])
    """
    arr, work, axis = _as_scores(x, axis)
    return stable_softmax(work, axis).reshape(arr.shape).astype(arr.dtype, copy=False)


def stable_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax without input checks, for callers that already validated ``x``."""
    return stable_softmax_(x.copy(), axis)


def stable_softmax_(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """:func:`stable_softmax` in place: ``x`` becomes its softmax, and is returned."""
    if x.shape[axis] == 0:
        return x
    row_max = x.max(axis=axis, keepdims=True)
    # A fully blocked row has max -inf, and -inf - (-inf) is NaN: shift such rows by 0 instead,
    # *before* the exponential, so that neither the values nor the gradients ever see a NaN.
    row_max[np.isneginf(row_max)] = 0
    # x - max <= 0 can only overflow towards -inf (for a spread beyond the dtype's range), and
    # exp(-inf) = 0 is then the right weight: the warning would be a false alarm.
    with np.errstate(over="ignore"):
        np.subtract(x, row_max, out=x)
    np.exp(x, out=x)
    total = x.sum(axis=axis, keepdims=True)
    total[total == 0] = 1  # all-zero rows stay zero
    x /= total
    return x


def softmax_backward(
    weights: npt.ArrayLike, grad_weights: npt.ArrayLike, axis: int | None = -1
) -> np.ndarray:
    r"""Gradient of a loss through softmax, given the softmax output.

    With the weights :math:`a = \operatorname{softmax}(s)` and the upstream gradient
    :math:`g = \partial \mathcal{L} / \partial a`, the Jacobian
    :math:`\partial a_i / \partial s_j = a_i(\delta_{ij} - a_j)` gives

    .. math:: \frac{\partial \mathcal{L}}{\partial s_j} = a_j \Bigl(g_j - \sum_i g_i a_i\Bigr).

    Rows of ``weights`` that are all zero (fully masked) get a zero gradient.

    Parameters
    ----------
    weights : array_like
        The output of :func:`softmax`.
    grad_weights : array_like
        Upstream gradient, same shape and dtype as ``weights``.
    axis : int or None, default -1
        The softmax axis (``None``: the softmax ran over all the entries).

    Returns
    -------
    ndarray
        Gradient with respect to the softmax input, same shape and dtype as ``weights``
        (float16 is computed in float32).

    Raises
    ------
    ValueError
        If the shapes differ, or either input holds NaN or inf.
    TypeError
        If either input is boolean, complex or not numeric, the dtypes differ, or ``axis`` is
        neither an integer nor None.
    numpy.exceptions.AxisError
        If ``axis`` is out of range.
    FloatingPointError
        If the gradient overflows the dtype (only possible for weights that do not come from a
        softmax: for real softmax weights it is at most half the largest ``|g|``).

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import softmax, softmax_backward
    >>> w = softmax([1.0, 2.0, 3.0])
    >>> softmax_backward(w, [1.0, 0.0, 0.0])
    array([ 0.08192507, -0.02203304, -0.05989202])

    A constant upstream gradient gives zero, since the weights always sum to one:

    >>> bool(np.abs(softmax_backward(w, [5.0, 5.0, 5.0])).max() < 1e-15)
    True
    """
    w = as_float_array(weights, "weights")
    g = as_float_array(grad_weights, "grad_weights")
    if w.shape != g.shape:
        raise ValueError(
            f"weights has shape {w.shape} but grad_weights has shape {g.shape}; they must match"
        )
    dtype = check_same_dtype(weights=w, grad_weights=g)
    work = working_dtype(dtype)
    w, g = w.astype(work, copy=False), g.astype(work, copy=False)
    if axis is None:
        grad = stable_softmax_backward(w.reshape(-1), g.reshape(-1), 0).reshape(w.shape)
    else:
        grad = stable_softmax_backward(w, g, check_axis(axis, w.ndim))
    return _cast_back(grad, dtype, "the gradient through softmax")


def stable_softmax_backward(
    weights: np.ndarray, grad_weights: np.ndarray, axis: int = -1
) -> np.ndarray:
    """:func:`softmax_backward` without input checks, for callers that already validated.

    Raises ``FloatingPointError`` if the gradient overflows even when computed the safe way.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        grad = weights * (grad_weights - (grad_weights * weights).sum(axis=axis, keepdims=True))
        if np.isfinite(grad).all():
            return grad
        # g - sum(g w) can overflow (up to twice the largest |g|) where the gradient cannot:
        # multiply by the weights first. Same number of passes, but less accurate when g is
        # close to sum(g w), so only the fallback.
        weighted = grad_weights * weights
        grad = weighted - weights * weighted.sum(axis=axis, keepdims=True)
    if not np.isfinite(grad).all():
        raise FloatingPointError(
            f"the gradient through softmax overflowed {grad.dtype}; use smaller gradients or a "
            "wider dtype"
        )
    return grad


def _cast_back(result: np.ndarray, dtype: np.dtype[Any], what: str) -> np.ndarray:
    """``result`` (finite) in ``dtype``; ``FloatingPointError`` if the cast overflows."""
    if result.dtype == dtype:
        return result
    with np.errstate(over="ignore"):
        out = result.astype(dtype)
    if not np.isfinite(out).all():
        raise FloatingPointError(
            f"{what} overflowed {dtype} (its values lie beyond the range of the dtype); use "
            "float32 or float64"
        )
    return out


def log_softmax(x: npt.ArrayLike, axis: int | None = -1) -> np.ndarray:
    r"""The logarithm of :func:`softmax`, computed without taking the log of a rounded zero.

    .. math:: \log \operatorname{softmax}(x)_i = x_i - m - \log \sum_j e^{x_j - m},
              \qquad m = \max_j x_j

    ``np.log(softmax(x))`` gives ``-inf`` wherever a weight underflows to zero, for instance
    ``[0, -inf]`` for ``[1000, 1]``; this gives ``[0, -999]``. The conventions are those of
    :func:`softmax`: ``-inf`` entries are blocked and give ``-inf`` (the log of weight 0), and
    a slice that is entirely ``-inf`` gives all ``-inf``, never NaN.

    Parameters
    ----------
    x : array_like
        Scores (logits), at least 1-D. ``-inf`` is allowed; NaN and ``+inf`` raise
        ``ValueError``. Integers are converted to float64.
    axis : int or None, default -1
        The axis along which ``exp`` of the result sums to one. ``None`` means all the entries
        at once (the flattened array), as in SciPy; the result keeps the shape of ``x``.

    Returns
    -------
    ndarray
        Same shape and dtype as ``x`` (float16 is computed in float32 and cast back). Every
        entry is :math:`\le 0`.

    Raises
    ------
    ValueError
        If ``x`` is 0-d or contains NaN or ``+inf``.
    TypeError
        If ``x`` is boolean or complex, or ``axis`` is neither an integer nor None.
    numpy.exceptions.AxisError
        If ``axis`` is out of range.
    FloatingPointError
        If a finite entry lies so far below the maximum of its slice that its log-probability
        is beyond the range of the dtype (in float16, below -65504).

    See Also
    --------
    softmax : the weights themselves.
    log_softmax_backward : its gradient.
    softmax_cross_entropy : the loss built on it.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import log_softmax, softmax
    >>> log_softmax([1000.0, 1.0])
    array([   0., -999.])
    >>> with np.errstate(divide="ignore"):
    ...     np.log(softmax([1000.0, 1.0]))  # the weight exp(-999) rounded to 0
    array([  0., -inf])
    >>> log_softmax([[0.0, 0.0, -np.inf], [-np.inf, -np.inf, -np.inf]])
    array([[-0.69314718, -0.69314718,        -inf],
           [       -inf,        -inf,        -inf]])
    """
    arr, work, axis_index = _as_scores(x, axis)
    try:
        with np.errstate(over="raise"):
            out = stable_log_softmax(work, axis_index).reshape(arr.shape)
            return out.astype(arr.dtype, copy=False)
    except FloatingPointError:
        raise FloatingPointError(
            f"log_softmax(x) overflowed {arr.dtype}: an entry of x lies so far below the "
            "maximum of its slice that its log-probability is beyond the range of the dtype"
        ) from None


def stable_log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Log-softmax without input checks, for callers that already validated ``x``.

    Under the caller's ``np.errstate``: an entry whose log-probability is beyond the dtype's
    range becomes ``-inf``, with an overflow the caller may raise or ignore.
    """
    if x.shape[axis] == 0:
        return np.empty_like(x)
    row_max = x.max(axis=axis, keepdims=True)
    # As in stable_softmax: shift a fully blocked row by 0, never compute -inf - (-inf).
    row_max[np.isneginf(row_max)] = 0
    shifted = x - row_max
    total = np.exp(shifted).sum(axis=axis, keepdims=True)
    # A row with a finite maximum sums to at least 1 (its maximum gives exp(0)); a fully
    # blocked row sums to 0 and must stay -inf, not become -inf + inf = NaN.
    total[total == 0] = 1
    shifted -= np.log(total)
    return shifted


def log_softmax_backward(
    log_probs: npt.ArrayLike, grad_log_probs: npt.ArrayLike, axis: int | None = -1
) -> np.ndarray:
    r"""Gradient of a loss through :func:`log_softmax`, given its output.

    With :math:`y = \log\operatorname{softmax}(x)`,
    :math:`\partial y_i / \partial x_j = \delta_{ij} - e^{y_j}`, so for an upstream gradient
    :math:`g = \partial \mathcal{L} / \partial y`

    .. math:: \frac{\partial \mathcal{L}}{\partial x_j} = g_j - e^{y_j} \sum_i g_i .

    Blocked entries (``log_probs`` of ``-inf``) are constants: they pass no gradient on and get
    none, so a fully blocked slice has a zero gradient, as in :func:`softmax_backward`.

    Parameters
    ----------
    log_probs : array_like
        The output of :func:`log_softmax`; ``-inf`` marks a blocked entry.
    grad_log_probs : array_like
        Upstream gradient, same shape and dtype as ``log_probs``; finite.
    axis : int or None, default -1
        The axis of the forward call (``None``: it ran over all the entries).

    Returns
    -------
    ndarray
        Gradient with respect to the input of :func:`log_softmax`, same shape and dtype as
        ``log_probs`` (float16 is computed in float32).

    Raises
    ------
    ValueError
        If the shapes differ, ``log_probs`` holds NaN or ``+inf``, or ``grad_log_probs`` is
        not finite.
    TypeError
        If either input is boolean, complex or not numeric, the dtypes differ, or ``axis`` is
        neither an integer nor None.
    numpy.exceptions.AxisError
        If ``axis`` is out of range.
    FloatingPointError
        If the gradient overflows the dtype.

    See Also
    --------
    log_softmax : the forward pass.
    simple_attention.gradcheck : checks this against finite differences.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import log_softmax, log_softmax_backward
    >>> y = log_softmax([1.0, 2.0, 3.0])
    >>> log_softmax_backward(y, [1.0, 0.0, 0.0])  # onehot(0) - softmax
    array([ 0.90996943, -0.24472847, -0.66524096])
    >>> log_softmax_backward(log_softmax([0.0, -np.inf]), [1.0, 1.0])
    array([0., 0.])
    """
    y = as_float_array(log_probs, "log_probs", allow_neg_inf=True)
    g = as_float_array(grad_log_probs, "grad_log_probs")
    if y.shape != g.shape:
        raise ValueError(
            f"log_probs has shape {y.shape} but grad_log_probs has shape {g.shape}; they must "
            "match"
        )
    dtype = check_same_dtype(log_probs=y, grad_log_probs=g)
    shape = y.shape
    work = working_dtype(dtype)
    y, g = y.astype(work, copy=False), g.astype(work, copy=False)
    if axis is None:
        y, g, axis_index = y.reshape(-1), g.reshape(-1), 0
    else:
        axis_index = check_axis(axis, y.ndim)
    g = np.where(np.isneginf(y), 0, g).astype(work, copy=False)
    probs = np.exp(y)
    with np.errstate(over="ignore", invalid="ignore"):
        grad = g - probs * g.sum(axis=axis_index, keepdims=True)
        if not np.isfinite(grad).all():
            # The sum of n gradients can overflow where the result does not: sum them scaled
            # down by a power of two >= n (exact), and scale the result back up.
            n = y.shape[axis_index]
            factor = 2.0 ** -math.ceil(math.log2(n))
            scaled = g * factor
            grad = (scaled - probs * scaled.sum(axis=axis_index, keepdims=True)) / factor
    if not np.isfinite(grad).all():
        raise FloatingPointError(
            f"the gradient through log_softmax overflowed {grad.dtype}; use smaller gradients "
            "or a wider dtype"
        )
    return _cast_back(grad.reshape(shape), dtype, "the gradient through log_softmax")
