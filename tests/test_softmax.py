"""softmax, naive_softmax and softmax_backward against the rules of docs/conventions.md."""

from __future__ import annotations

import numpy as np
import pytest

from simple_attention import naive_softmax, softmax, softmax_backward

from tolerances import FLOAT_DTYPES, TOLERANCES


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
        np.testing.assert_allclose(w.sum(axis=axis), 1.0, atol=1e-12)
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
    with pytest.raises(np.exceptions.AxisError):
        softmax(np.ones((2, 3)), axis=2)


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
