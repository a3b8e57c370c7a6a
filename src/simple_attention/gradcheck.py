r"""Checking a backward pass against finite differences.

A hand-derived gradient is easy to get subtly wrong, and a wrong gradient still trains a little,
so the error hides. The cure is to compare it with a numerical derivative. For a scalar loss
:math:`L(x)`, the central difference

.. math:: \frac{\partial L}{\partial x_i} \approx
          \frac{L(x + \varepsilon e_i) - L(x - \varepsilon e_i)}{2\varepsilon}

is accurate to :math:`O(\varepsilon^2)`; in float64 with :math:`\varepsilon = 10^{-6}` a correct
gradient agrees to about seven digits or better.

The loss is :math:`L = \sum G \odot f(x)` for a *random* upstream gradient :math:`G`, not the
plain sum of :math:`f(x)`: with the plain sum every output would get the same weight, and a
backward pass that mixed up two outputs (or, through a softmax, whose rows always sum to one,
lost a term entirely) could still pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._validation import as_rng
from .layers import Layer

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
        The point at which to differentiate. It is changed in place, one element at a time,
        and restored exactly afterwards; it may be a strided view.
    grad_output : array_like
        The upstream gradient :math:`G`.
    eps : float, default 1e-6
        The step :math:`\varepsilon`.

    Returns
    -------
    ndarray, shape of ``x``

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention.gradcheck import numerical_gradient
    >>> x = np.array([1.0, 2.0, 3.0])
    >>> numerical_gradient(lambda x: x**2, x, np.ones(3))  # d/dx sum(x**2) = 2x
    array([2., 4., 6.])
    """
    _check_float64(x, "x")
    g = np.asarray(grad_output, dtype=np.float64)
    grad = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        original = x[idx]
        x[idx] = original + eps
        loss_plus = float(np.sum(g * f(x)))
        x[idx] = original - eps
        loss_minus = float(np.sum(g * f(x)))
        x[idx] = original
        grad[idx] = (loss_plus - loss_minus) / (2 * eps)
    return grad


def relative_error(analytic: Any, numeric: Any) -> float:
    r"""Largest difference between two gradients, relative to the largest entry of either.

    .. math:: \frac{\max_i |a_i - n_i|}{\max\bigl(\max_i |a_i|, \max_i |n_i|\bigr)}

    Dividing by the largest entry instead of entry by entry keeps gradients that are
    (correctly) almost zero from turning rounding noise into a large relative error. Two
    gradients that are both exactly zero have error 0.

    Examples
    --------
    >>> from simple_attention.gradcheck import relative_error
    >>> relative_error([1.0, -2.0], [1.0, -2.000002])
    1.0000000000287557e-06
    >>> relative_error([0.0, 0.0], [0.0, 0.0])
    0.0
    """
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"gradients of shapes {a.shape} and {n.shape} cannot be compared")
    if a.size == 0:
        return 0.0
    scale = max(np.abs(a).max(), np.abs(n).max())
    if scale == 0:
        return 0.0
    return float(np.abs(a - n).max() / scale)


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
        ``backward(grad_output, *inputs)`` returns one gradient per input, each the gradient of
        ``sum(grad_output * f(*inputs))`` with respect to that input.
    inputs : sequence of ndarray of float64
        The point at which to check. Each is perturbed in place and restored; strided and
        transposed views are checked as they are.
    eps : float, default 1e-6
        Finite-difference step.
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
        If an input is not float64 (lower precision drowns the check in rounding error).
    ValueError
        If ``backward`` returns the wrong number of gradients or a gradient of the wrong shape.

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
    >>> from simple_attention.gradcheck import gradcheck
    >>> scores = np.array([[0.5, -1.0, 2.0], [0.0, 0.3, -0.2]])
    >>> error = gradcheck(softmax, lambda g, s: [softmax_backward(softmax(s), g)], [scores], rng=0)
    >>> error < 1e-9
    True

    A wrong backward pass is caught; here the one that forgets the softmax's normalisation:

    >>> wrong = gradcheck(softmax, lambda g, s: [softmax(s) * g], [scores], rng=0)
    >>> wrong > 0.1
    True
    """
    arrays = list(inputs)
    for i, arr in enumerate(arrays):
        _check_float64(arr, f"inputs[{i}]")
    grad_output = as_rng(rng).standard_normal(np.shape(f(*arrays)))
    analytic = list(backward(grad_output, *arrays))
    if len(analytic) != len(arrays):
        raise ValueError(f"backward returned {len(analytic)} gradients for {len(arrays)} inputs")
    worst = 0.0
    for i, arr in enumerate(arrays):
        if np.shape(analytic[i]) != arr.shape:
            raise ValueError(
                f"backward returned a gradient of shape {np.shape(analytic[i])} for "
                f"inputs[{i}] of shape {arr.shape}"
            )

        def f_i(x: np.ndarray, i: int = i) -> Any:
            return f(*arrays[:i], x, *arrays[i + 1 :])

        numeric = numerical_gradient(f_i, arr, grad_output, eps=eps)
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
    in place and restored exactly; the layer is called once more at the end, so that its saved
    state belongs to the unperturbed ``x``.

    Parameters
    ----------
    layer : Layer
        A layer whose parameters are float64.
    x : ndarray
        The input: float64, or integers (token ids), for which only the parameters are checked.
    eps : float, default 1e-6
        Finite-difference step.
    rng : None, int or numpy.random.Generator, optional
        Source of the random upstream gradient.
    **call_kwargs
        Passed on to the layer, e.g. ``mask=`` or ``is_causal=True``.

    Returns
    -------
    dict of str to float
        The :func:`relative_error` for ``"x"`` (float inputs only) and for every parameter name;
        ``max(errors.values())`` is the worst.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import SelfAttention
    >>> from simple_attention.gradcheck import gradcheck_layer
    >>> layer = SelfAttention(d_in=4, d_out=3, rng=0)
    >>> x = np.random.default_rng(1).standard_normal((5, 4))
    >>> errors = gradcheck_layer(layer, x, rng=2, is_causal=True)
    >>> sorted(errors)
    ['W_key', 'W_query', 'W_value', 'x']
    >>> max(errors.values()) < 1e-7
    True
    """
    x_arr = np.asarray(x)
    check_x = not np.issubdtype(x_arr.dtype, np.integer)
    if check_x:
        _check_float64(x_arr, "x")
    for name, param in layer.params.items():
        _check_float64(param, name)

    def forward(_: np.ndarray) -> np.ndarray:
        return layer(x_arr, **call_kwargs)

    grad_output = as_rng(rng).standard_normal(forward(x_arr).shape)
    grad_x = layer.backward(grad_output)
    analytic = {name: grad.copy() for name, grad in layer.grads.items()}
    errors: dict[str, float] = {}
    if check_x:
        numeric_x = numerical_gradient(forward, x_arr, grad_output, eps=eps)
        errors["x"] = relative_error(grad_x, numeric_x)
    for name, param in layer.params.items():
        numeric = numerical_gradient(forward, param, grad_output, eps=eps)
        errors[name] = relative_error(analytic[name], numeric)
    forward(x_arr)
    return errors


def _check_float64(arr: Any, name: str) -> None:
    if not isinstance(arr, np.ndarray) or arr.dtype != np.float64:
        raise TypeError(
            f"{name} must be a float64 array for a gradient check, got "
            f"{getattr(arr, 'dtype', type(arr).__name__)}"
        )
    if not arr.flags.writeable:
        raise ValueError(f"{name} must be writeable: it is perturbed in place and restored")
