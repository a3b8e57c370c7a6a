"""scaled_dot_product_attention and self_attention against the rules of docs/conventions.md."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simple_attention import (
    causal_mask,
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
    self_attention,
)
from simple_attention.attention.scaled import attend, attend_backward, attend_blocked

from reference import reference_attention
from tolerances import FLOAT_DTYPES, TOLERANCES

ATOL, SUM_ATOL = TOLERANCES[np.float64]  # float64: against a reference, rows sum to 1

sdpa = scaled_dot_product_attention
sdpa_backward = scaled_dot_product_attention_backward


def qkv(rng: np.random.Generator, batch=(), n_q=4, n_k=5, d_k=3, d_v=2):
    return (
        rng.normal(size=(*batch, n_q, d_k)),
        rng.normal(size=(*batch, n_k, d_k)),
        rng.normal(size=(*batch, n_k, d_v)),
    )


class TestValues:
    def test_matches_the_reference(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng)
        context, weights = sdpa(q, k, v, return_weights=True)
        ref_context, ref_weights = reference_attention(q, k, v)
        np.testing.assert_allclose(context, ref_context, atol=ATOL)
        np.testing.assert_allclose(weights, ref_weights, atol=ATOL)
        np.testing.assert_allclose(weights.sum(-1), 1.0, atol=SUM_ATOL)

    def test_returns_only_context_by_default(self, rng: np.random.Generator) -> None:
        out = sdpa(*qkv(rng))
        assert isinstance(out, np.ndarray)
        assert out.shape == (4, 2)

    def test_batch_and_head_dimensions(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng, batch=(2, 3))
        context = sdpa(q, k, v)
        assert context.shape == (2, 3, 4, 2)
        for b in range(2):
            for h in range(3):
                np.testing.assert_allclose(
                    context[b, h], reference_attention(q[b, h], k[b, h], v[b, h])[0], atol=ATOL
                )

    def test_leading_dimensions_broadcast(self, rng: np.random.Generator) -> None:
        q = rng.normal(size=(2, 1, 4, 3))
        k = rng.normal(size=(3, 5, 3))  # shared by the batch
        v = rng.normal(size=(1, 3, 5, 2))
        assert sdpa(q, k, v).shape == (2, 3, 4, 2)

    def test_default_scale_is_one_over_sqrt_dk(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng, d_k=16)
        np.testing.assert_allclose(sdpa(q, k, v), sdpa(q, k, v, scale=0.25), atol=1e-15)
        assert not np.allclose(sdpa(q, k, v), sdpa(q, k, v, scale=1.0))

    def test_scale_zero_averages_the_values(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng)
        context = sdpa(q, k, v, scale=0.0)
        np.testing.assert_allclose(context, np.broadcast_to(v.mean(0), context.shape), atol=1e-15)

    def test_self_attention_is_sdpa_with_scale_one(self, rng: np.random.Generator) -> None:
        x = rng.normal(size=(2, 5, 3))
        c1, w1 = self_attention(x, return_weights=True)
        c2, w2 = sdpa(x, x, x, scale=1.0, return_weights=True)
        np.testing.assert_array_equal(c1, c2)
        np.testing.assert_array_equal(w1, w2)

    def test_one_key_returns_its_value_exactly(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng, n_k=1)
        context = sdpa(q, k, v)
        np.testing.assert_array_equal(context, np.broadcast_to(v[0], context.shape))

    def test_large_scale_gives_hard_attention(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng)
        _, weights = sdpa(q, k, v, scale=1e6, return_weights=True)
        best = (q @ k.T).argmax(-1)
        np.testing.assert_array_equal(weights, np.eye(k.shape[0])[best])

    def test_inputs_are_not_modified(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng)
        copies = [a.copy() for a in (q, k, v)]
        sdpa(q, k, v, is_causal=True)
        for a, b in zip((q, k, v), copies, strict=True):
            np.testing.assert_array_equal(a, b)


class TestMasks:
    def test_boolean_mask_true_means_may_attend(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng)
        mask = rng.random((4, 5)) < 0.7
        mask[:, 0] = True  # every query keeps at least one key
        context, weights = sdpa(q, k, v, mask=mask, return_weights=True)
        np.testing.assert_allclose(context, reference_attention(q, k, v, mask)[0], atol=ATOL)
        assert (weights[~mask] == 0).all()

    def test_blocking_a_key_equals_deleting_it(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng)
        keep = np.array([True, True, False, True, True])
        masked = sdpa(q, k, v, mask=keep)  # a key-padding mask of shape (S,)
        np.testing.assert_allclose(masked, sdpa(q, k[keep], v[keep]), atol=ATOL)

    def test_float_mask_is_added(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng)
        bias = rng.normal(size=(4, 5))
        scale = 1 / math.sqrt(3)
        expected = reference_attention(q, k, v, scale=1.0)
        scores = q @ k.T * scale + bias
        w = np.exp(scores - scores.max(-1, keepdims=True))
        w /= w.sum(-1, keepdims=True)
        np.testing.assert_allclose(sdpa(q, k, v, mask=bias), w @ v, atol=ATOL)
        assert not np.allclose(sdpa(q, k, v, mask=bias), expected[0])

    def test_float_mask_zero_changes_nothing_and_neg_inf_blocks(
        self, rng: np.random.Generator
    ) -> None:
        q, k, v = qkv(rng)
        np.testing.assert_array_equal(sdpa(q, k, v, mask=np.zeros(5)), sdpa(q, k, v))
        bool_mask = causal_mask(4, 5)
        float_mask = np.where(bool_mask, 0.0, -np.inf)
        np.testing.assert_allclose(
            sdpa(q, k, v, mask=float_mask), sdpa(q, k, v, mask=bool_mask), atol=1e-15
        )

    @pytest.mark.parametrize("dtype", [np.int64, np.uint8, np.int32])
    def test_integer_masks_are_refused(self, dtype: type, rng: np.random.Generator) -> None:
        with pytest.raises(TypeError, match="mask must be bool"):
            sdpa(*qkv(rng), mask=np.ones((4, 5), dtype=dtype))

    def test_float_mask_with_nan_or_plus_inf_is_refused(self, rng: np.random.Generator) -> None:
        for bad in (np.nan, np.inf):
            mask = np.zeros((4, 5))
            mask[1, 2] = bad
            with pytest.raises(ValueError, match="mask contains NaN or \\+inf"):
                sdpa(*qkv(rng), mask=mask)

    def test_mask_shape_error_names_both_shapes(self, rng: np.random.Generator) -> None:
        with pytest.raises(ValueError, match=r"mask of shape \(3,\).*scores of shape \(4, 5\)"):
            sdpa(*qkv(rng), mask=np.ones(3, dtype=bool))

    def test_batched_key_padding_mask(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng, batch=(2, 3))
        lengths = np.array([5, 2])
        pad = (np.arange(5) < lengths[:, None])[:, None, None, :]  # (B, 1, 1, S)
        context = sdpa(q, k, v, mask=pad)
        short = sdpa(q[1], k[1, :, :2], v[1, :, :2])
        np.testing.assert_allclose(context[1], short, atol=ATOL)
        np.testing.assert_allclose(context[0], sdpa(q[0], k[0], v[0]), atol=ATOL)

    def test_is_causal_equals_the_causal_mask(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng, n_q=5, n_k=5)
        np.testing.assert_array_equal(
            sdpa(q, k, v, is_causal=True), sdpa(q, k, v, mask=causal_mask(5))
        )

    def test_is_causal_with_more_keys_is_top_left_aligned(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng, n_q=2, n_k=4)
        _, weights = sdpa(q, k, v, is_causal=True, return_weights=True)
        assert weights[0, 0] == 1.0
        assert (weights[:, 2:] == 0).all()

    def test_is_causal_and_mask_together_raise(self, rng: np.random.Generator) -> None:
        with pytest.raises(ValueError, match="not both"):
            sdpa(*qkv(rng), mask=np.ones((4, 5), dtype=bool), is_causal=True)

    def test_fully_masked_query_gives_zeros_never_nan(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng)
        mask = np.ones((4, 5), dtype=bool)
        mask[2] = False
        context, weights = sdpa(q, k, v, mask=mask, return_weights=True)
        np.testing.assert_array_equal(context[2], 0.0)
        np.testing.assert_array_equal(weights[2], 0.0)
        np.testing.assert_allclose(np.delete(weights, 2, 0).sum(-1), 1.0, atol=SUM_ATOL)
        # A float mask of -inf behaves the same.
        float_mask = np.where(mask, 0.0, -np.inf)
        np.testing.assert_array_equal(sdpa(q, k, v, mask=float_mask)[2], 0.0)


class TestEmpty:
    def test_no_keys_gives_zeros(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng, batch=(2,), n_k=0)
        context, weights = sdpa(q, k, v, return_weights=True)
        assert context.shape == (2, 4, 2)
        assert weights.shape == (2, 4, 0)
        np.testing.assert_array_equal(context, 0.0)

    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    def test_no_queries_gives_an_empty_result(self, dtype: type, rng: np.random.Generator) -> None:
        q, k, v = (a.astype(dtype) for a in qkv(rng, batch=(3,), n_q=0))
        context = sdpa(q, k, v)
        assert context.shape == (3, 0, 2)
        assert context.dtype == dtype


class TestBadInput:
    @pytest.mark.parametrize("name", ["query", "key", "value"])
    @pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
    def test_non_finite_values_name_the_argument(
        self, name: str, bad: float, rng: np.random.Generator
    ) -> None:
        arrays = dict(zip(("query", "key", "value"), qkv(rng), strict=True))
        arrays[name][0, 0] = bad
        with pytest.raises(ValueError, match=f"^{name} contains NaN or inf"):
            sdpa(**arrays)

    def test_overflowing_scores_raise_with_a_hint(self) -> None:
        x = np.full((2, 4), 1e30, dtype=np.float32)
        with pytest.raises(FloatingPointError, match="use float64 or smaller inputs"):
            sdpa(x, x, x)
        # The same numbers are fine in float64.
        y = x.astype(np.float64)
        np.testing.assert_allclose(sdpa(y, y, y), y)

    def test_queries_times_a_large_scale_overflowing_raise(self) -> None:
        x = np.full((2, 2), 1e308)
        with pytest.raises(FloatingPointError, match="scores overflowed float64"):
            sdpa(x, x, x, scale=10.0)

    def test_feature_mismatch_names_both_sizes(self) -> None:
        with pytest.raises(ValueError, match="query has 5 features but key has 4"):
            sdpa(np.ones((2, 5)), np.ones((3, 4)), np.ones((3, 4)))

    def test_length_mismatch_names_both_lengths(self) -> None:
        with pytest.raises(ValueError, match="key has 3 positions but value has 4"):
            sdpa(np.ones((2, 4)), np.ones((3, 4)), np.ones((4, 4)))

    def test_leading_dimensions_that_do_not_broadcast(self) -> None:
        with pytest.raises(ValueError, match=r"query \(2, 3, 4\), key \(3, 3, 4\)"):
            sdpa(np.ones((2, 3, 4)), np.ones((3, 3, 4)), np.ones((3, 3, 4)))

    def test_one_dimensional_input_is_refused(self) -> None:
        with pytest.raises(ValueError, match="query must be at least 2-D"):
            sdpa(np.ones(4), np.ones((3, 4)), np.ones((3, 4)))

    @pytest.mark.parametrize("bad", [np.array([[True, False]]), np.array([[1j, 0j]])])
    def test_bool_and_complex_inputs_raise_type_error(self, bad: np.ndarray) -> None:
        with pytest.raises(TypeError, match="query must hold"):
            sdpa(bad, np.ones((3, 2)), np.ones((3, 2)))

    def test_mixed_dtypes_raise_type_error(self) -> None:
        with pytest.raises(TypeError, match="query has dtype float32 but key has dtype float64"):
            sdpa(np.ones((2, 2), np.float32), np.ones((2, 2)), np.ones((2, 2)))

    def test_integers_and_lists_become_float64(self) -> None:
        out = sdpa([[1, 0]], [[1, 0], [0, 1]], [[1, 2], [3, 4]])
        assert out.dtype == np.float64
        np.testing.assert_allclose(
            out, reference_attention([[1, 0]], [[1, 0], [0, 1]], [[1, 2], [3, 4]])[0]
        )

    @pytest.mark.parametrize("scale", [np.nan, np.inf, -np.inf])
    def test_non_finite_scale_raises(self, scale: float, rng: np.random.Generator) -> None:
        with pytest.raises(ValueError, match="scale must be finite"):
            sdpa(*qkv(rng), scale=scale)

    def test_non_numeric_scale_raises(self, rng: np.random.Generator) -> None:
        with pytest.raises(TypeError, match="scale must be a real number"):
            sdpa(*qkv(rng), scale="0.5")

    def test_zero_features_need_an_explicit_scale(self) -> None:
        with pytest.raises(ValueError, match="0 features"):
            sdpa(np.ones((2, 0)), np.ones((3, 0)), np.ones((3, 1)))
        np.testing.assert_allclose(
            sdpa(np.ones((2, 0)), np.ones((3, 0)), np.arange(3.0)[:, None], scale=1.0), 1.0
        )


class TestDtypes:
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    def test_dtype_kept_and_accuracy(self, dtype: type, rng: np.random.Generator) -> None:
        atol, sum_tol = TOLERANCES[dtype]
        q, k, v = qkv(rng, batch=(2,), n_q=6, n_k=7, d_k=8, d_v=4)
        context, weights = sdpa(*(a.astype(dtype) for a in (q, k, v)), return_weights=True)
        assert context.dtype == dtype
        assert weights.dtype == dtype
        # The reference uses the same rounded inputs, so only the computation is compared.
        rounded = [a.astype(dtype).astype(np.float64) for a in (q, k, v)]
        ref_context, _ref_weights = reference_attention(*rounded)
        np.testing.assert_allclose(context.astype(np.float64), ref_context, atol=atol)
        np.testing.assert_allclose(weights.astype(np.float64).sum(-1), 1.0, atol=sum_tol)

    def test_float32_stays_float32_with_the_default_scale(self, rng: np.random.Generator) -> None:
        q, k, v = (a.astype(np.float32) for a in qkv(rng))
        out, weights = sdpa(q, k, v, return_weights=True)
        assert out.dtype == np.float32
        assert weights.dtype == np.float32

    def test_strided_transposed_and_fortran_inputs(self, rng: np.random.Generator) -> None:
        base = rng.normal(size=(10, 8))
        q = base[::2, ::2]  # strided view (5, 4)
        k = rng.normal(size=(4, 6)).T  # transposed (6, 4)
        v = np.asfortranarray(rng.normal(size=(6, 3)))
        expected = sdpa(*(np.ascontiguousarray(a) for a in (q, k, v)), is_causal=True)
        np.testing.assert_array_equal(sdpa(q, k, v, is_causal=True), expected)


class TestFlags:
    @pytest.mark.parametrize("flag", ["is_causal", "return_weights"])
    @pytest.mark.parametrize("bad", ["no", "False", 1, 0, None])
    def test_flags_must_be_bools(self, flag: str, bad: object, rng: np.random.Generator) -> None:
        with pytest.raises(TypeError, match=f"{flag} must be True or False"):
            sdpa(*qkv(rng), **{flag: bad})  # type: ignore[call-overload]

    def test_self_attention_return_weights_must_be_a_bool(self, rng: np.random.Generator) -> None:
        with pytest.raises(TypeError, match="return_weights must be True or False"):
            self_attention(rng.normal(size=(3, 2)), return_weights="no")  # type: ignore[call-overload]

    def test_numpy_bools_are_flags(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng)
        context, _ = sdpa(q, k, v, is_causal=np.True_, return_weights=np.True_)
        np.testing.assert_array_equal(
            context, sdpa(q, k, v, is_causal=True, return_weights=True)[0]
        )


def context_of(q, k, v, return_weights: bool, **kwargs):
    """The context of sdpa, from the readable kernel (with weights) or the blocked one."""
    if return_weights:
        return sdpa(q, k, v, return_weights=True, **kwargs)[0]
    return sdpa(q, k, v, **kwargs)


# Both kernels: the readable one runs with return_weights=True, the blocked one without.
both_kernels = pytest.mark.parametrize(
    "return_weights", [False, True], ids=["blocked", "readable"]
)


class TestLargeFiniteValues:
    """Values near the largest number: P V overflows, the weighted average does not."""

    def test_uniform_weights_over_huge_values(self) -> None:
        q, k = np.ones((2, 3), np.float32), np.ones((4, 3), np.float32)
        v = np.full((4, 2), 3e38, np.float32)
        context, weights = sdpa(q, k, v, return_weights=True)
        np.testing.assert_allclose(context, 3e38, rtol=1e-6)
        np.testing.assert_allclose(weights, 0.25, rtol=1e-6)
        np.testing.assert_allclose(sdpa(q, k, v), 3e38, rtol=1e-6)

    @both_kernels
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("n_keys", [1, 2, 6, 11, 40])
    def test_the_largest_value_and_its_negative(
        self, dtype: type, n_keys: int, return_weights: bool
    ) -> None:
        # Weights that round up (1/11, ...) would step past the largest number: no inf.
        big = np.finfo(dtype).max
        v = np.tile(np.array([big, -big], dtype=dtype), (n_keys, 1))
        for is_causal in (False, True):
            q, k = np.zeros((3, 2), dtype), np.zeros((n_keys, 2), dtype)
            context = context_of(q, k, v, return_weights, is_causal=is_causal)
            np.testing.assert_allclose(context[-1], [big, -big], rtol=8 * np.finfo(dtype).eps)

    @both_kernels
    def test_mixed_signs_cancel_as_in_the_reference(
        self, rng: np.random.Generator, return_weights: bool
    ) -> None:
        q, k = rng.normal(size=(5, 3)), rng.normal(size=(6, 3))
        v = rng.choice([-1.5e308, 1.5e308], size=(6, 2))
        mask = rng.random((5, 6)) < 0.7
        mask[:, 0] = True
        ref_weights = reference_attention(q, k, v, mask)[1]
        expected = (ref_weights @ (v / 4)) * 4  # the reference, scaled out of overflow
        context = context_of(q, k, v, return_weights, mask=mask)
        np.testing.assert_allclose(context, expected, rtol=1e-12, atol=1e296)

    @both_kernels
    def test_fully_masked_rows_stay_zero(self, return_weights: bool) -> None:
        v = np.full((4, 1), 1e308)
        mask = np.array([[True] * 4, [False] * 4])
        context = context_of(np.zeros((2, 2)), np.zeros((4, 2)), v, return_weights, mask=mask)
        np.testing.assert_allclose(context, [[1e308], [0.0]], rtol=1e-15)


KERNEL_CASES: dict[str, dict[str, object]] = {
    "plain": {},
    "causal": {"is_causal": True},
    "bool mask": {"mask": "bool"},
    "float mask": {"mask": "float"},
    "fully masked rows": {"mask": "blocked rows"},
    "key padding": {"mask": "padding"},
}


class TestReadableKernel:
    """attend (the formula as it reads) and attend_blocked give the same numbers."""

    @staticmethod
    def mask_for(kind: str, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        if kind == "bool":
            return rng.random(shape) < 0.6
        if kind == "float":
            return np.where(rng.random(shape) < 0.6, rng.normal(size=shape), -np.inf)
        if kind == "blocked rows":
            mask = rng.random(shape) < 0.6
            mask[..., 1, :] = False  # query 1 may attend to no key
            return mask
        return rng.random(shape[-1]) < 0.7  # (S,), broadcast over every query

    @pytest.mark.parametrize("dtype", [np.float64, np.float32])
    @pytest.mark.parametrize("case", list(KERNEL_CASES))
    @pytest.mark.parametrize(
        ("q_batch", "kv_batch"), [((), ()), ((2, 3), (2, 3)), ((2, 1), (1, 3)), ((4,), ())]
    )
    def test_equals_the_blocked_kernel(
        self, rng: np.random.Generator, dtype: type, case: str, q_batch, kv_batch
    ) -> None:
        q = rng.normal(size=(*q_batch, 6, 3)).astype(dtype)
        k = rng.normal(size=(*kv_batch, 7, 3)).astype(dtype)
        v = rng.normal(size=(*kv_batch, 7, 2)).astype(dtype)
        kwargs = dict(KERNEL_CASES[case])
        if "mask" in kwargs:
            kwargs["mask"] = self.mask_for(str(kwargs["mask"]), rng, (6, 7)).astype(
                bool if case != "float mask" else dtype
            )
        context, weights = attend(q, k, v, scale=0.5, **kwargs)
        blocked = attend_blocked(q, k, v, scale=0.5, **kwargs)
        atol = TOLERANCES[dtype][0]
        assert context.dtype == weights.dtype == blocked.dtype == dtype
        assert context.shape == blocked.shape
        np.testing.assert_allclose(context, blocked, rtol=0, atol=atol)
        assert np.isfinite(weights).all()
        if case == "fully masked rows":
            np.testing.assert_array_equal(weights[..., 1, :], 0.0)
            np.testing.assert_array_equal(context[..., 1, :], 0.0)

    @pytest.mark.parametrize(("n_q", "n_k"), [(0, 4), (3, 0), (0, 0)])
    def test_empty_queries_or_keys(self, rng: np.random.Generator, n_q: int, n_k: int) -> None:
        q, k, v = qkv(rng, batch=(2,), n_q=n_q, n_k=n_k)
        for is_causal in (False, True):
            context, weights = attend(q, k, v, scale=1.0, is_causal=is_causal)
            blocked = attend_blocked(q, k, v, scale=1.0, is_causal=is_causal)
            assert weights.shape == (2, n_q, n_k)
            np.testing.assert_array_equal(context, blocked)
            np.testing.assert_array_equal(context, np.zeros((2, n_q, 2)))

    def test_the_public_function_runs_it_for_the_weights(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng, batch=(2,))
        mask = rng.random((4, 5)) < 0.7
        context, weights = sdpa(q, k, v, mask=mask, scale=0.5, return_weights=True)
        expected_context, expected_weights = attend(q, k, v, scale=0.5, mask=mask)
        np.testing.assert_array_equal(context, expected_context)
        np.testing.assert_array_equal(weights, expected_weights)
        blocked = attend_blocked(q, k, v, scale=0.5, mask=mask)
        np.testing.assert_array_equal(sdpa(q, k, v, mask=mask, scale=0.5), blocked)

    def test_backward_kernel_is_the_public_backward(self, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng, batch=(3,))
        k, v = k[:1], v[:1]  # broadcast over the batch: their gradients are summed
        _, weights = attend(q, k, v, scale=0.5)
        grad = rng.normal(size=(3, 4, 2))
        expected = sdpa_backward(grad, q, k, v, weights, scale=0.5)
        for got, want in zip(
            attend_backward(grad, q, k, v, weights, scale=0.5), expected, strict=True
        ):
            assert got.shape == want.shape
            np.testing.assert_array_equal(got, want)


class TestBackwardNumbers:
    def test_product_before_the_scale_is_recomputed_in_the_safe_order(self) -> None:
        # The scores use only the second feature; along the first, (dL/dS) K is about 2.9e308,
        # beyond float64, and times the scale 0.5 it is about 1.5e308, within.
        q = np.array([[0.0, 0.5]])
        k = np.array([[1.5e308, 1.0], [-1.5e308, -1.0]])
        v = np.array([[2.0], [-2.0]])
        _, w = sdpa(q, k, v, scale=0.5, return_weights=True)
        grad_query, _, _ = scaled_dot_product_attention_backward(
            np.ones((1, 1)), q, k, v, w, scale=0.5
        )
        # Dividing that feature of the keys by 1024 (exact) leaves the scores unchanged and
        # divides its query gradient by 1024, out of overflow.
        small_k = k / [1024.0, 1.0]
        _, w_small = sdpa(q, small_k, v, scale=0.5, return_weights=True)
        np.testing.assert_array_equal(w_small, w)
        expected = scaled_dot_product_attention_backward(
            np.ones((1, 1)), q, small_k, v, w, scale=0.5
        )[0]
        assert grad_query[0, 0] > 1e308
        np.testing.assert_allclose(grad_query, expected * [1024.0, 1.0], rtol=1e-14)

    def test_gradient_beyond_the_dtype_raises_naming_it(self) -> None:
        # Four queries put all their weight on one key: grad_value = 4 * 60000 > 65504.
        q = np.zeros((4, 2), np.float16)
        k = v = np.ones((1, 2), np.float16)
        _, w = sdpa(q, k, v, return_weights=True)
        with pytest.raises(FloatingPointError, match="grad_value overflowed float16"):
            scaled_dot_product_attention_backward(np.full((4, 2), 60000, np.float16), q, k, v, w)

    def test_overflowing_scores_gradient_raises_instead_of_inf(self) -> None:
        q, k = np.zeros((2, 2)), np.zeros((3, 2))
        v = np.array([[1e308, 0.0], [-1e308, 0.0], [0.0, 0.0]])
        _, w = sdpa(q, k, v, return_weights=True)
        with pytest.raises(FloatingPointError, match="overflowed float64"):
            scaled_dot_product_attention_backward(np.full((2, 2), 1e308), q, k, v, w)

    @pytest.mark.parametrize("name", ["grad_context", "weights"])
    def test_complex_gradients_raise_type_error(self, name: str, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng)
        context, weights = sdpa(q, k, v, return_weights=True)
        arrays = {"grad_context": np.ones_like(context), "weights": weights}
        arrays[name] = arrays[name] + 0j
        with pytest.raises(TypeError, match=f"{name} must hold real"):
            scaled_dot_product_attention_backward(
                arrays["grad_context"], q, k, v, arrays["weights"]
            )
