"""The fast paths of the kernels: the bound shift, its fallback, and the threads.

``blocks.BOUND_MIN_KEYS`` and ``PARALLEL_ELEMENTS`` keep these paths for large inputs; the tests
lower them to reach the paths with small ones, and compare with the plain path and a float64
reference.
"""

from __future__ import annotations

import multiprocessing
import os
import threading

import numpy as np
import pytest

import simple_attention as sa
from simple_attention.attention import blocks, parallel, scaled
from simple_attention.attention.parallel import attention_threads, n_threads

from reference import reference_attention


@pytest.fixture
def fast_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blocks, "BOUND_MIN_KEYS", 2)
    monkeypatch.setattr(blocks, "BLOCK_ELEMENTS", 16)  # several blocks of queries
    monkeypatch.setattr(blocks, "PARALLEL_ELEMENTS", 0)
    monkeypatch.setattr(scaled, "PARALLEL_ELEMENTS", 0)


def far_below_the_bound(dtype: type = np.float64) -> tuple[np.ndarray, ...]:
    """Queries whose scores lie far below their Cauchy-Schwarz bound.

    One key is long but orthogonal to every query, so the bound |q| max|k| is huge while the
    scores stay small: every exponential shifted by the bound underflows to 0.
    """
    rng = np.random.default_rng(0)
    q = np.zeros((5, 3))
    q[:, 0] = 30 + rng.random(5)
    k = np.zeros((9, 3))
    k[:, 0] = rng.normal(size=9)
    k[4] = [0, 0, 3000]  # long, and orthogonal to the queries
    v = rng.normal(size=(9, 2))
    return tuple(a.astype(dtype) for a in (q, k, v))


class TestBound:
    def test_bounds_every_visible_score(self, rng: np.random.Generator) -> None:
        q, k = rng.normal(size=(2, 3, 40, 8)) * rng.random((2, 3, 40, 1)) * 5
        scores = q @ np.swapaxes(k, -1, -2)
        bounds = blocks.score_bounds(q, k, is_causal=False)
        assert bounds is not None
        assert np.all(scores <= bounds)
        causal = blocks.score_bounds(q, k, is_causal=True)
        assert causal is not None
        visible = np.tri(40, dtype=bool)
        assert np.all(np.where(visible, scores, -np.inf) <= causal)
        # The prefix maximum is tighter than the maximum over every key, never looser.
        assert np.all(causal <= bounds)
        assert np.any(causal < bounds)

    def test_a_bound_beyond_the_dtype_means_the_exact_maximum(self, fast_paths: None) -> None:
        q = np.full((3, 2), 1e19, dtype=np.float32)
        k = np.eye(2, dtype=np.float32) * 3e19  # scores of 3e38 fit; |q| |k| does not
        v = np.arange(4.0, dtype=np.float32).reshape(2, 2)
        assert blocks.score_bounds(q, k, is_causal=False) is None
        got = sa.scaled_dot_product_attention(q, k, v, scale=1.0)
        np.testing.assert_allclose(got, [[1.0, 2.0]] * 3)  # the two scores are equal

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("is_causal", [False, True])
    def test_rows_far_below_the_bound_are_computed_again(
        self, dtype: type, is_causal: bool, fast_paths: None
    ) -> None:
        q, k, v = far_below_the_bound(dtype)
        mask = np.tri(5, 9, dtype=bool) if is_causal else None
        expected = reference_attention(*(a.astype(np.float64) for a in (q, k, v)), mask)[0]
        got = sa.scaled_dot_product_attention(q, k, v, is_causal=is_causal)
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got, expected, atol=1e-5 if dtype == np.float32 else 1e-12)

    def test_without_the_fallback_these_rows_would_be_zero(
        self, fast_paths: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # What the check on the row sums saves: the same call with the check switched off.
        monkeypatch.setattr(blocks, "underflow_floor", lambda n_keys, dtype: 0.0)
        q, k, v = far_below_the_bound()
        got = sa.scaled_dot_product_attention(q, k, v)
        np.testing.assert_array_equal(got, 0.0)

    def test_the_bound_gives_the_result_of_the_maximum(
        self, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        q, k, v = rng.normal(size=(3, 2, 64, 16))
        exact = sa.scaled_dot_product_attention(q, k, v)
        monkeypatch.setattr(blocks, "BOUND_MIN_KEYS", 2)
        shifted = sa.scaled_dot_product_attention(q, k, v)
        np.testing.assert_allclose(shifted, exact, rtol=0, atol=1e-14)
        assert not np.array_equal(shifted, exact)  # another shift, another rounding


class TestChunkedWithTheBound:
    @pytest.mark.parametrize("is_causal", [False, True])
    @pytest.mark.parametrize("block_size", [1, 7, 64])
    def test_a_fixed_shift_gives_the_online_result(
        self, is_causal: bool, block_size: int, rng: np.random.Generator, fast_paths: None
    ) -> None:
        q, k, v = rng.normal(size=(3, 2, 3, 50, 8))
        expected = reference_attention(q, k, v, np.tri(50, dtype=bool) if is_causal else None)[0]
        got = sa.chunked_attention(q, k, v, is_causal=is_causal, block_size=block_size)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-13)

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_rows_far_below_the_bound_are_computed_again(
        self, dtype: type, fast_paths: None
    ) -> None:
        q, k, v = far_below_the_bound(dtype)
        expected = reference_attention(*(a.astype(np.float64) for a in (q, k, v)), None)[0]
        got = sa.chunked_attention(q, k, v, block_size=4)
        np.testing.assert_allclose(got, expected, atol=1e-5 if dtype == np.float32 else 1e-12)


class TestBackwardInBlocks:
    @pytest.fixture
    def blocked(self, fast_paths: None, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(scaled, "BLOCK_ELEMENTS", 16)  # every slice counts as large

    def test_blocks_give_the_gradients_of_one_pass(
        self, rng: np.random.Generator, blocked: None
    ) -> None:
        q, k, v = rng.normal(size=(3, 2, 3, 20, 4))
        grad = rng.normal(size=(2, 3, 20, 4))
        _, weights = sa.scaled_dot_product_attention(q, k, v, is_causal=True, return_weights=True)
        got = sa.scaled_dot_product_attention_backward(grad, q, k, v, weights)
        expected = scaled.attend_backward(
            grad[0, 0], q[0, 0], k[0, 0], v[0, 0], weights[0, 0], scale=0.5
        )
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_allclose(a[0, 0], b, rtol=0, atol=1e-13)
        with attention_threads(1):
            one_pass = sa.scaled_dot_product_attention_backward(grad, q, k, v, weights)
        for a, b in zip(got, one_pass, strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)

    def test_an_overflow_on_the_way_falls_back_to_the_safe_order(self, blocked: None) -> None:
        # As in test_scaled.py: (dL/dS) K overflows before the scale of 0.5, and not after it.
        q = np.tile([[0.0, 0.5]], (2, 1, 1))
        k = np.tile([[1.5e308, 1.0], [-1.5e308, -1.0]], (2, 1, 1))
        v = np.tile([[2.0], [-2.0]], (2, 1, 1))
        _, w = sa.scaled_dot_product_attention(q, k, v, scale=0.5, return_weights=True)
        got = sa.scaled_dot_product_attention_backward(np.ones((2, 1, 1)), q, k, v, w, scale=0.5)
        assert np.isfinite(got[0]).all()
        assert got[0][0, 0, 0] > 1e308
        expected = sa.scaled_dot_product_attention_backward(
            np.ones((1, 1)), q[0], k[0], v[0], w[0], scale=0.5
        )
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_array_equal(a[0], b)


threadpoolctl = pytest.importorskip("threadpoolctl")


def blas_threads() -> list[int]:
    return [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]


class TestThreads:
    def test_threads_give_the_results_of_one_thread(
        self, rng: np.random.Generator, fast_paths: None
    ) -> None:
        assert n_threads() >= 1
        q, k, v = rng.normal(size=(3, 4, 3, 50, 8))
        grad = rng.normal(size=(4, 3, 50, 8))
        with attention_threads(1):
            one = sa.scaled_dot_product_attention(q, k, v, is_causal=True)
            one_w = sa.scaled_dot_product_attention(q, k, v, return_weights=True)
            one_g = sa.scaled_dot_product_attention_backward(grad, q, k, v, one_w[1])
        many = sa.scaled_dot_product_attention(q, k, v, is_causal=True)
        many_w = sa.scaled_dot_product_attention(q, k, v, return_weights=True)
        many_g = sa.scaled_dot_product_attention_backward(grad, q, k, v, many_w[1])
        for a, b in zip((one, *one_w, *one_g), (many, *many_w, *many_g), strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)

    def test_broadcast_inputs_give_the_results_of_one_thread(
        self, rng: np.random.Generator, fast_paths: None
    ) -> None:
        q = rng.normal(size=(4, 3, 20, 8))
        k, v = rng.normal(size=(2, 20, 8))  # shared by every slice
        mask = rng.random((4, 1, 20, 20)) < 0.7  # one per batch item, shared by the heads
        grad = rng.normal(size=(4, 3, 20, 8))
        runs = []
        for limit in (1, None):
            with attention_threads(limit):
                context, weights = sa.scaled_dot_product_attention(
                    q, k, v, mask=mask, return_weights=True
                )
                runs.append(
                    (
                        context,
                        weights,
                        *sa.scaled_dot_product_attention_backward(grad, q, k, v, weights),
                    )
                )
        for a, b in zip(*runs, strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)

    def test_a_layer_trains_the_same_with_threads(
        self, rng: np.random.Generator, fast_paths: None
    ) -> None:
        x = rng.normal(size=(4, 30, 16))
        grads = []
        for limit in (1, None):
            layer = sa.MultiHeadAttention(16, 4, rng=0)
            with attention_threads(limit):
                out = layer(x, is_causal=True)
                grad_x = layer.backward(np.ones_like(out))
            grads.append((out, grad_x, layer.grads["W_query"]))
        for a, b in zip(*grads, strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)

    def test_an_error_in_a_thread_reaches_the_caller(self, fast_paths: None) -> None:
        q = np.ones((4, 6, 2), dtype=np.float32)
        q[3, 5] = 1e30  # only a block of the last slice overflows
        with pytest.raises(FloatingPointError, match="use float64 or smaller inputs"):
            sa.scaled_dot_product_attention(q, q, q)
        with pytest.raises(FloatingPointError, match="use float64 or smaller inputs"):
            sa.scaled_dot_product_attention(q, q, q, return_weights=True)

    # Python 3.12 and later warn about a fork with threads running: here it is the point.
    @pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
    def test_a_forked_child_makes_its_own_threads(
        self, rng: np.random.Generator, fast_paths: None
    ) -> None:
        # A forked child inherits the pool but none of its threads: it must make new ones
        # instead of waiting for threads that do not exist.
        if "fork" not in multiprocessing.get_all_start_methods():
            pytest.skip("no fork on this platform")
        q, k, v = rng.normal(size=(3, 4, 64, 8))
        expected = sa.scaled_dot_product_attention(q, k, v)  # the parent's pool is running
        with multiprocessing.get_context("fork").Pool(1) as pool:
            got = pool.apply_async(sa.scaled_dot_product_attention, (q, k, v)).get(timeout=60)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-13)

    @pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
    def test_a_child_forked_while_blocks_run_gets_blas_threads_back(self) -> None:
        if "fork" not in multiprocessing.get_all_start_methods():
            pytest.skip("no fork on this platform")
        before = blas_threads()
        with parallel._blas_on_one_thread():  # as if another thread's blocks were running
            assert blas_threads() == [1] * len(before)
            with multiprocessing.get_context("fork").Pool(1) as pool:
                in_child = pool.apply_async(blas_threads).get(timeout=60)
        assert in_child == before
        assert blas_threads() == before

    def test_blas_gets_its_threads_back(self, rng: np.random.Generator, fast_paths: None) -> None:
        before = [p["num_threads"] for p in threadpoolctl.threadpool_info()]
        q, k, v = rng.normal(size=(3, 4, 64, 8))
        sa.scaled_dot_product_attention(q, k, v)
        assert [p["num_threads"] for p in threadpoolctl.threadpool_info()] == before


class TestCallsFromSeveralThreads:
    """A program may call attention from threads of its own, with or without a limit."""

    def run_together(self, *calls) -> None:
        errors: list[BaseException] = []

        def repeat(call) -> None:
            try:
                for _ in range(40):
                    call()
            except BaseException as error:  # re-raised below, in the test's thread
                errors.append(error)

        threads = [threading.Thread(target=repeat, args=(call,)) for call in calls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

    def test_different_numbers_of_blocks_at_once(
        self, fast_paths: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # On four cores, calls with 2 and 3 blocks used to rebuild the pool under each other.
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
        q, k, v = np.random.default_rng(0).normal(size=(3, 1, 6, 4))
        expected = sa.chunked_attention(q, k, v, block_size=6)
        self.run_together(
            lambda: np.testing.assert_allclose(
                sa.chunked_attention(q, k, v, block_size=3), expected, atol=1e-13
            ),
            lambda: np.testing.assert_allclose(
                sa.chunked_attention(q, k, v, block_size=2), expected, atol=1e-13
            ),
        )

    def test_overlapping_calls_give_blas_its_threads_back(self, fast_paths: None) -> None:
        before = [p["num_threads"] for p in threadpoolctl.threadpool_info()]
        q, k, v = np.random.default_rng(1).normal(size=(3, 4, 32, 8))
        self.run_together(*[lambda: sa.scaled_dot_product_attention(q, k, v)] * 3)
        assert [p["num_threads"] for p in threadpoolctl.threadpool_info()] == before

    def test_a_limit_holds_in_its_own_thread_only(self) -> None:
        outside = n_threads()
        inside = threading.Event()
        release = threading.Event()
        seen: list[int] = []

        def limited() -> None:
            with attention_threads(1):
                seen.append(n_threads())
                inside.set()
                release.wait(10)

        thread = threading.Thread(target=limited)
        thread.start()
        inside.wait(10)
        seen.append(n_threads())  # this thread, while the other is inside its limit
        release.set()
        thread.join()
        assert seen == [1, outside]
        assert n_threads() == outside


class TestAttentionThreads:
    def test_one_thread_inside_the_block_only(self) -> None:
        outside = n_threads()
        with attention_threads(1):
            assert n_threads() == 1
            with attention_threads(None):
                assert n_threads() == outside
            assert n_threads() == 1
        assert n_threads() == outside

    def test_without_threadpoolctl_one_thread(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(parallel._state, "controller", False)
        assert n_threads() == 1

    @pytest.mark.parametrize("limit", [1.5, True, "2"])
    def test_a_limit_that_is_not_an_integer_is_a_type_error(self, limit: object) -> None:
        with (
            pytest.raises(TypeError, match="limit must be a positive integer or None"),
            attention_threads(limit),  # type: ignore[arg-type]
        ):
            pass

    def test_numpy_integers_are_limits(self) -> None:
        with attention_threads(np.int64(1)):
            assert n_threads() == 1

    @pytest.mark.parametrize("limit", [0, -2])
    def test_a_limit_below_one_is_a_value_error(self, limit: int) -> None:
        before = n_threads()
        with pytest.raises(ValueError, match="limit must be at least 1"), attention_threads(limit):
            pass
        assert n_threads() == before
