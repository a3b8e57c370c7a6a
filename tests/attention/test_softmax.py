"""softmax, naive_softmax and softmax_backward against the rules of docs/conventions.md."""

from __future__ import annotations

import numpy as np
import pytest

from simple_attention import (
    gradcheck,
    log_softmax,
    log_softmax_backward,
    naive_softmax,
    softmax,
    softmax_backward,
)

from tolerances import FLOAT_DTYPES, TOLERANCES

SUM_ATOL = TOLERANCES[np.float64][1]  # float64: rows sum to 1


def reference_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_known_values() -> None:
    np.testing.assert_allclose(
        softmax([1.0, 2.0, 3.0]),
        [0.09003057317038046, 0.24472847105479767, 0.6652409557748219],
        rtol=1e-15,
    )


def test_rows_sum_to_one_along_the_chosen_axis(rng: np.random.Generator) -> None:
    x = rng.normal(size=(3, 4, 5))
    for axis in (0, 1, 2, -1):
        w = softmax(x, axis=axis)
        np.testing.assert_allclose(w.sum(axis=axis), 1.0, atol=SUM_ATOL)
        np.testing.assert_allclose(w, reference_softmax(x, axis), atol=1e-15)


def test_huge_finite_logits_give_an_exact_one_hot() -> None:
    assert softmax(np.array([1e30, 1.0, 0.0])).tolist() == [1.0, 0.0, 0.0]
    assert softmax(np.array([-1e30, 0.0, -1e30])).tolist() == [0.0, 1.0, 0.0]


def test_naive_softmax_overflows_where_softmax_does_not() -> None:
    x = np.array([1000.0, 2.0, 3.0])
    with pytest.warns(RuntimeWarning):
        assert np.isnan(naive_softmax(x)).any()
    np.testing.assert_array_equal(softmax(x), [1.0, 0.0, 0.0])
    # float32 overflows much earlier: exp(89) > float32 max.
    with pytest.warns(RuntimeWarning):
        assert np.isnan(naive_softmax(np.array([89.0, 0.0], dtype=np.float32))).any()
    assert naive_softmax(np.array([88.0, 0.0], dtype=np.float32)).dtype == np.float32


def test_spread_beyond_the_dtype_range_gives_the_limit_without_warning() -> None:
    # -1e308 - 1e308 overflows to -inf, whose exp is the right weight, 0: no warning (pytest
    # turns warnings into errors).
    np.testing.assert_array_equal(softmax([-1e308, 1e308]), [0.0, 1.0])
    x = np.array([[3e38, -3e38, 0.0]], dtype=np.float32)
    np.testing.assert_array_equal(softmax(x), [[1.0, 0.0, 0.0]])


def test_axis_none_normalises_over_every_entry(rng: np.random.Generator) -> None:
    x = rng.normal(size=(3, 4))
    w = softmax(x, axis=None)
    assert w.shape == (3, 4)
    np.testing.assert_allclose(w, reference_softmax(x.ravel()).reshape(3, 4), atol=1e-15)
    g = rng.normal(size=(3, 4))
    np.testing.assert_array_equal(
        softmax_backward(w, g, axis=None),
        softmax_backward(w.ravel(), g.ravel()).reshape(3, 4),
    )


@pytest.mark.parametrize("axis", [1.0, "0", True, [0]])
def test_axis_that_is_not_an_integer_raises_type_error_naming_axis(axis: object) -> None:
    for fn in (softmax, log_softmax):
        with pytest.raises(TypeError, match="axis must be an integer or None"):
            fn(np.ones((2, 3)), axis=axis)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="axis must be an integer or None"):
        softmax_backward(np.ones(3) / 3, np.ones(3), axis=axis)  # type: ignore[arg-type]


def test_numpy_integer_axis_is_accepted() -> None:
    np.testing.assert_array_equal(softmax(np.zeros((2, 2)), axis=np.int64(0)), 0.5)


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (np.array([True, False]), TypeError),
        (np.array([1 + 1j, 0j]), TypeError),
        (np.array([np.nan, 0.0]), ValueError),
    ],
)
def test_naive_softmax_validates_its_input(bad: np.ndarray, error: type) -> None:
    with pytest.raises(error, match="^x "):
        naive_softmax(bad)


def test_naive_softmax_axis_none_and_bad_axis() -> None:
    np.testing.assert_allclose(naive_softmax(np.zeros((2, 2)), axis=None), 0.25)
    with pytest.raises(TypeError, match="axis must be an integer or None"):
        naive_softmax(np.zeros(2), axis=0.5)  # type: ignore[arg-type]


def test_neg_inf_blocks_an_entry() -> None:
    np.testing.assert_array_equal(softmax([0.0, -np.inf, 0.0]), [0.5, 0.0, 0.5])


def test_fully_blocked_row_gives_zeros_without_warning() -> None:
    x = np.array([[1.0, 2.0], [-np.inf, -np.inf]])
    # pytest runs with warnings as errors, so a RuntimeWarning here would fail the test.
    w = softmax(x)
    np.testing.assert_array_equal(w[1], [0.0, 0.0])
    np.testing.assert_allclose(w[0], reference_softmax(x[0]))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_plus_inf_raise(bad: float) -> None:
    with pytest.raises(ValueError, match="x contains NaN or \\+inf"):
        softmax([0.0, bad])


def test_zero_dimensional_input_raises() -> None:
    with pytest.raises(ValueError, match="at least 1-D"):
        softmax(np.float64(1.0))


def test_axis_out_of_range_raises() -> None:
    for fn in (softmax, log_softmax):
        with pytest.raises(np.exceptions.AxisError, match="axis 2 is out of bounds"):
            fn(np.ones((2, 3)), axis=2)
        with pytest.raises(np.exceptions.AxisError, match="axis -3 is out of bounds"):
            fn(np.ones((2, 3)), axis=-3)


def test_empty_axis_gives_empty_result() -> None:
    out = softmax(np.ones((3, 0)))
    assert out.shape == (3, 0)
    assert out.dtype == np.float64
    assert softmax(np.ones((0, 4))).shape == (0, 4)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_dtype_is_kept_and_accuracy_matches_the_contract(
    dtype: type, rng: np.random.Generator
) -> None:
    atol, sum_tol = TOLERANCES[dtype]
    x = rng.normal(scale=3.0, size=(8, 16)).astype(dtype)
    w = softmax(x)
    assert w.dtype == dtype
    np.testing.assert_allclose(w, reference_softmax(x.astype(np.float64)), atol=atol)
    np.testing.assert_allclose(w.astype(np.float64).sum(-1), 1.0, atol=sum_tol)


def test_float16_is_computed_in_float32() -> None:
    # 20 equal logits: each weight is 0.05. Summing 20 float16 exponentials in float16 and
    # dividing would still be close, so use inputs whose float16 exp() underflows instead.
    x = np.array([0.0, -17.0], dtype=np.float16)  # exp(-17) is below float16's smallest value
    w = softmax(x)
    assert w.dtype == np.float16
    expected = reference_softmax(x.astype(np.float64)).astype(np.float16)
    np.testing.assert_array_equal(w, expected)


def test_lists_and_integers_become_float64() -> None:
    w = softmax([[1, 2], [3, 3]])
    assert w.dtype == np.float64
    np.testing.assert_allclose(w[1], [0.5, 0.5])


@pytest.mark.parametrize(
    "bad", [np.array([True, False]), np.array([1 + 1j, 0j]), np.array(["a", "b"])]
)
def test_non_real_input_raises_type_error(bad: np.ndarray) -> None:
    with pytest.raises(TypeError, match="x must hold"):
        softmax(bad)


def test_strided_and_fortran_views_match_a_copy(rng: np.random.Generator) -> None:
    x = rng.normal(size=(6, 8))
    for view in (x.T, x[::2, ::3], np.asfortranarray(x)):
        np.testing.assert_array_equal(softmax(view), softmax(np.ascontiguousarray(view)))


def test_softmax_does_not_modify_its_input(rng: np.random.Generator) -> None:
    x = rng.normal(size=(3, 4))
    before = x.copy()
    softmax(x)
    np.testing.assert_array_equal(x, before)


class TestBackward:
    def test_matches_central_differences(self, rng: np.random.Generator) -> None:
        s = rng.normal(size=(3, 5))
        g = rng.normal(size=(3, 5))
        analytic = softmax_backward(softmax(s), g)
        eps = 1e-6
        numeric = np.zeros_like(s)
        for idx in np.ndindex(*s.shape):
            plus, minus = s.copy(), s.copy()
            plus[idx] += eps
            minus[idx] -= eps
            numeric[idx] = ((softmax(plus) - softmax(minus)) * g).sum() / (2 * eps)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-7, atol=1e-10)

    def test_fully_masked_row_has_zero_gradient(self, rng: np.random.Generator) -> None:
        w = softmax(np.array([[0.0, 1.0], [-np.inf, -np.inf]]))
        grad = softmax_backward(w, rng.normal(size=(2, 2)))
        np.testing.assert_array_equal(grad[1], [0.0, 0.0])
        assert np.isfinite(grad).all()

    def test_shape_mismatch_raises(self) -> None:
        with pytest.raises(ValueError, match=r"weights has shape \(2,\) but grad_weights"):
            softmax_backward([0.5, 0.5], [1.0, 2.0, 3.0])

    def test_other_axis(self, rng: np.random.Generator) -> None:
        s = rng.normal(size=(4, 3))
        g = rng.normal(size=(4, 3))
        np.testing.assert_allclose(
            softmax_backward(softmax(s, axis=0), g, axis=0),
            softmax_backward(softmax(s.T), g.T).T,
            atol=1e-15,
        )

    def test_subtraction_that_overflows_falls_back_to_the_safe_order(self) -> None:
        # g - sum(g w) = [-2.25e308, 0.75e308] overflows, the gradient w (g - sum(g w)) does not.
        grad = softmax_backward([0.25, 0.75], [-1.5e308, 1.5e308])
        np.testing.assert_allclose(grad, [-5.625e307, 5.625e307], rtol=1e-15)

    def test_float16_is_computed_in_float32(self) -> None:
        # In float16, g - sum(g w) = 60000 + 30000 overflows; the gradient is 22500.
        w = np.array([0.25, 0.75], dtype=np.float16)
        grad = softmax_backward(w, np.array([60000.0, -60000.0], dtype=np.float16))
        assert grad.dtype == np.float16
        np.testing.assert_array_equal(grad, np.array([22500.0, -22500.0], dtype=np.float16))

    def test_gradient_beyond_the_dtype_range_raises(self) -> None:
        # Weights that no softmax gives (they sum to 4): the true gradient is beyond float64.
        with pytest.raises(FloatingPointError, match="gradient through softmax overflowed"):
            softmax_backward([2.0, 2.0], [1e308, -1e308])

    def test_mixed_dtypes_raise_type_error(self) -> None:
        with pytest.raises(TypeError, match="no silent promotion"):
            softmax_backward(np.ones(2, np.float32) / 2, np.ones(2))

    @pytest.mark.parametrize("name", ["weights", "grad_weights"])
    def test_complex_inputs_raise_type_error(self, name: str) -> None:
        arrays = {"weights": np.array([0.5, 0.5]), "grad_weights": np.array([1.0, 2.0])}
        arrays[name] = arrays[name] + 1j
        with pytest.raises(TypeError, match=f"{name} must hold real"):
            softmax_backward(**arrays)


# Values from SciPy's test suite (scipy.special.tests.test_log_softmax; the arange(4) row was
# computed there with mpmath at 200 digits).
SCIPY_ARANGE4 = [
    -3.4401896985611953,
    -2.4401896985611953,
    -1.4401896985611953,
    -0.44018969856119533,
]


class TestLogSoftmax:
    @pytest.mark.parametrize(
        ("x", "expected"),
        [([1000, 1], [0, -999]), (np.arange(4), SCIPY_ARANGE4)],
    )
    def test_values_from_scipy(self, x: list[int], expected: list[float]) -> None:
        np.testing.assert_allclose(log_softmax(x), expected, rtol=1e-13)

    def test_translation_changes_nothing(self) -> None:
        np.testing.assert_allclose(log_softmax(np.arange(4) + 100), SCIPY_ARANGE4, rtol=1e-13)

    def test_axes_from_scipy(self) -> None:
        x = [[1000, 1], [1000, 1]]
        np.testing.assert_allclose(log_softmax(x, axis=0), np.log(0.5) * np.ones((2, 2)))
        np.testing.assert_allclose(log_softmax(x, axis=1), [[0, -999], [0, -999]], rtol=1e-13)
        x2 = np.arange(8).reshape(2, 4)
        expected = np.array([SCIPY_ARANGE4, SCIPY_ARANGE4])
        np.testing.assert_allclose(log_softmax(x2, axis=1), expected, rtol=1e-13)
        np.testing.assert_allclose(log_softmax(x2.T, axis=0), expected.T, rtol=1e-13)

    def test_axis_none_is_the_whole_array(self) -> None:
        out = log_softmax(np.arange(4).reshape(2, 2), axis=None)
        np.testing.assert_allclose(out, np.reshape(SCIPY_ARANGE4, (2, 2)), rtol=1e-13)

    def test_log_of_softmax_underflows_where_log_softmax_does_not(self) -> None:
        with np.errstate(divide="ignore"):
            assert np.log(softmax([1000.0, 1.0]))[1] == -np.inf
        np.testing.assert_array_equal(log_softmax([1000.0, 1.0]), [0.0, -999.0])

    def test_exp_gives_softmax(self, rng: np.random.Generator) -> None:
        x = rng.normal(scale=3.0, size=(4, 6))
        for axis in (0, 1):
            np.testing.assert_allclose(
                np.exp(log_softmax(x, axis=axis)), softmax(x, axis=axis), rtol=1e-14
            )

    def test_blocked_entries_and_fully_blocked_rows_give_neg_inf_never_nan(self) -> None:
        out = log_softmax([[0.0, -np.inf, 0.0], [-np.inf, -np.inf, -np.inf]])
        np.testing.assert_allclose(out[0], [np.log(0.5), -np.inf, np.log(0.5)])
        np.testing.assert_array_equal(out[1], -np.inf)

    def test_empty_axis_gives_empty_result(self) -> None:
        assert log_softmax(np.ones((3, 0))).shape == (3, 0)
        assert log_softmax(np.ones((0, 4))).shape == (0, 4)

    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    def test_dtype_is_kept(self, dtype: type, rng: np.random.Generator) -> None:
        atol, _ = TOLERANCES[dtype]
        x = rng.normal(scale=3.0, size=(8, 16)).astype(dtype)
        out = log_softmax(x)
        assert out.dtype == dtype
        expected = np.log(reference_softmax(x.astype(np.float64)))
        np.testing.assert_allclose(out, expected, atol=10 * atol)

    def test_float16_is_computed_in_float32(self) -> None:
        x = np.linspace(-8, 8, 300).astype(np.float16)
        out = log_softmax(x)
        assert out.dtype == np.float16
        np.testing.assert_array_equal(out, log_softmax(x.astype(np.float32)).astype(np.float16))

    @pytest.mark.parametrize("bad", [np.nan, np.inf])
    def test_nan_and_plus_inf_raise(self, bad: float) -> None:
        with pytest.raises(ValueError, match="x contains NaN or \\+inf"):
            log_softmax([0.0, bad])

    def test_zero_dimensional_and_non_real_input_raise(self) -> None:
        with pytest.raises(ValueError, match="at least 1-D"):
            log_softmax(1.0)
        with pytest.raises(TypeError, match="x must hold"):
            log_softmax(np.array([1j, 0j]))

    @pytest.mark.parametrize(
        "x",
        [
            np.array([1e308, -1e308]),
            np.array([3e38, -3e38], dtype=np.float32),
            np.array([65504, -65504], dtype=np.float16),  # -131008 is beyond float16
        ],
    )
    def test_log_probability_beyond_the_dtype_raises(self, x: np.ndarray) -> None:
        with pytest.raises(FloatingPointError, match=f"log_softmax\\(x\\) overflowed {x.dtype}"):
            log_softmax(x)

    def test_does_not_modify_its_input(self, rng: np.random.Generator) -> None:
        x = rng.normal(size=(3, 4))
        before = x.copy()
        log_softmax(x)
        np.testing.assert_array_equal(x, before)


class TestLogSoftmaxBackward:
    @pytest.mark.parametrize("axis", [-1, 0])
    def test_matches_finite_differences(self, axis: int, rng: np.random.Generator) -> None:
        x = rng.normal(size=(4, 5))

        def backward(g: np.ndarray, s: np.ndarray) -> list[np.ndarray]:
            return [log_softmax_backward(log_softmax(s, axis=axis), g, axis=axis)]

        assert gradcheck(lambda s: log_softmax(s, axis=axis), backward, [x], rng=rng) < 1e-7

    def test_is_onehot_minus_softmax(self) -> None:
        y = log_softmax([1.0, 2.0, 3.0])
        np.testing.assert_allclose(
            log_softmax_backward(y, [1.0, 0.0, 0.0]), [1, 0, 0] - softmax([1.0, 2.0, 3.0])
        )

    def test_blocked_entries_get_and_pass_no_gradient(self, rng: np.random.Generator) -> None:
        x = np.array([[0.5, -np.inf, 1.0], [-np.inf, -np.inf, -np.inf]])
        g = rng.normal(size=(2, 3))
        grad = log_softmax_backward(log_softmax(x), g)
        np.testing.assert_array_equal(grad[1], 0.0)
        assert grad[0, 1] == 0.0
        # The finite entries get the gradient of the row without the blocked entry.
        kept = log_softmax_backward(log_softmax(x[0, [0, 2]]), g[0, [0, 2]])
        np.testing.assert_allclose(grad[0, [0, 2]], kept, rtol=1e-15)

    def test_overflowing_sum_falls_back_to_a_scaled_sum(self) -> None:
        # sum(g) = 2e308 overflows; the gradient g - softmax * sum(g) is exactly 0.
        grad = log_softmax_backward(log_softmax([0.0, 0.0]), [1e308, 1e308])
        np.testing.assert_allclose(grad, [0.0, 0.0], atol=1e293)

    def test_float16_is_kept(self) -> None:
        y = log_softmax(np.array([0.0, 1.0], dtype=np.float16))
        grad = log_softmax_backward(y, np.array([1.0, 0.0], dtype=np.float16))
        assert grad.dtype == np.float16
        np.testing.assert_allclose(grad, [0.7311, -0.7311], atol=1e-3)

    def test_bad_input(self) -> None:
        y = log_softmax([1.0, 2.0])
        with pytest.raises(ValueError, match=r"log_probs has shape \(2,\) but grad_log_probs"):
            log_softmax_backward(y, [1.0, 2.0, 3.0])
        with pytest.raises(TypeError, match="grad_log_probs must hold real"):
            log_softmax_backward(y, np.array([1.0, 2.0]) + 1j)
        with pytest.raises(ValueError, match="grad_log_probs contains NaN or inf"):
            log_softmax_backward(y, [1.0, np.inf])
        with pytest.raises(TypeError, match="no silent promotion"):
            log_softmax_backward(y.astype(np.float32), [1.0, 2.0])
