r"""Checking a backward pass against finite differences.

A hand-derived gradient is easy to get subtly wrong, and a wrong gradient still trains a little,
so the error hides. The cure is to compare it with a numerical derivative. For a scalar loss
:math:`\mathcal{L}(x)`, the central difference

.. math:: \frac{\partial \mathcal{L}}{\partial x_i} \approx
          \frac{\mathcal{L}(x + \varepsilon e_i) - \mathcal{L}(x - \varepsilon e_i)}{2\varepsilon}

is accurate to :math:`O(\varepsilon^2)`; in float64 with :math:`\varepsilon = 10^{-6}` a correct
gradient agrees to about seven digits or better.

The loss is :math:`\mathcal{L} = \sum G \odot f(x)` for a *random* upstream gradient :math:`G`, not
the plain sum of :math:`f(x)`: with the plain sum every output would get the same weight, and a
backward pass that mixed up two outputs (or, through a softmax, whose rows always sum to one, lost
a term entirely) could still pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._validation import as_float_array, as_rng, check_real
from ..layers.base import Layer

__all__ = ["gradcheck", "gradcheck_layer", "numerical_gradient", "relative_error"]


def numerical_gradient(
    f: Callable[[np.ndarray], Any], x: np.ndarray, grad_output: Any, *, eps: float = 1e-6
) -> np.ndarray:
    r"""Central-difference gradient of ``sum(grad_output * f(x))`` with respect to ``x``.

    Parameters
    ----------
    f : callable
        Takes ``x`` and returns an array (or a float) of the shape of ``grad_output``.
    x : ndarray of float64
        The point at which to differentiate, finite. It is changed in place, one element at a
        time, and restored exactly afterwards, also when ``f`` raises; it may be a strided view.
    grad_output : array_like
        The upstream gradient :math:`G`, real and finite.
    eps : float, default 1e-6
        The step :math:`\varepsilon`, positive and finite.

    Returns
    -------
    ndarray, shape of ``x``

    Raises
    ------
    TypeError
        If ``f`` is not callable, ``x`` is not a float64 array, or ``grad_output`` or the output
        of ``f`` is not real.
    ValueError
        If ``x`` is read-only or not finite, ``grad_output`` is not finite, ``eps`` is not a
        positive finite number or too small to change an entry of ``x``, or ``f`` returns an
        output whose shape is not that of ``grad_output``.
    FloatingPointError
        If ``f`` is not finite at a perturbed point (for example ``np.sqrt`` at 0, where it is
        not differentiable), or the loss or the difference quotient overflows. The message names
        the entry of ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import numerical_gradient
    >>> x = np.array([1.0, 2.0, 3.0])
    >>> numerical_gradient(lambda x: x**2, x, np.ones(3))  # d/dx sum(x**2) = 2x
    array([2., 4., 6.])
    """
    _check_callable(f, "f")
    _check_float64(x, "x")
    g = as_float_array(grad_output, "grad_output").astype(np.float64, copy=False)
    eps = check_real(eps, "eps", low=0.0, low_open=True)
    return _central_differences(f, x, g, eps, "x")


def _central_differences(
    f: Callable[[np.ndarray], Any], x: np.ndarray, g: np.ndarray, eps: float, name: str
) -> np.ndarray:
    """The loop of :func:`numerical_gradient`, on checked arguments."""
    grad = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        where = f"{name}[{', '.join(map(str, idx))}]" if idx else name
        original = float(x[idx])
        # Python floats: an overflow gives inf here, which is reported, instead of a warning.
        x_plus, x_minus = original + eps, original - eps
        if x_plus == original or x_minus == original or not math.isfinite(x_plus - x_minus):
            raise ValueError(
                f"eps={eps} cannot perturb {where} = {original}: x + eps or x - eps rounds to x "
                "or overflows in float64; choose eps relative to the size of the input"
            )
        try:
            x[idx] = x_plus
            loss_plus = _loss(f, x, g, f"{where} + eps")
            x[idx] = x_minus
            loss_minus = _loss(f, x, g, f"{where} - eps")
        finally:
            x[idx] = original
        with np.errstate(over="ignore"):
            # A NumPy division: Python's raises OverflowError instead of giving inf.
            slope = float(np.float64(loss_plus - loss_minus) / (2 * eps))
        if not math.isfinite(slope):
            raise FloatingPointError(
                f"the finite difference for {where} overflowed float64 (eps={eps})"
            )
        grad[idx] = slope
    return grad


def _loss(f: Callable[[np.ndarray], Any], x: np.ndarray, g: np.ndarray, where: str) -> float:
    """``sum(g * f(x))`` as a float, or an error saying why it cannot be measured."""
    out = _real_output(f(x), where)
    if out.shape != g.shape:
        raise ValueError(
            f"f returned an output of shape {out.shape} at {where}, but grad_output has shape "
            f"{g.shape}"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        loss = float(np.sum(g * out))
    if not math.isfinite(loss):
        raise FloatingPointError(
            f"the loss sum(grad_output * f) is not finite at {where}: f is NaN or inf there "
            "(not differentiable at this point?) or the sum overflowed"
        )
    return loss


def _real_output(out: Any, where: str) -> np.ndarray:
    arr = np.asarray(out)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise TypeError(f"f must return real numbers, got dtype {arr.dtype} at {where}")
    return arr


def _check_gradient(grad: Any, name: str) -> np.ndarray:
    """An analytic gradient as a float64 array: real, finite, or an error naming ``name``."""
    arr = np.asarray(grad)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise TypeError(f"the gradient for {name} must hold real numbers, got dtype {arr.dtype}")
    if not np.isfinite(arr).all():
        raise FloatingPointError(
            f"the analytic gradient for {name} contains NaN or inf; a backward pass must give "
            "finite gradients at a point where the function is differentiable"
        )
    return arr.astype(np.float64, copy=False)


def relative_error(analytic: Any, numeric: Any) -> float:
    r"""Largest difference between two gradients, relative to the largest entry of either.

    .. math:: \frac{\max_i |a_i - n_i|}{\max\bigl(\max_i |a_i|, \max_i |n_i|\bigr)}

    Dividing by the largest entry instead of entry by entry keeps gradients that are
    (correctly) almost zero from turning rounding noise into a large relative error. Two
    gradients that are both exactly zero have error 0.

    Raises
    ------
    TypeError
        If a gradient holds booleans, complex numbers or anything else that is not real.
    ValueError
        If a gradient contains NaN or inf (the error would be meaningless), or the shapes
        differ.

    Examples
    --------
    >>> from simple_attention import relative_error
    >>> relative_error([1.0, -2.0], [1.0, -2.000002])
    1.0000000000287557e-06
    >>> relative_error([0.0, 0.0], [0.0, 0.0])
    0.0
    """
    a = as_float_array(analytic, "analytic").astype(np.float64, copy=False)
    n = as_float_array(numeric, "numeric").astype(np.float64, copy=False)
    if a.shape != n.shape:
        raise ValueError(f"gradients of shapes {a.shape} and {n.shape} cannot be compared")
    if a.size == 0:
        return 0.0
    scale = max(np.abs(a).max(), np.abs(n).max())
    if scale == 0:
        return 0.0
    with np.errstate(over="ignore"):
        difference = np.abs(a - n).max()
    if not np.isfinite(difference):
        # Entries near the float64 limit with opposite signs: halving is exact, and the
        # halves cannot overflow.
        return float(np.abs(a / 2 - n / 2).max() / (scale / 2))
    return float(difference / scale)


def gradcheck(
    f: Callable[..., Any],
    backward: Callable[..., Sequence[np.ndarray]],
    inputs: Sequence[np.ndarray],
    *,
    eps: float = 1e-6,
    rng: int | np.random.Generator | None = None,
) -> float:
    """Compare a function's backward pass with finite differences; return the largest error.

    Parameters
    ----------
    f : callable
        ``f(*inputs)`` returns the output (an array or a float).
    backward : callable
        ``backward(grad_output, *inputs)`` returns one gradient per input (a list or tuple),
        each the gradient of ``sum(grad_output * f(*inputs))`` with respect to that input.
    inputs : list or tuple of ndarray of float64
        The point at which to check, at least one array, finite. Each is perturbed in place
        and restored, also when ``f`` raises; strided and transposed views are checked as they
        are. No two inputs may share memory (perturbing one would perturb the other).
    eps : float, default 1e-6
        Finite-difference step, positive and finite.
    rng : None, int or numpy.random.Generator, optional
        Source of the random upstream gradient, drawn from a standard normal distribution.

    Returns
    -------
    float
        The largest :func:`relative_error` over the inputs. A correct backward pass in float64
        gives well below ``1e-7``.

    Raises
    ------
    TypeError
        If ``f`` or ``backward`` is not callable, ``inputs`` is not a list or tuple, an input is
        not float64 (lower precision drowns the check in rounding error), ``backward`` does not
        return a list or tuple, or ``f`` or ``backward`` returns something that is not real
        numbers.
    ValueError
        If ``inputs`` is empty, an input is read-only or not finite, two inputs share memory,
        ``eps`` is not a positive finite number (or too small to change an input), or
        ``backward`` returns the wrong number of gradients or a gradient of the wrong shape.
    FloatingPointError
        If ``f`` is not finite at the point or at a perturbed point, a gradient of ``backward``
        contains NaN or inf, or a finite difference overflows. A score of ``0.0`` is never
        returned for a check that could not be made; a point where ``f`` is not differentiable
        (``np.sqrt`` at 0) fails this way.

    See Also
    --------
    gradcheck_layer : the same for a layer, its input and each of its parameters.

    Notes
    -----
    Central differences are accurate to about ``1e-10`` in absolute terms for outputs of size
    one (rounding error of the loss divided by ``2 * eps``). A gradient that is itself tiny,
    because the function barely depends on an input (attention over values that nearly
    coincide, for instance), is measured no better than that, so its relative error can exceed
    ``1e-7`` although the backward pass is right. Check such cases on better-conditioned data.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import softmax, softmax_backward
    >>> from simple_attention import gradcheck
    >>> scores = np.array([[0.5, -1.0, 2.0], [0.0, 0.3, -0.2]])
    >>> error = gradcheck(softmax, lambda g, s: [softmax_backward(softmax(s), g)], [scores], rng=0)
    >>> error < 1e-9
    True

    A wrong backward pass is caught; here the one that forgets the softmax's normalisation:

    >>> wrong = gradcheck(softmax, lambda g, s: [softmax(s) * g], [scores], rng=0)
    >>> wrong > 0.1
    True
    """
    _check_callable(f, "f")
    _check_callable(backward, "backward")
    if not isinstance(inputs, (list, tuple)):
        # list() of a bare array would silently check its rows as separate inputs.
        raise TypeError(
            f"inputs must be a list or tuple of arrays, one per argument of f, got "
            f"{type(inputs).__name__}"
        )
    if not inputs:
        raise ValueError("inputs is empty: there is no gradient to check")
    arrays = list(inputs)
    for i, arr in enumerate(arrays):
        _check_float64(arr, f"inputs[{i}]")
    for i, arr in enumerate(arrays):
        for j in range(i):
            if np.shares_memory(arr, arrays[j]):
                raise ValueError(
                    f"inputs[{j}] and inputs[{i}] share memory; pass separate arrays (each is "
                    "perturbed on its own)"
                )
    eps = check_real(eps, "eps", low=0.0, low_open=True)
    generator = as_rng(rng)
    out = _real_output(f(*arrays), "the inputs")
    if not np.isfinite(out).all():
        raise FloatingPointError("f(*inputs) contains NaN or inf at the point to check")
    grad_output = generator.standard_normal(out.shape)
    returned = backward(grad_output, *arrays)
    if not isinstance(returned, (list, tuple)):
        raise TypeError(
            "backward must return a list or tuple with one gradient per input, got "
            f"{type(returned).__name__}"
        )
    if len(returned) != len(arrays):
        raise ValueError(f"backward returned {len(returned)} gradients for {len(arrays)} inputs")
    analytic = []
    for i, arr in enumerate(arrays):
        if np.shape(returned[i]) != arr.shape:
            raise ValueError(
                f"backward returned a gradient of shape {np.shape(returned[i])} for "
                f"inputs[{i}] of shape {arr.shape}"
            )
        analytic.append(_check_gradient(returned[i], f"inputs[{i}]"))
    worst = 0.0
    for i, arr in enumerate(arrays):

        def f_i(x: np.ndarray, i: int = i) -> Any:
            return f(*arrays[:i], x, *arrays[i + 1 :])

        numeric = _central_differences(f_i, arr, grad_output, eps, f"inputs[{i}]")
        worst = max(worst, relative_error(analytic[i], numeric))
    return worst


def gradcheck_layer(
    layer: Layer,
    x: Any,
    *,
    eps: float = 1e-6,
    rng: int | np.random.Generator | None = None,
    **call_kwargs: Any,
) -> dict[str, float]:
    """Compare a layer's backward pass with finite differences, for its input and parameters.

    Calls ``layer(x, **call_kwargs)``, draws a random upstream gradient ``G``, runs
    ``layer.backward(G)``, and compares the returned input gradient and every entry of
    ``layer.grads`` with central differences of ``sum(G * layer(x))``. Parameters are perturbed
    in place and restored exactly, also when the layer raises; the layer is called once more at
    the end (on success or failure), so that its saved state belongs to the unperturbed ``x``.

    Parameters
    ----------
    layer : Layer
        A layer whose parameters are float64 and finite.
    x : ndarray
        The input: float64, or integers (token ids), for which only the parameters are checked.
    eps : float, default 1e-6
        Finite-difference step, positive and finite.
    rng : None, int or numpy.random.Generator, optional
        Source of the random upstream gradient.
    **call_kwargs
        Passed on to the layer, e.g. ``mask=`` or ``is_causal=True``.

    Returns
    -------
    dict of str to float
        The :func:`relative_error` for ``"x"`` (float inputs only) and for every parameter name;
        ``max(errors.values())`` is the worst.

    Raises
    ------
    TypeError
        If ``layer`` is not a :class:`~simple_attention.Layer`, or ``x`` or a parameter
        is not float64 (``x`` may also be integers).
    ValueError
        If ``x`` or a parameter is read-only or not finite, there is nothing to check (integer
        ``x`` and no parameters), ``eps`` is not a positive finite number, or the backward
        pass leaves out a parameter's gradient or returns one of the wrong shape.
    FloatingPointError
        If an analytic gradient contains NaN or inf, or the layer's output is not finite at a
        perturbed point.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import SelfAttention
    >>> from simple_attention import gradcheck_layer
    >>> layer = SelfAttention(d_in=4, d_out=3, rng=0)
    >>> x = np.random.default_rng(1).standard_normal((5, 4))
    >>> errors = gradcheck_layer(layer, x, rng=2, is_causal=True)
    >>> sorted(errors)
    ['W_key', 'W_query', 'W_value', 'x']
    >>> max(errors.values()) < 1e-7
    True
    """
    if not isinstance(layer, Layer):
        raise TypeError(f"layer must be a Layer, got {type(layer).__name__}")
    x_arr = np.asarray(x)
    check_x = not np.issubdtype(x_arr.dtype, np.integer)
    if check_x:
        _check_float64(x_arr, "x")
    for name, param in layer.params.items():
        _check_float64(param, name)
    if not check_x and not layer.params:
        raise ValueError("the layer has no parameters and x is integer ids: nothing to check")
    eps = check_real(eps, "eps", low=0.0, low_open=True)
    generator = as_rng(rng)

    def forward(_: np.ndarray) -> np.ndarray:
        return layer(x_arr, **call_kwargs)

    grad_output = generator.standard_normal(forward(x_arr).shape)
    grad_x = layer.backward(grad_output)
    analytic: dict[str, np.ndarray] = {}
    for name, param in layer.params.items():
        if name not in layer.grads:
            raise ValueError(f"the backward pass of the layer gave no gradient for {name!r}")
        grad = layer.grads[name]
        if np.shape(grad) != param.shape:
            raise ValueError(
                f"the gradient for {name!r} has shape {np.shape(grad)}, the parameter "
                f"{param.shape}"
            )
        analytic[name] = _check_gradient(grad, name).copy()
    if check_x:
        if grad_x is None:
            raise ValueError("the layer's backward returned no gradient for the float input x")
        if np.shape(grad_x) != x_arr.shape:
            raise ValueError(
                f"the layer's backward returned a gradient of shape {np.shape(grad_x)} for x of "
                f"shape {x_arr.shape}"
            )
        analytic_x = _check_gradient(grad_x, "x")
    errors: dict[str, float] = {}
    try:
        if check_x:
            numeric_x = _central_differences(forward, x_arr, grad_output, eps, "x")
            errors["x"] = relative_error(analytic_x, numeric_x)
        for name, param in layer.params.items():
            numeric = _central_differences(forward, param, grad_output, eps, name)
            errors[name] = relative_error(analytic[name], numeric)
    finally:
        forward(x_arr)
    return errors


def _check_callable(f: Any, name: str) -> None:
    if not callable(f):
        raise TypeError(f"{name} must be callable, got {type(f).__name__}")


def _check_float64(arr: Any, name: str) -> None:
    if not isinstance(arr, np.ndarray) or arr.dtype != np.float64:
        raise TypeError(
            f"{name} must be a float64 array for a gradient check, got "
            f"{getattr(arr, 'dtype', type(arr).__name__)}"
        )
    if not arr.flags.writeable:
        raise ValueError(f"{name} must be writeable: it is perturbed in place and restored")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf; a gradient check needs a finite point")
