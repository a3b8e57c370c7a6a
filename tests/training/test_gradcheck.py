"""The gradient checker itself: it never reports a check it could not make as a pass."""

from __future__ import annotations

import numpy as np
import pytest

from simple_attention import (
    Linear,
    gradcheck,
    gradcheck_layer,
    numerical_gradient,
    relative_error,
)


def sine_backward(g, x):
    return [g * np.cos(x)]


def test_gradcheck_fails_loudly_on_a_nan_analytic_gradient():
    x = np.array([1.0, 2.0])
    with pytest.raises(FloatingPointError, match=r"analytic gradient for inputs\[0\]"):
        gradcheck(np.sin, lambda g, x: [np.full(2, np.nan)], [x], rng=0)


@pytest.mark.parametrize(
    ("eps", "error"),
    [
        (float("nan"), ValueError),
        (0.0, ValueError),
        (0, ValueError),
        (-1e-6, ValueError),
        (float("inf"), ValueError),
        ("1e-6", TypeError),
        (True, TypeError),
    ],
)
def test_gradcheck_rejects_an_eps_that_is_not_positive_and_finite(eps, error):
    x = np.array([1.0, 2.0])
    with pytest.raises(error, match="eps"):
        gradcheck(np.sin, sine_backward, [x], eps=eps, rng=0)
    with pytest.raises(error, match="eps"):
        numerical_gradient(np.sin, x, np.ones(2), eps=eps)
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_gradcheck_fails_where_the_function_is_not_differentiable():
    x = np.zeros(2)
    # The true derivative of sqrt at 0 is infinite; the analytic one says so...
    with (
        np.errstate(divide="ignore", invalid="ignore"),
        pytest.raises(FloatingPointError, match=r"inputs\[0\]"),
    ):
        gradcheck(np.sqrt, lambda g, x: [g * 0.5 / np.sqrt(x)], [x], rng=0)
    # ...and a finite analytic gradient is refuted by the NaN of sqrt(0 - eps).
    with (
        np.errstate(invalid="ignore"),
        pytest.raises(FloatingPointError, match=r"inputs\[0\]\[0\] - eps"),
    ):
        gradcheck(np.sqrt, lambda g, x: [np.zeros_like(x)], [x], rng=0)
    np.testing.assert_array_equal(x, [0.0, 0.0])


def test_gradcheck_fails_when_the_function_is_nan_at_the_point():
    with pytest.raises(FloatingPointError, match="point to check"):
        gradcheck(lambda x: x * np.nan, lambda g, x: [g], [np.ones(2)], rng=0)


def raises_on_call(n, f):
    calls = []

    def wrapped(*args):
        calls.append(None)
        if len(calls) == n:
            raise RuntimeError("boom")
        return f(*args)

    return wrapped


def test_numerical_gradient_restores_the_input_when_f_raises():
    x = np.array([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(raises_on_call(4, np.sin), x, np.ones(3))  # during x[1] - eps
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])


def test_gradcheck_restores_the_inputs_when_f_raises():
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    f = raises_on_call(4, lambda a, b: a * b)  # call 1 is the unperturbed point

    def backward(g, a, b):
        return [g * b, g * a]

    with pytest.raises(RuntimeError, match="boom"):
        gradcheck(f, backward, [a, b], rng=0)
    np.testing.assert_array_equal(a, [1.0, 2.0])
    np.testing.assert_array_equal(b, [3.0, 4.0])


def test_numerical_gradient_rejects_an_eps_too_small_to_move_the_input():
    x = np.array([1e10])  # the spacing of float64 near 1e10 is about 2e-6
    with pytest.raises(ValueError, match=r"eps=1e-07 cannot perturb x\[0\]"):
        numerical_gradient(np.sin, x, np.ones(1), eps=1e-7)


def test_numerical_gradient_rejects_output_of_another_shape_than_grad_output():
    # Broadcasting (3,) against (1,) would silently give the gradient of another loss.
    with pytest.raises(ValueError, match=r"shape \(3,\).*grad_output has shape \(1,\)"):
        numerical_gradient(lambda x: x, np.ones(3), np.ones(1))


@pytest.mark.parametrize(
    ("grad_output", "error"),
    [([1.0, np.nan], ValueError), ([1.0, 1j], TypeError), ([True, False], TypeError)],
)
def test_numerical_gradient_rejects_a_bad_grad_output(grad_output, error):
    with pytest.raises(error, match="grad_output"):
        numerical_gradient(np.sin, np.ones(2), grad_output)


def test_numerical_gradient_fails_when_the_difference_overflows():
    with pytest.raises(FloatingPointError, match=r"x\[0\]"):
        # A slope of 1e310 between two finite values of f.
        numerical_gradient(lambda x: x * 1e300 * 1e10, np.zeros(1), np.ones(1), eps=1e-10)


def test_gradcheck_rejects_non_finite_inputs():
    with pytest.raises(ValueError, match=r"inputs\[0\] contains NaN"):
        gradcheck(np.sin, sine_backward, [np.array([np.nan])], rng=0)


def test_gradcheck_rejects_inputs_that_share_memory():
    x = np.array([1.0, 2.0])
    with pytest.raises(ValueError, match=r"inputs\[0\] and inputs\[1\] share memory"):
        gradcheck(lambda a, b: a * b, lambda g, a, b: [g * b, g * a], [x, x], rng=0)


def test_gradcheck_rejects_a_bare_array_from_backward():
    # list(array) would silently split one gradient into its rows.
    x = np.ones((1, 3))
    with pytest.raises(TypeError, match="list or tuple"):
        gradcheck(np.sin, lambda g, x: g * np.cos(x), [x], rng=0)


def test_gradcheck_rejects_a_complex_gradient():
    with pytest.raises(TypeError, match=r"inputs\[0\]"):
        gradcheck(np.sin, lambda g, x: [g * np.cos(x) + 0j], [np.ones(2)], rng=0)


def test_relative_error_rejects_nan_and_inf():
    with pytest.raises(ValueError, match="analytic"):
        relative_error([np.nan], [1.0])
    with pytest.raises(ValueError, match="numeric"):
        relative_error([1.0], [np.inf])


def test_relative_error_near_the_float64_limit():
    biggest = np.finfo(np.float64).max
    assert relative_error([biggest], [-biggest]) == 2.0
    assert relative_error([1e308, 1.0], [-1e308, 1.0]) == 2.0


class FailingLinear(Linear):
    """A Linear layer that raises on its ``fail_on``-th call, or gives a NaN gradient."""

    def __init__(self, *args, fail_on=None, nan_grad=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.n_calls = 0
        self.fail_on = fail_on
        self.nan_grad = nan_grad

    def __call__(self, x):
        self.n_calls += 1
        if self.n_calls == self.fail_on:
            raise RuntimeError("boom")
        return super().__call__(x)

    def backward(self, grad_out):
        grad_x = super().backward(grad_out)
        if self.nan_grad:
            self.grads["W"] = np.full_like(self.W, np.nan)
        return grad_x


def test_gradcheck_layer_restores_the_parameters_when_the_layer_raises(rng):
    x = rng.standard_normal((2, 3))
    # Calls: 1 forward, then 2 per entry of x (6 entries), then W: fail on W's first entry.
    layer = FailingLinear(3, 2, rng=0, fail_on=1 + 2 * 6 + 1)
    W_before, x_before = layer.W.copy(), x.copy()
    with pytest.raises(RuntimeError, match="boom"):
        gradcheck_layer(layer, x, rng=1)
    np.testing.assert_array_equal(layer.W, W_before)
    np.testing.assert_array_equal(x, x_before)
    # The layer was called once more at the unperturbed point.
    np.testing.assert_array_equal(layer._cache["x"], x_before)


def test_gradcheck_layer_fails_loudly_on_a_nan_parameter_gradient(rng):
    layer = FailingLinear(3, 2, rng=0, nan_grad=True)
    with pytest.raises(FloatingPointError, match="analytic gradient for W"):
        gradcheck_layer(layer, rng.standard_normal((2, 3)), rng=1)


def test_gradcheck_layer_checks_eps_before_calling_the_layer(rng):
    layer = Linear(3, 2, rng=0)
    with pytest.raises(ValueError, match="eps"):
        gradcheck_layer(layer, rng.standard_normal((2, 3)), eps=0.0)
    assert layer._cache is None  # the failed call did not run the layer


def test_gradcheck_layer_rejects_what_is_not_a_layer(rng):
    with pytest.raises(TypeError, match="layer must be a Layer"):
        gradcheck_layer(np.sin, rng.standard_normal(3))


def test_gradcheck_layer_rejects_a_nan_parameter(rng):
    layer = Linear(3, 2, rng=0)
    layer.b[0] = np.nan
    with pytest.raises(ValueError, match="b contains NaN"):
        gradcheck_layer(layer, rng.standard_normal((2, 3)))


def test_gradcheck_refuses_a_bare_array_or_nothing_as_inputs():
    x = np.ones((2, 3))
    with pytest.raises(TypeError, match="inputs must be a list or tuple"):
        gradcheck(np.sin, sine_backward, x, rng=0)  # list(x) would be its two rows
    with pytest.raises(ValueError, match="inputs is empty"):
        gradcheck(lambda: 1.0, lambda g: [], [], rng=0)


def test_gradcheck_refuses_what_is_not_callable():
    with pytest.raises(TypeError, match="backward must be callable"):
        gradcheck(np.sin, None, [np.ones(2)], rng=0)
    with pytest.raises(TypeError, match="f must be callable"):
        numerical_gradient("sin", np.ones(2), np.ones(2))


def test_gradcheck_layer_refuses_a_check_of_nothing():
    from simple_attention import Layer

    class Identity(Layer):
        def __call__(self, ids):
            self._cache = {}
            return np.asarray(ids, dtype=float)

        def backward(self, grad_out):
            return None

    with pytest.raises(ValueError, match="nothing to check"):
        gradcheck_layer(Identity(), np.array([1, 2]))
