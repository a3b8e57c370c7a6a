"""chunked_attention: the online softmax gives the results of the textbook reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simple_attention import causal_mask, chunked_attention

from reference import reference_attention
from tolerances import FLOAT_DTYPES, TOLERANCES

ATOL = TOLERANCES[np.float64][0]  # float64 against the float64 reference


def expected(q, k, v, *, mask=None, is_causal=False, scale=None):
    """The context of the independent reference (tests/reference.py), in float64.

    The reference takes boolean masks; ``is_causal`` becomes the lower triangle, and a float
    mask (2-D, without batch dimensions) is folded into the scores as below.
    """
    if is_causal:
        mask = np.tri(q.shape[-2], k.shape[-2], dtype=bool)  # query i sees keys j <= i
    if mask is not None and mask.dtype != np.bool_:
        return reference_with_bias(q, k, v, mask, scale)
    return reference_attention(q, k, v, mask, scale)[0]


def reference_with_bias(q, k, v, bias, scale=None):
    """The reference with a float mask ``bias`` (L, S) added to the scores, -inf = blocked.

    A bias is the score of one more feature: query ``i`` gets the unit vector ``e_i`` and key
    ``j`` the column ``bias[:, j] / scale``, so that ``scale * q'_i . k'_j`` is
    ``scale * q_i . k_j + bias[i, j]``; the ``-inf`` entries become a boolean mask.
    """
    assert q.ndim == k.ndim == bias.ndim == 2
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    blocked = np.isneginf(bias)
    q_extra = np.concatenate([q, np.eye(q.shape[0])], axis=1)
    k_extra = np.concatenate([k, np.where(blocked, 0.0, bias).T / scale], axis=1)
    return reference_attention(q_extra, k_extra, v, ~blocked, scale)[0]


def qkv(rng: np.random.Generator, batch=(), n_q=9, n_k=11, d_k=4, d_v=3, dtype=np.float64):
    return tuple(
        rng.normal(size=(*batch, n, d)).astype(dtype)
        for n, d in ((n_q, d_k), (n_k, d_k), (n_k, d_v))
    )


class TestSameResultsAsSdpa:
    """Against the independent reference, which scaled_dot_product_attention also matches."""

    @pytest.mark.parametrize("block_size", [1, 2, 3, 4, 8, 11, 16, 1000])
    @pytest.mark.parametrize("is_causal", [False, True])
    def test_every_block_size(
        self, block_size: int, is_causal: bool, rng: np.random.Generator
    ) -> None:
        q, k, v = qkv(rng, batch=(2,))
        want = expected(q, k, v, is_causal=is_causal)
        got = chunked_attention(q, k, v, is_causal=is_causal, block_size=block_size)
        np.testing.assert_allclose(got, want, rtol=0, atol=ATOL)

    @pytest.mark.parametrize(("n_q", "n_k"), [(1, 1), (5, 1), (1, 7), (4, 13), (13, 4), (16, 16)])
    @pytest.mark.parametrize("is_causal", [False, True])
    def test_more_or_fewer_queries_than_keys(
        self, n_q: int, n_k: int, is_causal: bool, rng: np.random.Generator
    ) -> None:
        q, k, v = qkv(rng, n_q=n_q, n_k=n_k)
        for block_size in (1, 3, 4):
            np.testing.assert_allclose(
                chunked_attention(q, k, v, is_causal=is_causal, block_size=block_size),
                expected(q, k, v, is_causal=is_causal),
                rtol=0,
                atol=ATOL,
            )

    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    def test_dtype_kept_and_accuracy(self, dtype: type, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng, batch=(3,), n_q=20, n_k=30, dtype=dtype)
        reference = expected(q, k, v, is_causal=True)
        got = chunked_attention(q, k, v, is_causal=True, block_size=7)
        assert got.dtype == dtype
        np.testing.assert_allclose(got.astype(np.float64), reference, atol=TOLERANCES[dtype][0])

    def test_float32_stays_float32_with_the_default_scale(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng, dtype=np.float32)
        got = chunked_attention(q, k, v, block_size=4)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected(q, k, v), atol=TOLERANCES[np.float32][0])

    def test_leading_dimensions_broadcast(self, rng: np.random.Generator) -> None:
        q = rng.normal(size=(2, 1, 6, 3))
        k = rng.normal(size=(3, 5, 3))
        v = rng.normal(size=(1, 3, 5, 2))
        got = chunked_attention(q, k, v, block_size=2)
        assert got.shape == (2, 3, 6, 2)
        np.testing.assert_allclose(got, expected(q, k, v), rtol=0, atol=ATOL)

    def test_scale(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng)
        for scale in (0.0, 0.3, 5.0):
            np.testing.assert_allclose(
                chunked_attention(q, k, v, scale=scale, block_size=3),
                expected(q, k, v, scale=scale),
                rtol=0,
                atol=ATOL,
            )

    def test_strided_transposed_and_fortran_inputs(self, rng: np.random.Generator) -> None:
        q = rng.normal(size=(10, 8))[::2, ::2]
        k = rng.normal(size=(4, 6)).T
        v = np.asfortranarray(rng.normal(size=(6, 3)))
        expected = chunked_attention(*(np.ascontiguousarray(a) for a in (q, k, v)), block_size=2)
        np.testing.assert_array_equal(chunked_attention(q, k, v, block_size=2), expected)

    def test_inputs_are_not_modified(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng)
        copies = [a.copy() for a in (q, k, v)]
        chunked_attention(q, k, v, is_causal=True, block_size=3)
        for a, b in zip((q, k, v), copies, strict=True):
            np.testing.assert_array_equal(a, b)

    @given(
        n_q=st.integers(0, 12),
        n_k=st.integers(0, 12),
        block_size=st.integers(1, 13),
        is_causal=st.booleans(),
        seed=st.integers(0, 2**32 - 1),
    )
    def test_any_sizes(
        self, n_q: int, n_k: int, block_size: int, is_causal: bool, seed: int
    ) -> None:
        q, k, v = qkv(np.random.default_rng(seed), batch=(2,), n_q=n_q, n_k=n_k)
        got = chunked_attention(q, k, v, is_causal=is_causal, block_size=block_size)
        want = expected(q, k, v, is_causal=is_causal)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=ATOL)


class TestMasks:
    def test_boolean_mask(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng, batch=(2,))
        mask = rng.random((2, 9, 11)) < 0.6
        np.testing.assert_allclose(
            chunked_attention(q, k, v, mask=mask, block_size=4),
            expected(q, k, v, mask=mask),
            rtol=0,
            atol=ATOL,
        )

    def test_key_padding_mask_equals_deleting_the_keys(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng)
        keep = rng.random(11) < 0.6
        keep[0] = True
        np.testing.assert_allclose(
            chunked_attention(q, k, v, mask=keep, block_size=3),
            expected(q, k[keep], v[keep]),
            rtol=0,
            atol=ATOL,
        )

    def test_float_mask_is_added(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng)
        bias = rng.normal(size=(9, 11))
        bias[2, 5:] = -np.inf
        np.testing.assert_allclose(
            chunked_attention(q, k, v, mask=bias, block_size=4),
            expected(q, k, v, mask=bias),
            rtol=0,
            atol=ATOL,
        )

    def test_mask_with_extra_leading_dimensions(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng)
        mask = rng.random((3, 1, 11)) < 0.7
        got = chunked_attention(q, k, v, mask=mask, block_size=4)
        assert got.shape == (3, 9, 3)
        np.testing.assert_allclose(got, expected(q, k, v, mask=mask), rtol=0, atol=ATOL)

    def test_causal_mask_argument_equals_is_causal(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng, n_q=7, n_k=12)
        np.testing.assert_allclose(
            chunked_attention(q, k, v, mask=causal_mask(7, 12), block_size=5),
            chunked_attention(q, k, v, is_causal=True, block_size=5),
            rtol=0,
            atol=ATOL,
        )


class TestMaskedAndEmpty:
    def test_fully_masked_query_gives_zeros_never_nan(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng)
        mask = np.ones((9, 11), dtype=bool)
        mask[4] = False
        mask[6, :8] = False  # blocked in the first blocks, visible in the last one
        got = chunked_attention(q, k, v, mask=mask, block_size=4)
        np.testing.assert_array_equal(got[4], 0.0)
        np.testing.assert_allclose(got, expected(q, k, v, mask=mask), rtol=0, atol=ATOL)

    def test_causal_with_no_keys_for_late_queries(self, rng: np.random.Generator) -> None:
        # Top-left alignment: with 0 keys, every query is fully masked.
        q, k, v = qkv(rng, n_k=0)
        got = chunked_attention(q, k, v, is_causal=True, block_size=2)
        assert got.shape == (9, 3)
        np.testing.assert_array_equal(got, 0.0)

    def test_no_keys_gives_zeros(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng, batch=(2,), n_k=0)
        got = chunked_attention(q, k, v)
        assert got.shape == (2, 9, 3)
        np.testing.assert_array_equal(got, 0.0)

    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    def test_no_queries_gives_an_empty_result(self, dtype: type, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng, batch=(3,), n_q=0, dtype=dtype)
        got = chunked_attention(q, k, v, is_causal=True)
        assert got.shape == (3, 0, 3)
        assert got.dtype == dtype

    def test_one_key_returns_its_value_exactly(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng, n_k=1)
        got = chunked_attention(q, k, v, block_size=4)
        np.testing.assert_array_equal(got, np.broadcast_to(v[0], got.shape))

    def test_huge_finite_scores_give_hard_attention(self) -> None:
        q = np.array([[1e30, 0.0]])
        k = np.array([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0]])
        v = np.array([[1.0], [2.0], [3.0]])
        got = chunked_attention(q, k, v, scale=1.0, block_size=1)
        np.testing.assert_array_equal(got, [[2.0]])

    def test_max_moves_to_a_later_block(self) -> None:
        # The best key comes last, so every earlier block must be rescaled (alpha < 1).
        q = np.ones((1, 1))
        k = np.arange(8.0)[:, None] * 10
        v = np.arange(8.0)[:, None]
        got = chunked_attention(q, k, v, scale=1.0, block_size=2)
        np.testing.assert_allclose(got, expected(q, k, v, scale=1.0), rtol=0, atol=ATOL)


class TestBadInput:
    def test_block_size_must_be_a_positive_integer(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng)
        with pytest.raises(ValueError, match="block_size must be positive, got 0"):
            chunked_attention(q, k, v, block_size=0)
        with pytest.raises(TypeError, match="block_size must be an integer"):
            chunked_attention(q, k, v, block_size=2.5)  # type: ignore[arg-type]

    @pytest.mark.parametrize("name", ["query", "key", "value"])
    def test_non_finite_values_name_the_argument(
        self, name: str, rng: np.random.Generator
    ) -> None:
        arrays = dict(zip(("query", "key", "value"), qkv(rng), strict=True))
        arrays[name][0, 0] = np.nan
        with pytest.raises(ValueError, match=f"^{name} contains NaN or inf"):
            chunked_attention(**arrays)

    def test_overflowing_scores_raise_with_a_hint(self) -> None:
        x = np.full((2, 4), 1e30, dtype=np.float32)
        with pytest.raises(FloatingPointError, match="use float64 or smaller inputs"):
            chunked_attention(x, x, x)

    def test_queries_times_a_large_scale_overflowing_raise(self) -> None:
        x = np.full((2, 2), 1e308)
        with pytest.raises(FloatingPointError, match="scores overflowed float64"):
            chunked_attention(x, x, x, scale=10.0)

    def test_overflowing_float_mask_raises(self) -> None:
        x = np.full((2, 4), 5e18, dtype=np.float32)  # scores 1e38: finite until the mask
        with pytest.raises(FloatingPointError, match="adding the float mask overflowed"):
            chunked_attention(x, x, x, scale=1.0, mask=np.full((2, 2), 3e38))

    def test_mismatched_sizes_and_dtypes(self) -> None:
        with pytest.raises(ValueError, match="query has 5 features but key has 4"):
            chunked_attention(np.ones((2, 5)), np.ones((3, 4)), np.ones((3, 4)))
        with pytest.raises(ValueError, match="key has 3 positions but value has 2"):
            chunked_attention(np.ones((2, 4)), np.ones((3, 4)), np.ones((2, 4)))
        with pytest.raises(TypeError, match="no silent promotion"):
            chunked_attention(np.ones((2, 4)), np.ones((3, 4), np.float32), np.ones((3, 4)))
        with pytest.raises(TypeError, match="not booleans"):
            chunked_attention(np.ones((2, 4), bool), np.ones((3, 4)), np.ones((3, 4)))

    def test_mask_errors(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng)
        with pytest.raises(ValueError, match="not both"):
            chunked_attention(q, k, v, mask=causal_mask(9, 11), is_causal=True)
        with pytest.raises(TypeError, match="mask must be bool"):
            chunked_attention(q, k, v, mask=np.ones((9, 11), dtype=int))
        with pytest.raises(ValueError, match=r"mask of shape \(4,\) does not broadcast"):
            chunked_attention(q, k, v, mask=np.ones(4, dtype=bool))

    @pytest.mark.parametrize("scale", [np.nan, np.inf])
    def test_non_finite_scale_raises(self, scale: float, rng: np.random.Generator) -> None:
        with pytest.raises(ValueError, match="scale must be finite"):
            chunked_attention(*qkv(rng), scale=scale)

    def test_zero_features_need_an_explicit_scale(self) -> None:
        q, k, v = np.ones((2, 0)), np.ones((3, 0)), np.ones((3, 2))
        with pytest.raises(ValueError, match="0 features"):
            chunked_attention(q, k, v)
        np.testing.assert_allclose(chunked_attention(q, k, v, scale=1.0), np.ones((2, 2)))


class TestFlagsAndLargeValues:
    @pytest.mark.parametrize("bad", ["no", 1, None])
    def test_is_causal_must_be_a_bool(self, bad: object, rng: np.random.Generator) -> None:
        with pytest.raises(TypeError, match="is_causal must be True or False"):
            chunked_attention(*qkv(rng), is_causal=bad)  # type: ignore[arg-type]

    def test_numpy_bool_is_a_flag(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng)
        np.testing.assert_array_equal(
            chunked_attention(q, k, v, is_causal=np.True_, block_size=4),
            chunked_attention(q, k, v, is_causal=True, block_size=4),
        )

    @pytest.mark.parametrize("block_size", [1, 2, 3, 1000])
    def test_uniform_weights_over_huge_values(self, block_size: int) -> None:
        q, k = np.ones((2, 3), np.float32), np.ones((4, 3), np.float32)
        v = np.full((4, 2), 3e38, np.float32)
        got = chunked_attention(q, k, v, block_size=block_size)
        np.testing.assert_allclose(got, 3e38, rtol=1e-6)

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("block_size", [1, 2, 5, 100])
    def test_the_largest_value_and_its_negative(self, dtype: type, block_size: int) -> None:
        big = np.finfo(dtype).max
        v = np.tile(np.array([big, -big], dtype=dtype), (11, 1))
        q, k = np.zeros((6, 2), dtype), np.zeros((11, 2), dtype)
        for is_causal in (False, True):
            got = chunked_attention(q, k, v, is_causal=is_causal, block_size=block_size)
            np.testing.assert_allclose(got, [[big, -big]] * 6, rtol=8 * np.finfo(dtype).eps)

    def test_huge_values_agree_with_the_reference(self, rng: np.random.Generator) -> None:
        q, k = rng.normal(size=(2, 9, 4)), rng.normal(size=(2, 11, 4))
        v = rng.choice([-1.7e308, 1.7e308], size=(2, 11, 3))
        mask = rng.random((9, 11)) < 0.6
        mask[3] = False  # a query with no key keeps its zeros
        got = chunked_attention(q, k, v, mask=mask, block_size=4)
        want = expected(q, k, v / 4, mask=mask) * 4  # the reference, scaled out of overflow
        np.testing.assert_array_equal(got[:, 3], 0.0)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e296)
