"""LayerNorm: normalisation over the last axis, its hand-derived backward pass, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simple_attention import gradcheck_layer
from simple_attention.layers.norm import LayerNorm

from tolerances import FLOAT_DTYPES, TOLERANCES

MAX_ERROR = 1e-7


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(11)


def random_norm(d_model: int, rng: np.random.Generator, **kwargs: float) -> LayerNorm:
    """A LayerNorm with random gamma and beta, so that the gradient check sees both."""
    norm = LayerNorm(d_model, **kwargs)
    norm.gamma[:] = rng.standard_normal(d_model)
    norm.beta[:] = rng.standard_normal(d_model)
    return norm


def test_parameters_start_at_ones_and_zeros() -> None:
    norm = LayerNorm(5)
    assert list(norm.params) == ["gamma", "beta"]
    np.testing.assert_array_equal(norm.gamma, np.ones(5))
    np.testing.assert_array_equal(norm.beta, np.zeros(5))
    assert norm.params["gamma"] is norm.gamma  # the arrays themselves, for in-place updates
    assert norm.eps == 1e-5


def test_each_row_has_mean_zero_and_variance_one(rng: np.random.Generator) -> None:
    x = 3.0 + 5.0 * rng.standard_normal((2, 7, 64))
    y = LayerNorm(64, eps=1e-12)(x)
    np.testing.assert_allclose(y.mean(axis=-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=-1), 1.0, atol=1e-10)


def test_matches_the_formula_written_out_in_python() -> None:
    # Independent of NumPy's vectorised code: the textbook formula, one row, pure Python.
    row = [1.0, -2.0, 0.5, 4.0]
    gamma, beta, eps = [0.5, 2.0, -1.0, 1.5], [0.1, 0.0, -0.3, 1.0], 1e-3
    mu = sum(row) / 4
    var = sum((v - mu) ** 2 for v in row) / 4  # biased
    expected = [
        g * (v - mu) / math.sqrt(var + eps) + b for v, g, b in zip(row, gamma, beta, strict=True)
    ]
    norm = LayerNorm(4, eps=eps)
    norm.gamma[:], norm.beta[:] = gamma, beta
    np.testing.assert_allclose(norm(np.array([row])), [expected], rtol=1e-14, atol=1e-14)


def test_constant_row_gives_beta_not_nan() -> None:
    norm = LayerNorm(3)
    norm.beta[:] = [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(norm(np.full((2, 3), 7.0)), [[1.0, 2.0, 3.0]] * 2)


@pytest.mark.parametrize("shape", [(6,), (4, 6), (2, 3, 6)], ids=["1d", "2d", "batch"])
def test_gradient_matches_finite_differences(shape: tuple[int, ...], rng) -> None:
    norm = random_norm(6, rng)
    errors = gradcheck_layer(norm, rng.standard_normal(shape), rng=1)
    assert sorted(errors) == ["beta", "gamma", "x"]
    assert max(errors.values()) < MAX_ERROR


def test_gradient_with_a_large_eps_matches_finite_differences(rng) -> None:
    # A large eps makes 1/sigma differ clearly from 1/std: the check sees where eps enters.
    norm = random_norm(5, rng, eps=0.5)
    errors = gradcheck_layer(norm, 0.3 * rng.standard_normal((3, 5)), rng=2)
    assert max(errors.values()) < MAX_ERROR


def test_parameter_gradients_sum_over_the_batch(rng) -> None:
    norm = random_norm(4, rng)
    x = rng.standard_normal((2, 3, 4))
    g = rng.standard_normal((2, 3, 4))
    norm(x)
    norm.backward(g)
    batched = {name: grad.copy() for name, grad in norm.grads.items()}
    total = {name: np.zeros(4) for name in batched}
    for i in range(2):
        norm(x[i])
        norm.backward(g[i])
        for name in total:
            total[name] += norm.grads[name]
    for name in total:
        np.testing.assert_allclose(batched[name], total[name], atol=TOLERANCES[np.float64][0])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_dtype_is_kept(dtype, rng) -> None:
    norm = random_norm(8, rng)
    x = rng.standard_normal((3, 8))
    expected = norm(x)
    out = norm(x.astype(dtype))
    assert out.dtype == dtype
    np.testing.assert_allclose(out, expected, atol=10 * TOLERANCES[dtype][0])
    grad_x = norm.backward(np.ones((3, 8), dtype=dtype))
    assert grad_x.dtype == dtype
    assert norm.grads["gamma"].dtype == np.float64  # the dtype of the parameters


def test_float16_input_near_its_largest_value_is_fine() -> None:
    x = np.array([[65000.0, -65000.0, 0.0, 1.0]], dtype=np.float16)
    out = LayerNorm(4)(x)
    assert out.dtype == np.float16
    assert np.isfinite(out).all()


def test_overflowing_variance_raises_instead_of_zeroing_the_row() -> None:
    with pytest.raises(FloatingPointError, match="the variance of the LayerNorm"):
        LayerNorm(2)(np.array([1e200, -1e200]))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"d_model": 0}, ValueError, "d_model must be positive"),
        ({"d_model": 2.0}, TypeError, "d_model must be an integer"),
        ({"d_model": 3, "eps": 0.0}, ValueError, "eps must be positive and finite"),
        ({"d_model": 3, "eps": -1e-5}, ValueError, "eps must be positive and finite"),
        ({"d_model": 3, "eps": float("inf")}, ValueError, "eps must be positive and finite"),
        ({"d_model": 3, "eps": float("nan")}, ValueError, "eps must be positive and finite"),
        ({"d_model": 3, "eps": True}, TypeError, "eps must be a real number"),
        ({"d_model": 3, "eps": "1e-5"}, TypeError, "eps must be a real number"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        LayerNorm(**kwargs)


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (np.ones((2, 4)), ValueError, r"x must have shape \(\.\.\., 3\)"),
        (np.float64(1.0), ValueError, r"x must have shape \(\.\.\., 3\)"),
        (np.array([[1.0, np.nan, 0.0]]), ValueError, "x contains NaN"),
        (np.ones((2, 3), dtype=complex), TypeError, "x must hold real"),
        (np.ones((2, 3), dtype=bool), TypeError, "x must hold real numbers, not booleans"),
    ],
)
def test_bad_input_is_refused(x, error, match) -> None:
    with pytest.raises(error, match=match):
        LayerNorm(3)(x)


def test_nan_parameter_is_named() -> None:
    norm = LayerNorm(3)
    norm.gamma[1] = np.nan
    with pytest.raises(ValueError, match="gamma contains NaN"):
        norm(np.ones((2, 3)))


def test_bad_grad_out_is_refused() -> None:
    norm = LayerNorm(3)
    norm(np.ones((2, 3)))
    with pytest.raises(ValueError, match="grad_out has shape"):
        norm.backward(np.ones((3, 3)))
    with pytest.raises(ValueError, match="grad_out contains NaN"):
        norm.backward(np.full((2, 3), np.nan))


def test_backward_after_a_failed_call_raises(rng) -> None:
    norm = LayerNorm(3)
    norm(rng.standard_normal((2, 3)))
    with pytest.raises(ValueError, match="x must have shape"):
        norm(np.ones((2, 4)))
    with pytest.raises(RuntimeError, match="call the LayerNorm layer on an input before"):
        norm.backward(np.ones((2, 3)))


def test_backward_keeps_its_own_copy_of_the_input(rng) -> None:
    norm = random_norm(4, rng)
    x = rng.standard_normal((3, 4))
    g = rng.standard_normal((3, 4))
    norm(x)
    expected = norm.backward(g)
    norm(x)
    x[:] = 0.0  # the caller refills its buffer before the backward pass
    np.testing.assert_array_equal(norm.backward(g), expected)


def test_train_and_eval_switch_the_mode_and_change_nothing(rng) -> None:
    norm = random_norm(4, rng)
    x = rng.standard_normal((3, 4))
    out = norm(x)
    assert norm.eval() is norm
    assert not norm.training
    np.testing.assert_array_equal(norm(x), out)
    assert norm.train().training
    with pytest.raises(TypeError, match="mode must be True or False"):
        norm.train("no")  # type: ignore[arg-type]
