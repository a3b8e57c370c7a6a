"""Step-by-step decoding with a key-value cache equals full causal attention."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simple_attention import (
    KVCache,
    MultiHeadAttention,
    causal_mask,
    causal_mask_bottom_right,
)

ATOL = 1e-12


@given(
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 8),
    st.integers(0, 2**32 - 1),
    st.sampled_from([(), (2,), (2, 3)]),
)
def test_decoding_one_token_at_a_time_equals_full_causal_attention(
    n_heads, d_head, n, seed, batch
):
    rng = np.random.default_rng(seed)
    layer = MultiHeadAttention(n_heads * d_head, n_heads, rng=rng)
    x = rng.standard_normal((*batch, n, n_heads * d_head))
    full = layer(x, is_causal=True)
    cache = KVCache()
    steps = [layer.decode_step(x[..., t : t + 1, :], cache) for t in range(n)]
    np.testing.assert_allclose(np.concatenate(steps, axis=-2), full, rtol=0, atol=ATOL)
    assert len(cache) == n
    assert cache.keys.shape == (*batch, n_heads, n, d_head)


def test_decoding_in_chunks_equals_full_causal_attention():
    rng = np.random.default_rng(0)
    layer = MultiHeadAttention(6, 3, rng=rng)
    x = rng.standard_normal((7, 6))
    cache = KVCache()
    chunks = [layer.decode_step(x[a:b], cache) for a, b in [(0, 3), (3, 4), (4, 7)]]
    np.testing.assert_allclose(np.concatenate(chunks), layer(x, is_causal=True), rtol=0, atol=ATOL)


def test_top_left_mask_would_be_wrong_when_decoding():
    rng = np.random.default_rng(1)
    layer = MultiHeadAttention(4, 2, rng=rng)
    x = rng.standard_normal((5, 4))
    cache = KVCache()
    for t in range(4):
        layer.decode_step(x[t : t + 1], cache)
    last = layer.decode_step(x[4:], cache)
    np.testing.assert_allclose(last, layer(x, is_causal=True)[4:], rtol=0, atol=ATOL)
    # The same step with the top-left mask lets the newest token see only the first key.
    assert causal_mask(1, 5).sum() == 1
    assert causal_mask_bottom_right(1, 5).all()


def test_decode_step_records_one_row_of_weights_per_head():
    layer = MultiHeadAttention(4, 2, rng=0)
    cache = KVCache()
    x = np.random.default_rng(1).standard_normal((3, 4))
    for t in range(3):
        layer.decode_step(x[t : t + 1], cache)
        assert layer.weights.shape == (2, 1, t + 1)
    with pytest.raises(RuntimeError, match="call the MultiHeadAttention layer"):
        layer.backward(np.ones((1, 4)))  # decoding keeps nothing for backward


def test_decoding_applies_no_dropout():
    layer = MultiHeadAttention(4, 2, dropout=0.5, rng=0)
    x = np.random.default_rng(1).standard_normal((4, 4))
    cache = KVCache()
    steps = np.concatenate([layer.decode_step(x[t : t + 1], cache) for t in range(4)])
    np.testing.assert_allclose(steps, layer.eval()(x, is_causal=True), rtol=0, atol=ATOL)


@pytest.mark.parametrize(("n_queries", "n_keys"), [(1, 1), (1, 4), (2, 5), (3, 3), (0, 2)])
def test_bottom_right_mask(n_queries, n_keys):
    mask = causal_mask_bottom_right(n_queries, n_keys)
    assert mask.shape == (n_queries, n_keys)
    # The last n_queries rows of the full square causal mask.
    np.testing.assert_array_equal(mask, causal_mask(n_keys)[n_keys - n_queries :])


def test_bottom_right_mask_with_more_queries_than_keys_blocks_the_first_rows():
    mask = causal_mask_bottom_right(3, 2)
    np.testing.assert_array_equal(mask, [[False, False], [True, False], [True, True]])
    with pytest.raises(ValueError, match="n_keys must be non-negative"):
        causal_mask_bottom_right(1, -1)


def test_cache_validation_names_the_argument():
    cache = KVCache()
    with pytest.raises(ValueError, match="key must be at least 2-D"):
        cache.append(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match=r"key \(2, 3\) and value \(1, 3\)"):
        cache.append(np.ones((2, 3)), np.ones((1, 3)))
    cache.append(np.ones((2, 1, 3)), np.ones((2, 1, 4)))
    with pytest.raises(ValueError, match=r"value has shape \(2, 1, 5\)"):
        cache.append(np.ones((2, 1, 3)), np.ones((2, 1, 5)))
    with pytest.raises(TypeError, match="key has dtype float32"):
        cache.append(np.ones((2, 1, 3), np.float32), np.ones((2, 1, 4), np.float32))
    with pytest.raises(ValueError, match="value contains NaN"):
        cache.append(np.ones((2, 1, 3)), np.full((2, 1, 4), np.nan))
    assert len(cache) == 1  # failed appends leave the cache unchanged
    cache.reset()
    assert len(cache) == 0
    assert cache.keys is None
    layer = MultiHeadAttention(4, 2, rng=0)
    with pytest.raises(TypeError, match="cache must be a KVCache"):
        layer.decode_step(np.ones((1, 4)), cache=None)


def test_cache_does_not_alias_the_callers_arrays():
    cache = KVCache()
    key = np.zeros((1, 2))
    cache.append(key, np.zeros((1, 2)))
    key[:] = 5
    np.testing.assert_array_equal(cache.keys, 0.0)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_decoding_keeps_the_dtype(dtype):
    layer = MultiHeadAttention(4, 2, rng=0)
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(dtype)
    cache = KVCache()
    steps = [layer.decode_step(x[t : t + 1], cache) for t in range(3)]
    assert all(step.dtype == dtype for step in steps)
    full = layer(x, is_causal=True)
    np.testing.assert_allclose(np.concatenate(steps), full, rtol=0, atol=2e-3)


def test_a_cache_from_another_layer_shape_is_refused():
    cache = KVCache()
    MultiHeadAttention(4, 2, rng=0).decode_step(np.ones((1, 4)), cache)
    with pytest.raises(ValueError, match="key has shape"):
        MultiHeadAttention(4, 4, rng=0).decode_step(np.ones((1, 4)), cache)


def test_first_append_refuses_keys_and_values_of_different_dtypes():
    cache = KVCache()
    with pytest.raises(TypeError, match="key has dtype float32 but value has dtype float64"):
        cache.append(np.ones((1, 2), np.float32), np.ones((1, 2)))
    assert len(cache) == 0
    assert cache.keys is None
    assert cache.values is None


def test_the_returned_arrays_are_read_only():
    cache = KVCache()
    keys, values = cache.append(np.zeros((1, 2)), np.zeros((1, 3)))
    for arr in (keys, values, cache.keys, cache.values):
        with pytest.raises(ValueError, match="read-only"):
            arr[...] = 5.0
    keys, values = cache.append(np.ones((1, 2)), np.ones((1, 3)))
    with pytest.raises(ValueError, match="read-only"):
        keys[0] = 5.0
    np.testing.assert_array_equal(cache.keys, [[0.0, 0.0], [1.0, 1.0]])


def test_a_failed_decode_step_leaves_the_cache_unchanged():
    layer = MultiHeadAttention(2, 1, rng=0)
    cache = KVCache()
    layer.decode_step(np.ones((1, 2)), cache)
    keys, weights = cache.keys, layer.weights
    with pytest.raises(FloatingPointError, match="overflowed"):
        layer.decode_step(np.full((1, 2), 1e200), cache)  # the scores overflow float64
    assert len(cache) == 1
    assert cache.keys is keys
    assert layer.weights is weights


def test_decode_step_with_no_new_position():
    layer = MultiHeadAttention(4, 2, rng=0)
    cache = KVCache()
    layer.decode_step(np.ones((2, 4)), cache)
    assert layer.decode_step(np.ones((0, 4)), cache).shape == (0, 4)
    assert len(cache) == 2


def test_extended_returns_what_append_would_store_without_storing_it():
    cache = KVCache()
    cache.append(np.zeros((2, 1, 3)), np.zeros((2, 1, 4)))
    stored_keys = cache.keys
    keys, values = cache.extended(np.ones((2, 2, 3)), np.ones((2, 2, 4)))
    assert len(cache) == 1
    assert cache.keys is stored_keys
    assert keys.shape == (2, 3, 3)
    assert values.shape == (2, 3, 4)
    assert not keys.flags.writeable
    assert not values.flags.writeable
    appended = cache.append(np.ones((2, 2, 3)), np.ones((2, 2, 4)))
    for a, b in zip(appended, (keys, values), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"value has shape \(2, 1, 5\)"):
        cache.extended(np.ones((2, 1, 3)), np.ones((2, 1, 5)))
    with pytest.raises(TypeError, match="key has dtype float32"):
        cache.extended(np.ones((2, 1, 3), np.float32), np.ones((2, 1, 4), np.float32))
    assert len(cache) == 3
