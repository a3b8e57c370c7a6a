"""gelu, its gradient, the GELU layer and FeedForward: values, gradients, dtypes, validation."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from simple_attention import Linear, gradcheck, gradcheck_layer
from simple_attention.layers.feedforward import GELU, FeedForward, gelu, gelu_backward

from tolerances import FLOAT_DTYPES, TOLERANCES

MAX_ERROR = 1e-7


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12)


def python_gelu(x: float) -> float:
    """The tanh approximation written out with the math module: an independent reference."""
    return 0.5 * x * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def randomise_biases(ffn: FeedForward, rng: np.random.Generator) -> FeedForward:
    """Non-zero biases, so that the gradient check sees whether they enter the right place."""
    ffn.up.b[:] = rng.standard_normal(ffn.up.b.shape)
    ffn.down.b[:] = rng.standard_normal(ffn.down.b.shape)
    return ffn


# --- gelu and gelu_backward -------------------------------------------------------------------

KNOWN_POINTS = [-6.0, -3.0, -1.0, -0.5, -1e-3, 0.0, 1e-3, 0.5, 1.0, 2.0, 3.0, 6.0, 9.5]


def test_known_values() -> None:
    expected = [python_gelu(v) for v in KNOWN_POINTS]
    # atol: near x = -6, 1 + tanh(u) cancels, so one ulp of tanh is 3e-16 of the result.
    np.testing.assert_allclose(gelu(KNOWN_POINTS), expected, rtol=1e-14, atol=1e-15)


def test_known_derivative_by_central_differences_of_the_python_formula() -> None:
    h = 1e-5
    expected = [(python_gelu(v + h) - python_gelu(v - h)) / (2 * h) for v in KNOWN_POINTS]
    ours = gelu_backward(KNOWN_POINTS, np.ones(len(KNOWN_POINTS)))
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4)], ids=["1d", "2d", "batch"])
def test_gelu_gradient_matches_finite_differences(shape: tuple[int, ...], rng) -> None:
    x = 3.0 * rng.standard_normal(shape)
    error = gradcheck(gelu, lambda g, x: [gelu_backward(x, g)], [x], rng=1)
    assert error < MAX_ERROR


def test_gradient_scales_with_the_upstream_gradient(rng) -> None:
    x = rng.standard_normal(6)
    g = rng.standard_normal(6)
    np.testing.assert_allclose(gelu_backward(x, g), g * gelu_backward(x, np.ones(6)), rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_large_inputs_give_x_or_zero_exactly_without_warnings(dtype) -> None:
    # x**3 overflows float32 near 7e12 (float64 near 6e102); filterwarnings=error would turn
    # a RuntimeWarning into a failure even without the explicit check below.
    big = np.finfo(dtype).max
    x = np.array([-big, -1e30, -7e12, -50.0, -10.5, 10.5, 50.0, 7e12, 1e30, big], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = gelu(x)
        grad = gelu_backward(x, np.ones_like(x))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, np.where(x > 0, x, 0))
    np.testing.assert_array_equal(grad, np.where(x > 0, 1, 0))


def test_float16_extremes_stay_finite() -> None:
    x = np.array([-65504.0, -20.0, 0.0, 20.0, 65504.0], dtype=np.float16)
    out = gelu(x)
    assert out.dtype == np.float16
    np.testing.assert_array_equal(out, [0.0, 0.0, 0.0, 20.0, 65504.0])


def test_clipping_changes_nothing_near_the_saturation_point() -> None:
    # Just inside and outside |x| = 10, the unclipped formula (safe there) gives the same bits.
    x = np.array([-10.5, -10.0, -9.5, 9.5, 10.0, 10.5])
    t = np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))
    np.testing.assert_array_equal(gelu(x), 0.5 * x * (1 + t))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_dtype_is_kept(dtype, rng) -> None:
    x = rng.standard_normal((3, 4))
    g = rng.standard_normal((3, 4))
    out = gelu(x.astype(dtype))
    grad = gelu_backward(x.astype(dtype), g.astype(dtype))
    assert out.dtype == dtype
    assert grad.dtype == dtype
    atol = TOLERANCES[dtype][0]
    np.testing.assert_allclose(out, gelu(x), atol=atol)
    np.testing.assert_allclose(grad, gelu_backward(x, g), atol=2 * atol)


def test_integers_become_float64() -> None:
    assert gelu([1, 2]).dtype == np.float64


def test_overflowing_float16_gradient_raises() -> None:
    # The derivative reaches 1.129 near x = 1.5: the gradient is beyond float16's 65504.
    x = np.array([1.5], dtype=np.float16)
    with pytest.raises(FloatingPointError, match="the gradient through gelu overflowed float16"):
        gelu_backward(x, np.array([65000.0], dtype=np.float16))


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        ([1.0, np.nan], ValueError, "x contains NaN or inf"),
        ([np.inf], ValueError, "x contains NaN or inf"),
        ([-np.inf], ValueError, "x contains NaN or inf"),
        (np.array([1 + 1j]), TypeError, "x must hold real floating-point"),
        (np.array([True]), TypeError, "x must hold real numbers, not booleans"),
        ("1.0", TypeError, "x must hold real floating-point"),
    ],
)
def test_gelu_refuses_bad_input(x, error, match) -> None:
    with pytest.raises(error, match=match):
        gelu(x)


@pytest.mark.parametrize(
    ("x", "grad", "error", "match"),
    [
        (np.ones(3), np.ones(4), ValueError, r"x has shape \(3,\) but grad has shape \(4,\)"),
        (np.ones(3), np.array([1.0, np.nan, 1.0]), ValueError, "grad contains NaN"),
        (np.array([np.inf, 1.0]), np.ones(2), ValueError, "x contains NaN"),
        (np.ones(2), np.ones(2, dtype=np.float32), TypeError, "x has dtype float64 but grad"),
        (np.ones(2), np.ones(2, dtype=bool), TypeError, "grad must hold real numbers"),
    ],
)
def test_gelu_backward_refuses_bad_input(x, grad, error, match) -> None:
    with pytest.raises(error, match=match):
        gelu_backward(x, grad)


# --- the GELU layer ---------------------------------------------------------------------------


def test_gelu_layer_matches_the_functions(rng) -> None:
    x = rng.standard_normal((2, 3, 4))
    g = rng.standard_normal((2, 3, 4))
    layer = GELU()
    np.testing.assert_array_equal(layer(x), gelu(x))
    np.testing.assert_array_equal(layer.backward(g), gelu_backward(x, g))
    assert layer.params == {}
    assert layer.grads == {}


def test_gelu_layer_gradient_matches_finite_differences(rng) -> None:
    errors = gradcheck_layer(GELU(), 2.0 * rng.standard_normal((2, 3, 5)), rng=3)
    assert list(errors) == ["x"]
    assert errors["x"] < MAX_ERROR


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_gelu_layer_keeps_the_dtype(dtype) -> None:
    layer = GELU()
    x = np.linspace(-3, 3, 12, dtype=dtype).reshape(3, 4)
    assert layer(x).dtype == dtype
    assert layer.backward(np.ones((3, 4), dtype=dtype)).dtype == dtype


def test_gelu_layer_backward_after_a_failed_call_raises() -> None:
    layer = GELU()
    layer(np.ones((2, 2)))
    with pytest.raises(ValueError, match="x contains NaN"):
        layer(np.array([np.nan]))
    with pytest.raises(RuntimeError, match="call the GELU layer on an input before"):
        layer.backward(np.ones((2, 2)))


def test_gelu_layer_keeps_its_own_copy_of_the_input(rng) -> None:
    layer = GELU()
    x = rng.standard_normal(5)
    layer(x)
    expected = gelu_backward(x.copy(), np.ones(5))
    x[:] = 0.0
    np.testing.assert_array_equal(layer.backward(np.ones(5)), expected)


# --- FeedForward ------------------------------------------------------------------------------


def test_structure_and_parameter_names() -> None:
    ffn = FeedForward(4, rng=0)
    assert ffn.d_hidden == 16  # 4 * d_model by default
    assert list(ffn.layers) == ["up", "activation", "down"]
    assert {name: p.shape for name, p in ffn.params.items()} == {
        "up.W": (4, 16),
        "up.b": (16,),
        "down.W": (16, 4),
        "down.b": (4,),
    }
    assert ffn.params["up.W"] is ffn.up.W  # the arrays themselves, for in-place updates
    assert FeedForward(4, d_hidden=6, rng=0).params["down.W"].shape == (6, 4)


def test_same_seed_same_weights_and_the_two_layers_differ() -> None:
    a, b = FeedForward(3, d_hidden=3, rng=5), FeedForward(3, d_hidden=3, rng=5)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    assert not np.array_equal(a.up.W, a.down.W)


def test_forward_is_linear_gelu_linear(rng) -> None:
    ffn = randomise_biases(FeedForward(3, d_hidden=5, rng=rng), rng)
    x = rng.standard_normal((2, 4, 3))
    expected = gelu(x @ ffn.up.W + ffn.up.b) @ ffn.down.W + ffn.down.b
    np.testing.assert_allclose(ffn(x), expected, atol=TOLERANCES[np.float64][0])


@pytest.mark.parametrize("shape", [(3,), (4, 3), (2, 4, 3)], ids=["1d", "2d", "batch"])
def test_feedforward_gradient_matches_finite_differences(shape: tuple[int, ...], rng) -> None:
    ffn = randomise_biases(FeedForward(3, d_hidden=5, rng=rng), rng)
    errors = gradcheck_layer(ffn, rng.standard_normal(shape), rng=4)
    assert sorted(errors) == ["down.W", "down.b", "up.W", "up.b", "x"]
    assert max(errors.values()) < MAX_ERROR


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_feedforward_keeps_the_dtype(dtype, rng) -> None:
    ffn = FeedForward(4, rng=0)
    x = rng.standard_normal((2, 3, 4))
    expected = ffn(x)
    out = ffn(x.astype(dtype))
    assert out.dtype == dtype
    np.testing.assert_allclose(out, expected, atol=5 * TOLERANCES[dtype][0])
    assert ffn.backward(np.ones((2, 3, 4), dtype=dtype)).dtype == dtype
    assert all(g.dtype == np.float64 for g in ffn.grads.values())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"d_model": 0}, ValueError, "d_model must be positive"),
        ({"d_model": 2.5}, TypeError, "d_model must be an integer"),
        ({"d_model": 2, "d_hidden": 0}, ValueError, "d_hidden must be positive"),
        ({"d_model": 2, "d_hidden": True}, TypeError, "d_hidden must be an integer"),
        ({"d_model": 2, "rng": "seed"}, TypeError, "rng must be None, an int"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        FeedForward(**kwargs)


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (np.ones((2, 4)), ValueError, r"x must have shape \(\.\.\., 3\)"),
        (np.float64(2.0), ValueError, r"x must have shape \(\.\.\., 3\)"),
        (np.array([[np.nan, 0.0, 0.0]]), ValueError, "x contains NaN"),
        (np.ones((1, 3), dtype=complex), TypeError, "x must hold real"),
    ],
)
def test_bad_input_is_refused(x, error, match) -> None:
    with pytest.raises(error, match=match):
        FeedForward(3, rng=0)(x)


def test_nan_parameter_is_named() -> None:
    ffn = FeedForward(3, rng=0)
    ffn.down.b[0] = np.nan
    with pytest.raises(ValueError, match="b contains NaN"):
        ffn(np.ones((2, 3)))


def test_backward_after_a_failed_call_raises(rng) -> None:
    ffn = FeedForward(3, rng=0)
    ffn(rng.standard_normal((2, 3)))
    ffn.down.W[0, 0] = np.inf  # the failure happens inside the last sub-layer
    with pytest.raises(ValueError, match="W contains NaN or inf"):
        ffn(rng.standard_normal((2, 3)))
    with pytest.raises(RuntimeError, match="call the FeedForward layer on an input before"):
        ffn.backward(np.ones((2, 3)))


def test_backward_after_a_sub_layer_was_called_alone_raises(rng) -> None:
    ffn = FeedForward(3, rng=0)
    ffn(rng.standard_normal((2, 3)))
    ffn.up(rng.standard_normal((5, 3)))
    with pytest.raises(RuntimeError, match="the up layer was called on its own"):
        ffn.backward(np.ones((2, 3)))


def test_bad_grad_out_is_refused() -> None:
    ffn = FeedForward(3, rng=0)
    ffn(np.ones((2, 3)))
    with pytest.raises(ValueError, match="grad_out has shape"):
        ffn.backward(np.ones((2, 4)))


def test_train_and_eval_reach_every_sub_layer(rng) -> None:
    ffn = FeedForward(3, rng=0)
    x = rng.standard_normal((2, 3))
    out = ffn(x)
    assert ffn.eval() is ffn
    assert not ffn.training
    assert not any(layer.training for layer in ffn.layers.values())
    np.testing.assert_array_equal(ffn(x), out)  # nothing random: the same in both modes
    ffn.train()
    assert ffn.training
    assert all(layer.training for layer in ffn.layers.values())


def test_sub_layers_are_ordinary_linear_layers() -> None:
    ffn = FeedForward(2, d_hidden=3, rng=0)
    assert isinstance(ffn.up, Linear)
    assert isinstance(ffn.down, Linear)
    assert isinstance(ffn.activation, GELU)
