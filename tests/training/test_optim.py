"""The optimizers: they minimise, update in place, and check what they are given."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from simple_attention import SGD, Adam

BOTH_OPTIMIZERS = pytest.mark.parametrize(
    "make", [lambda p: SGD(p, lr=0.1), lambda p: Adam(p, lr=0.1)], ids=["SGD", "Adam"]
)


def quadratic_gradient(x, centre, curvature):
    """Gradient of sum(curvature * (x - centre)**2) / 2."""
    return curvature * (x - centre)


@pytest.mark.parametrize(
    "make",
    [
        lambda p: SGD(p, lr=0.1),
        lambda p: SGD(p, lr=0.05, momentum=0.9),
        lambda p: Adam(p, lr=0.1),
    ],
)
def test_optimizers_minimise_a_quadratic(make):
    centre = np.array([3.0, -1.0, 0.5])
    curvature = np.array([1.0, 4.0, 0.5])
    x = np.zeros(3)
    opt = make({"x": x})
    for _ in range(500):
        opt.step({"x": quadratic_gradient(x, centre, curvature)})
    np.testing.assert_allclose(x, centre, atol=1e-3)


def test_updates_happen_in_place():
    W = np.ones((2, 2))
    original = W
    SGD({"W": W}, lr=0.5).step({"W": np.ones((2, 2))})
    assert W is original
    np.testing.assert_array_equal(original, np.full((2, 2), 0.5))


def test_sgd_step_is_lr_times_gradient():
    x = np.array([1.0, 2.0])
    SGD({"x": x}, lr=0.1).step({"x": np.array([10.0, -20.0])})
    np.testing.assert_allclose(x, [0.0, 4.0])


def test_sgd_momentum_accumulates():
    x = np.array([0.0])
    opt = SGD({"x": x}, lr=1.0, momentum=0.5)
    opt.step({"x": np.array([1.0])})  # velocity 1
    opt.step({"x": np.array([1.0])})  # velocity 1.5
    np.testing.assert_allclose(x, [-2.5])


@pytest.mark.parametrize("scale", [1e-2, 1.0, 1e6])
def test_adam_first_step_has_size_lr_whatever_the_gradient_scale(rng, scale):
    x = np.zeros(5)
    grad = scale * (1 + rng.random(5)) * rng.choice([-1, 1], size=5)
    Adam({"x": x}, lr=0.01).step({"x": grad})
    # The step is lr * |g| / (|g| + eps): lr up to eps / |g| <= 1e-6 relative.
    np.testing.assert_allclose(np.abs(x), 0.01, rtol=1e-5)
    np.testing.assert_array_equal(np.sign(x), -np.sign(grad))


def test_adam_bias_correction_keeps_a_constant_gradient_step_at_lr():
    x = np.array([0.0])
    opt = Adam({"x": x}, lr=0.1)
    for _ in range(10):
        opt.step({"x": np.array([3.0])})
    np.testing.assert_allclose(x, [-1.0], rtol=1e-6)


def test_step_rejects_missing_or_unknown_gradients():
    opt = SGD({"a": np.zeros(2), "b": np.zeros(2)}, lr=0.1)
    with pytest.raises(KeyError, match="missing"):
        opt.step({"a": np.zeros(2)})
    with pytest.raises(KeyError, match="unknown"):
        opt.step({"a": np.zeros(2), "b": np.zeros(2), "c": np.zeros(2)})


def test_step_rejects_wrong_shape_and_nan():
    x = np.zeros(2)
    opt = Adam({"x": x}, lr=0.1)
    with pytest.raises(ValueError, match="shape"):
        opt.step({"x": np.zeros(3)})
    with pytest.raises(ValueError, match="NaN"):
        opt.step({"x": np.array([0.0, np.nan])})
    np.testing.assert_array_equal(x, [0.0, 0.0])  # nothing was updated


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"lr": 0.0}, ValueError),
        ({"lr": -1.0}, ValueError),
        ({"lr": float("nan")}, ValueError),
        ({"lr": "0.1"}, TypeError),
        ({"lr": 0.1, "momentum": 1.0}, ValueError),
        ({"lr": 0.1, "momentum": -0.1}, ValueError),
    ],
)
def test_sgd_rejects_bad_hyperparameters(kwargs, error):
    with pytest.raises(error):
        SGD({"x": np.zeros(2)}, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{"betas": (0.9, 1.0)}, {"betas": (1.2, 0.999)}, {"eps": 0.0}, {"betas": (0.9,)}],
)
def test_adam_rejects_bad_hyperparameters(kwargs):
    with pytest.raises(ValueError, match=r"betas|eps"):
        Adam({"x": np.zeros(2)}, lr=0.1, **kwargs)


def test_optimizer_rejects_integer_and_readonly_parameters():
    with pytest.raises(TypeError, match="floating-point"):
        SGD({"x": np.zeros(2, dtype=int)}, lr=0.1)
    frozen = np.zeros(2)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        SGD({"x": frozen}, lr=0.1)


# --- dtypes and extreme gradients -----------------------------------------------------------


def textbook_adam(x, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m, v = np.zeros_like(x), np.zeros_like(x)
    for t, g in enumerate(grads, start=1):
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        x -= lr * m_hat / (np.sqrt(v_hat) + eps)
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_is_the_textbook_formula_to_the_last_bit_for_ordinary_gradients(rng, dtype):
    start = rng.standard_normal(6).astype(dtype)
    grads = [
        (rng.standard_normal(6) * 10.0 ** rng.integers(-8, 8, 6)).astype(dtype) for _ in range(5)
    ]
    x = start.copy()
    opt = Adam({"x": x}, lr=0.01)
    for g in grads:
        opt.step({"x": g})
    np.testing.assert_array_equal(x, textbook_adam(start.copy(), grads, lr=0.01))


@pytest.mark.parametrize(
    ("dtype", "huge"),
    [
        (np.float64, 1e300),
        (np.float64, np.finfo(np.float64).max),
        (np.float32, 1e38),
        (np.float32, np.finfo(np.float32).max),
        (np.float16, 6e4),
    ],
)
def test_adam_step_is_about_lr_for_huge_gradients(dtype, huge):
    # g**2 overflows here: the textbook formula divides by inf and the coordinate stops moving.
    x = np.zeros(3, dtype=dtype)
    opt = Adam({"x": x}, lr=0.01)
    g = np.array([huge, -huge, 1.0], dtype=dtype)
    opt.step({"x": g})
    np.testing.assert_allclose(x, [-0.01, 0.01, -0.01], rtol=1e-3)
    for _ in range(9):  # a constant gradient keeps the step at lr
        opt.step({"x": g})
    np.testing.assert_allclose(x, [-0.1, 0.1, -0.1], rtol=1e-2)


def test_adam_after_a_huge_gradient_is_still_exact():
    grads = [1e300, 1.0, -1e200, 3.0]
    lr, beta1, beta2, eps = 0.01, 0.9, 0.999, 1e-8
    x = np.zeros(1)
    opt = Adam({"x": x}, lr=lr)
    m = v = Fraction(0)
    expected = Fraction(0)
    for t, g in enumerate(grads, start=1):
        opt.step({"x": np.array([g])})
        m = Fraction(beta1) * m + (1 - Fraction(beta1)) * Fraction(g)
        v = Fraction(beta2) * v + (1 - Fraction(beta2)) * Fraction(g) ** 2
        m_hat = m / (1 - Fraction(beta1) ** t)
        # v_hat is about 1e600 = 2**1993: take the square root of v_hat / 2**1992 in floats.
        root_v_hat = math.ldexp(math.sqrt(v / (1 - Fraction(beta2) ** t) / 2**1992), 996)
        expected -= Fraction(lr) * m_hat / (Fraction(root_v_hat) + Fraction(eps))
        assert x[0] == pytest.approx(float(expected), rel=1e-12)


def test_adam_on_float16_zero_and_tiny_gradients_stay_finite():
    # In float16, eps = 1e-8 and the squares of small gradients round to 0: 0 / 0 = NaN.
    tiny = np.finfo(np.float16).smallest_subnormal
    x = np.ones(3, dtype=np.float16)
    opt = Adam({"x": x}, lr=0.01)
    for _ in range(3):
        opt.step({"x": np.array([0.0, tiny, -1e-4], dtype=np.float16)})
    assert x.dtype == np.float16
    assert np.isfinite(x).all()
    assert x[0] == 1.0  # a zero gradient does not move the parameter
    assert x[1] < 1.0 < x[2]
    assert opt.m["x"].dtype == opt.v["x"].dtype == np.float32


def test_sgd_momentum_on_float16_keeps_the_velocity_in_float32():
    x = np.zeros(1, dtype=np.float16)
    opt = SGD({"x": x}, lr=1e-3, momentum=0.9)
    for _ in range(3):  # the velocity passes 65504, the largest float16
        opt.step({"x": np.array([6e4], dtype=np.float16)})
    assert opt.velocity["x"].dtype == np.float32
    assert np.isfinite(x).all()
    np.testing.assert_allclose(x, [-1e-3 * 6e4 * (1 + 1.9 + 2.71)], rtol=1e-3)


@BOTH_OPTIMIZERS
def test_the_gradient_is_checked_after_conversion_to_the_parameter_dtype(make):
    x = np.ones(2, dtype=np.float32)
    opt = make({"x": x})
    with pytest.raises(ValueError, match=r"'x'.*float32"):
        opt.step({"x": np.array([1e39, 0.0])})  # finite in float64, inf in float32
    np.testing.assert_array_equal(x, [1.0, 1.0])
    assert opt.n_steps == 0


@BOTH_OPTIMIZERS
def test_no_parameter_moves_unless_every_gradient_is_valid(make):
    a, b = np.ones(2), np.ones(2, dtype=np.float32)
    opt = make({"a": a, "b": b})
    with pytest.raises(ValueError, match="'b'"):
        opt.step({"a": np.ones(2), "b": np.array([1e39, 0.0])})
    np.testing.assert_array_equal(a, [1.0, 1.0])
    assert opt.n_steps == 0
    if isinstance(opt, Adam):
        assert not opt.m["a"].any()
        assert not opt.v["a"].any()


def test_sgd_momentum_whose_velocity_would_overflow_raises_and_changes_nothing():
    x = np.zeros(1, dtype=np.float32)
    opt = SGD({"x": x}, lr=1e-30, momentum=0.9)
    g = np.array([3e38], dtype=np.float32)
    opt.step({"x": g})
    before = x.copy(), opt.velocity["x"].copy()
    with pytest.raises(FloatingPointError, match="'x'.*float32"):
        opt.step({"x": g})  # 0.9 * 3e38 + 3e38 > 3.4e38
    np.testing.assert_array_equal(x, before[0])
    np.testing.assert_array_equal(opt.velocity["x"], before[1])
    assert opt.n_steps == 1


@pytest.mark.parametrize(
    "make", [lambda p: SGD(p, lr=1.0), lambda p: Adam(p, lr=1e38)], ids=["SGD", "Adam"]
)
def test_an_update_that_overflows_the_parameter_raises_and_changes_nothing(make):
    x = np.array([3e38, 1.0], dtype=np.float32)
    opt = make({"x": x})
    with pytest.raises(FloatingPointError, match="overflowed float32"):
        opt.step({"x": np.array([-3e38, 0.0], dtype=np.float32)})
    np.testing.assert_array_equal(x, np.array([3e38, 1.0], dtype=np.float32))
    assert opt.n_steps == 0


@BOTH_OPTIMIZERS
@pytest.mark.parametrize(
    "grad", [np.array([1 + 1j, 2j]), np.array([True, False]), np.array(["a", "b"])]
)
def test_step_refuses_gradients_that_are_not_real_numbers(make, grad):
    x = np.zeros(2)
    opt = make({"x": x})
    with pytest.raises(TypeError, match="gradient of 'x' must hold real numbers"):
        opt.step({"x": grad})
    np.testing.assert_array_equal(x, [0.0, 0.0])


def test_integer_gradients_are_converted_to_the_parameter_dtype():
    x = np.zeros(2, dtype=np.float32)
    SGD({"x": x}, lr=0.5).step({"x": np.array([2, -4])})
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, [-1.0, 2.0])


def test_step_refuses_gradients_that_are_not_a_mapping():
    opt = SGD({"x": np.zeros(2)}, lr=0.1)
    with pytest.raises(TypeError, match="grads must be a mapping"):
        opt.step([np.zeros(2)])


def test_optimizers_name_params_and_betas_in_type_errors():
    with pytest.raises(TypeError, match="params must be a mapping"):
        SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(TypeError, match="params must be named by strings"):
        SGD({0: np.zeros(2)}, lr=0.1)
    with pytest.raises(TypeError, match="betas must be a pair"):
        Adam({"x": np.zeros(2)}, betas=0.9)
    with pytest.raises(TypeError, match="betas"):
        Adam({"x": np.zeros(2)}, betas="ab")


def test_optimizer_rejects_nan_and_aliased_parameters():
    with pytest.raises(ValueError, match="'x' contains NaN"):
        Adam({"x": np.array([np.nan])})
    W = np.zeros((2, 2))
    with pytest.raises(ValueError, match="share memory"):
        SGD({"W": W, "row": W[0]}, lr=0.1)
    SGD({"row0": W[0], "row1": W[1]}, lr=0.1)  # disjoint views of one array are fine


def test_step_updates_a_zero_dimensional_parameter():
    x = np.array(1.0)
    opt = Adam({"x": x}, lr=0.1)
    opt.step({"x": np.array(5.0)})
    assert x.shape == ()
    assert float(x) == pytest.approx(0.9)


def test_adam_accepts_betas_as_a_list_or_an_array():
    for betas in ([0.8, 0.99], np.array([0.8, 0.99])):
        opt = Adam({"x": np.zeros(2)}, betas=betas)
        assert opt.betas == (0.8, 0.99)
        assert all(type(beta) is float for beta in opt.betas)
