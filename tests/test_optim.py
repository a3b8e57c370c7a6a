"""The optimizers: they minimise, update in place, and check what they are given."""

from __future__ import annotations

import numpy as np
import pytest

from simple_attention import SGD, Adam


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
