"""The loop versions agree with the vectorised versions: a contract, not a coincidence."""

from __future__ import annotations

import numpy as np
import pytest

from simple_attention import (
    attention_scores_loop,
    context_vector_loop,
    scaled_dot_product_attention,
    self_attention,
    self_attention_loop,
    softmax,
)

from tolerances import TOLERANCES

DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_query_is_row_i_of_all_queries(dtype: type, rng: np.random.Generator) -> None:
    atol, _ = TOLERANCES[dtype]
    x = rng.random((6, 5)).astype(dtype)
    context, weights = self_attention(x, return_weights=True)
    for i in range(len(x)):
        scores_i = attention_scores_loop(x, x[i])
        assert scores_i.dtype == dtype
        np.testing.assert_allclose(scores_i, (x @ x.T)[i], atol=atol)
        weights_i = softmax(scores_i)
        np.testing.assert_allclose(weights_i, weights[i], atol=atol)
        context_i = context_vector_loop(x, weights_i)
        assert context_i.dtype == dtype
        np.testing.assert_allclose(context_i, context[i], atol=atol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_self_attention_loop_equals_matmul_version(dtype: type, rng: np.random.Generator) -> None:
    atol, sum_tol = TOLERANCES[dtype]
    x = rng.normal(size=(7, 4)).astype(dtype)
    loop_context, loop_weights = self_attention_loop(x, return_weights=True)
    context, weights = self_attention(x, return_weights=True)
    assert loop_context.dtype == dtype
    assert loop_weights.dtype == dtype
    np.testing.assert_allclose(loop_context, context, atol=atol)
    np.testing.assert_allclose(loop_weights, weights, atol=atol)
    np.testing.assert_allclose(loop_weights.sum(-1), 1.0, atol=sum_tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_self_attention_equals_sdpa_with_scale_one(dtype: type, rng: np.random.Generator) -> None:
    atol, _ = TOLERANCES[dtype]
    x = rng.normal(size=(3, 6, 4)).astype(dtype)
    np.testing.assert_allclose(
        self_attention(x), scaled_dot_product_attention(x, x, x, scale=1.0), atol=atol
    )


def test_self_attention_loop_returns_context_only_by_default(rng: np.random.Generator) -> None:
    out = self_attention_loop(rng.random((3, 2)))
    assert isinstance(out, np.ndarray)
    assert out.shape == (3, 2)


def test_loops_accept_lists() -> None:
    np.testing.assert_array_equal(attention_scores_loop([[1, 2], [3, 4]], [1, 1]), [3.0, 7.0])
    np.testing.assert_array_equal(context_vector_loop([[1, 2], [3, 4]], [0.5, 0.5]), [2.0, 3.0])


class TestBadInput:
    def test_scores_feature_mismatch(self) -> None:
        with pytest.raises(ValueError, match="query has 2 features but inputs have 3"):
            attention_scores_loop(np.ones((4, 3)), np.ones(2))

    def test_context_length_mismatch(self) -> None:
        with pytest.raises(ValueError, match="weights has 3 entries but inputs has 4 rows"):
            context_vector_loop(np.ones((4, 3)), np.ones(3))

    def test_shapes_are_checked(self) -> None:
        with pytest.raises(ValueError, match="inputs must be 2-D"):
            attention_scores_loop(np.ones(3), np.ones(3))
        with pytest.raises(ValueError, match="query must be 1-D"):
            attention_scores_loop(np.ones((2, 3)), np.ones((1, 3)))
        with pytest.raises(ValueError, match="inputs must be 2-D"):
            self_attention_loop(np.ones((2, 2, 2)))

    def test_non_finite_values(self) -> None:
        with pytest.raises(ValueError, match="^query contains NaN"):
            attention_scores_loop(np.ones((2, 2)), [np.nan, 1.0])
        with pytest.raises(ValueError, match="^weights contains NaN"):
            context_vector_loop(np.ones((2, 2)), [np.inf, 1.0])

    def test_mixed_dtypes(self) -> None:
        with pytest.raises(
            TypeError, match="inputs has dtype float64 but query has dtype float32"
        ):
            attention_scores_loop(np.ones((2, 2)), np.ones(2, dtype=np.float32))

    def test_context_mixed_dtypes(self) -> None:
        with pytest.raises(
            TypeError, match="inputs has dtype float32 but weights has dtype float64"
        ):
            context_vector_loop(np.ones((2, 2), dtype=np.float32), [0.5, 0.5])

    def test_overflow_in_the_loop_version_raises(self) -> None:
        x = np.full((2, 2), 1e200)
        with pytest.raises(FloatingPointError, match="overflowed"):
            self_attention_loop(x)

    @pytest.mark.parametrize(
        ("x", "query"),
        [
            (np.full((2, 2), 1e200), np.full(2, 1e200)),  # 2e400 is beyond float64
            (np.full((2, 2), 1e20, np.float32), np.full(2, 1e20, np.float32)),  # beyond float32
        ],
    )
    def test_overflowing_score_raises_in_every_loop_function(
        self, x: np.ndarray, query: np.ndarray
    ) -> None:
        with pytest.raises(FloatingPointError, match=f"scores overflowed {x.dtype}"):
            attention_scores_loop(x, query)

    def test_overflowing_context_vector_raises(self) -> None:
        with pytest.raises(FloatingPointError, match="context vector overflowed float64"):
            context_vector_loop(np.full((2, 2), 1e308), [1.0, 1.0])
        with pytest.raises(FloatingPointError, match="context vector overflowed float32"):
            context_vector_loop(np.full((2, 2), 3e38, np.float32), np.ones(2, np.float32))

    def test_large_scores_with_a_finite_result_are_fine(self) -> None:
        x = np.array([[1e150, 0.0], [0.0, 1e150]])
        np.testing.assert_allclose(attention_scores_loop(x, x[0]), [1e300, 0.0], rtol=1e-15)
        np.testing.assert_allclose(context_vector_loop(np.full((2, 1), 1e308), [0.5, 0.5]), 1e308)

    @pytest.mark.parametrize("bad", ["no", 1, None])
    def test_return_weights_must_be_a_bool(self, bad: object) -> None:
        with pytest.raises(TypeError, match="return_weights must be True or False"):
            self_attention_loop(np.ones((2, 2)), return_weights=bad)  # type: ignore[call-overload]
