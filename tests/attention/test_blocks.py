"""scaled_dot_product_attention computed in blocks: same results, bounded memory.

The blocks are normally half a million scores large, so that small inputs fit in one block. These
tests shrink them (monkeypatching the block size) to drive every input through many blocks and
through the one-slice-at-a-time path, and compare with a plain float64 reference; each test runs
with the exact maximum as the shift, with the bound of ``blocks.score_bounds``, and with the
blocks shared out over threads.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from simple_attention import causal_mask, chunked_attention, scaled_dot_product_attention
from simple_attention.attention import blocks, scaled

from reference import reference_attention
from tolerances import TOLERANCES

ATOL, SUM_ATOL = TOLERANCES[np.float64]  # float64: against a reference, rows sum to 1

sdpa = scaled_dot_product_attention


@pytest.fixture(autouse=True, params=["max shift", "bound shift", "bound shift, threads"])
def kernel_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test of this file runs each way the kernel can shift and share out the rows.

    The bound shift and the threads start only at sizes far beyond these tests' inputs, so the
    limits are lowered here to drive them through the small inputs too.
    """
    if request.param != "max shift":
        # Rows of one key keep the maximum, as they do at full size: their weight is exactly 1.
        monkeypatch.setattr(blocks, "BOUND_MIN_KEYS", 2)
    if request.param.endswith("threads"):
        monkeypatch.setattr(blocks, "PARALLEL_ELEMENTS", 0)
        monkeypatch.setattr(scaled, "PARALLEL_ELEMENTS", 0)
    return str(request.param)


@pytest.fixture(params=[1 << 20, 64, 7], ids=["one block", "many blocks", "tiny blocks"])
def block_elements(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(blocks, "BLOCK_ELEMENTS", request.param)
    return int(request.param)


def qkv(rng: np.random.Generator, batch=(2, 3), n_q=13, n_k=11, d_k=4, d_v=3):
    return (
        rng.normal(size=(*batch, n_q, d_k)),
        rng.normal(size=(*batch, n_k, d_k)),
        rng.normal(size=(*batch, n_k, d_v)),
    )


class TestBlocksGiveTheSameResults:
    @pytest.mark.parametrize(("n_q", "n_k"), [(13, 11), (11, 13), (1, 9), (9, 1), (16, 16)])
    @pytest.mark.parametrize("is_causal", [False, True])
    def test_context_and_weights(
        self, n_q: int, n_k: int, is_causal: bool, block_elements: int, rng: np.random.Generator
    ) -> None:
        q, k, v = qkv(rng, n_q=n_q, n_k=n_k)
        mask = causal_mask(n_q, n_k) if is_causal else None
        context, weights = sdpa(q, k, v, is_causal=is_causal, return_weights=True)
        ref_context, ref_weights = reference_attention(q, k, v, mask)
        np.testing.assert_allclose(context, ref_context, rtol=0, atol=ATOL)
        np.testing.assert_allclose(weights, ref_weights, rtol=0, atol=ATOL)
        # Normalised after the product with the values, but the weights still sum to one.
        np.testing.assert_allclose(weights.sum(-1), 1.0, atol=SUM_ATOL)

    def test_masks_of_every_shape(self, block_elements: int, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng)
        masks = [
            rng.random((13, 11)) < 0.6,  # one mask for every slice
            rng.random((2, 3, 13, 11)) < 0.6,  # one per slice
            rng.random(11) < 0.6,  # key padding
            rng.random((2, 1, 1, 11)) < 0.6,  # key padding per sequence
            rng.random((13, 1)) < 0.6,  # whole queries blocked
        ]
        for mask in masks:
            np.testing.assert_allclose(
                sdpa(q, k, v, mask=mask), reference_attention(q, k, v, mask)[0], rtol=0, atol=ATOL
            )

    def test_float_mask_with_extra_leading_dimensions(
        self, block_elements: int, rng: np.random.Generator
    ) -> None:
        q, k, v = qkv(rng, batch=(3,))
        bias = rng.normal(size=(4, 1, 13, 11))
        context, weights = sdpa(q, k, v, mask=bias, return_weights=True)
        assert context.shape == (4, 3, 13, 3)
        assert weights.shape == (4, 3, 13, 11)
        scores = q @ np.swapaxes(k, -1, -2) / 2 + bias
        expected = np.exp(scores - scores.max(-1, keepdims=True))
        expected /= expected.sum(-1, keepdims=True)
        np.testing.assert_allclose(weights, expected, rtol=0, atol=ATOL)
        np.testing.assert_allclose(context, expected @ v, rtol=0, atol=ATOL)

    def test_values_with_their_own_batch_dimensions(
        self, block_elements: int, rng: np.random.Generator
    ) -> None:
        q, k = rng.normal(size=(13, 4)), rng.normal(size=(11, 4))
        v = rng.normal(size=(5, 11, 3))
        context, weights = sdpa(q, k, v, return_weights=True)
        assert context.shape == (5, 13, 3)
        assert weights.shape == (13, 11)  # the weights do not depend on the values
        np.testing.assert_allclose(context, reference_attention(q, k, v)[0], rtol=0, atol=ATOL)

    def test_fully_masked_rows_and_no_keys(
        self, block_elements: int, rng: np.random.Generator
    ) -> None:
        q, k, v = qkv(rng)
        mask = np.ones((13, 11), dtype=bool)
        mask[[0, 5, 12]] = False
        context, weights = sdpa(q, k, v, mask=mask, return_weights=True)
        np.testing.assert_array_equal(context[..., [0, 5, 12], :], 0.0)
        np.testing.assert_array_equal(weights[..., [0, 5, 12], :], 0.0)
        assert np.isfinite(context).all()
        q, k, v = qkv(rng, n_k=0)
        context, weights = sdpa(q, k, v, is_causal=True, return_weights=True)
        assert weights.shape == (2, 3, 13, 0)
        np.testing.assert_array_equal(context, 0.0)

    def test_one_key_exactly(self, block_elements: int, rng: np.random.Generator) -> None:
        q, k, v = qkv(rng, n_k=1)
        context = sdpa(q, k, v, is_causal=True)
        np.testing.assert_array_equal(context, np.broadcast_to(v, context.shape))

    def test_float32(self, block_elements: int, rng: np.random.Generator) -> None:
        q, k, v = (a.astype(np.float32) for a in qkv(rng))
        context, weights = sdpa(q, k, v, is_causal=True, return_weights=True)
        assert context.dtype == weights.dtype == np.float32
        ref = reference_attention(q, k, v, causal_mask(13, 11))
        np.testing.assert_allclose(context, ref[0], atol=1e-5)
        np.testing.assert_allclose(weights.sum(-1, dtype=np.float64), 1.0, atol=1e-6)

    @pytest.mark.parametrize("is_causal", [False, True])
    def test_huge_values_in_every_block(
        self, is_causal: bool, block_elements: int, rng: np.random.Generator
    ) -> None:
        # P V overflows float64 in the blocks whose queries see several keys; the weighted
        # average does not. Blocks that did not overflow keep the fast result.
        q, k, _ = qkv(rng)
        v = rng.choice([-1.7e308, 1.7e308], size=(2, 3, 11, 3))
        v[0, 0] = rng.normal(size=(11, 3))  # a slice that never overflows
        mask = causal_mask(13, 11) if is_causal else None
        context, weights = sdpa(q, k, v, is_causal=is_causal, return_weights=True)
        ref_weights = reference_attention(q, k, v, mask)[1]
        np.testing.assert_allclose(weights, ref_weights, rtol=0, atol=ATOL)
        np.testing.assert_allclose(context, (ref_weights @ (v / 4)) * 4, rtol=1e-12, atol=1e296)
        np.testing.assert_allclose(
            context[0, 0], sdpa(q[0, 0], k[0, 0], v[0, 0], is_causal=is_causal), atol=ATOL
        )

    def test_overflow_in_a_later_block_raises(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(blocks, "BLOCK_ELEMENTS", 4)
        q = np.ones((6, 2), dtype=np.float32)
        q[5] = 1e30  # only the last block of queries overflows
        with pytest.raises(FloatingPointError, match="use float64 or smaller inputs"):
            sdpa(q, q, q)


def peak_bytes(fn, *args, **kwargs) -> int:
    tracemalloc.start()
    try:
        fn(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


class TestMemory:
    """Peak memory, counted by tracemalloc (NumPy reports its allocations): deterministic."""

    n, d = 2048, 32

    def inputs(self) -> tuple[np.ndarray, ...]:
        rng = np.random.default_rng(0)
        return tuple(rng.standard_normal((self.n, self.d), dtype=np.float32) for _ in range(3))

    def test_sdpa_never_holds_the_score_matrix(self) -> None:
        scores_bytes = 4 * self.n * self.n  # 16 MiB
        peak = peak_bytes(sdpa, *self.inputs())
        assert peak < scores_bytes / 2

    def test_chunked_memory_grows_with_the_block_not_with_n_squared(self) -> None:
        q, k, v = self.inputs()
        output_bytes = 4 * self.n * self.d
        for block_size in (64, 256):
            peak = peak_bytes(chunked_attention, q, k, v, block_size=block_size)
            # The output, the scaled queries, the queries and keys with their bound columns, and
            # a few blocks of scores and of running values for each of the threads.
            assert peak < 5 * output_bytes + 8 * (4 * block_size * block_size)

    def test_huge_values_do_not_need_the_score_matrix(self) -> None:
        # Every block overflows in P V and is recomputed as a weighted average, in place.
        q, k, _ = self.inputs()
        v = np.full((self.n, self.d), 3e38, dtype=np.float32)
        assert peak_bytes(sdpa, q, k, v) < 4 * self.n * self.n / 2
        q, k, v = (a[:256] for a in (q, k, v))
        # A few float32 roundings of the weights (more with the bound shift, eps * (b - s) each).
        np.testing.assert_allclose(sdpa(q, k, v), 3e38, rtol=2e-6)

    def test_causal_does_not_need_more(self) -> None:
        q, k, v = self.inputs()
        assert peak_bytes(sdpa, q, k, v, is_causal=True) < 4 * self.n * self.n / 2


class TestTimer:
    """The benchmark times the kernel through its timer: every step, in order, same result."""

    def test_the_timer_sees_every_step_in_order(
        self, rng: np.random.Generator, block_elements: int
    ) -> None:
        q, k, v = qkv(rng)
        seen: list[str] = []
        with_timer, _ = blocks.attend_by_query_blocks(
            q, k, v, 0.5, None, is_causal=True, return_weights=False, timer=seen.append
        )
        without, _ = blocks.attend_by_query_blocks(
            q, k, v, 0.5, None, is_causal=True, return_weights=False
        )
        np.testing.assert_array_equal(with_timer, without)
        first, per_block = blocks.STEPS[0], list(blocks.STEPS[1:])
        assert seen[0] == first
        n_blocks, rest = divmod(len(seen) - 1, len(per_block))
        assert n_blocks >= 1
        assert rest == 0
        assert seen[1:] == per_block * n_blocks
