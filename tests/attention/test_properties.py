"""Property-based tests (hypothesis) of the invariants listed in docs/conventions.md."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from simple_attention import (
    SelfAttention,
    attention_scores_loop,
    context_vector_loop,
    scaled_dot_product_attention,
    self_attention,
    self_attention_loop,
    softmax,
)

from tolerances import TOLERANCES

ATOL = TOLERANCES[np.float64][0]  # float64 against float64

sdpa = scaled_dot_product_attention

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=64)
sizes = st.integers(1, 6)


@st.composite
def matrices(draw, rows=sizes, cols=sizes):
    shape = (draw(rows), draw(cols))
    return draw(arrays(np.float64, shape, elements=finite))


@st.composite
def qkv(draw, batch=()):
    n_q, n_k, d_k, d_v = (draw(sizes) for _ in range(4))
    q = draw(arrays(np.float64, (*batch, n_q, d_k), elements=finite))
    k = draw(arrays(np.float64, (*batch, n_k, d_k), elements=finite))
    v = draw(arrays(np.float64, (*batch, n_k, d_v), elements=finite))
    return q, k, v


# 1. softmax
@given(
    x=arrays(np.float64, st.tuples(sizes, sizes), elements=st.floats(-1e3, 1e3)),
    shift=st.floats(-100, 100),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_softmax_invariants(x: np.ndarray, shift: float, dtype: type) -> None:
    x = x.astype(dtype)
    w = softmax(x)
    assert w.shape == x.shape
    assert w.dtype == dtype
    assert (w >= 0).all()
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=tol)
    # Shifting each row by a constant changes nothing (exactly representable shifts only).
    shifted = (x.astype(np.float64) + np.round(shift)).astype(dtype)
    assume(np.array_equal(shifted - dtype(np.round(shift)), x))
    np.testing.assert_allclose(softmax(shifted), w, atol=10 * tol)
    # The largest score keeps the largest weight.
    rows = np.arange(len(x))
    assert (w[rows, x.argmax(-1)] == w.max(-1)).all()


# 2. blocking a key equals deleting it
@given(data=qkv(), j=st.integers(0, 5))
def test_blocking_key_equals_deleting_it(data, j: int) -> None:
    q, k, v = data
    assume(k.shape[0] >= 2)
    j = j % k.shape[0]
    keep = np.ones(k.shape[0], dtype=bool)
    keep[j] = False
    np.testing.assert_allclose(sdpa(q, k, v, mask=keep), sdpa(q, k[keep], v[keep]), atol=ATOL)


# 3. permutation equivariance of unmasked self-attention
@given(x=matrices(), seed=st.integers(0, 2**32 - 1))
def test_self_attention_is_permutation_equivariant(x: np.ndarray, seed: int) -> None:
    perm = np.random.default_rng(seed).permutation(len(x))
    np.testing.assert_allclose(self_attention(x[perm]), self_attention(x)[perm], atol=ATOL)
    layer = SelfAttention(x.shape[1], 3, rng=seed)
    np.testing.assert_allclose(layer(x[perm]), layer(x)[perm], atol=ATOL)


# 4. causal attention does not look ahead
@given(data=qkv(), i=st.integers(0, 5), noise=finite)
def test_causal_output_ignores_the_future(data, i: int, noise: float) -> None:
    x = data[0]
    n = x.shape[0]
    i = i % n
    changed = x.copy()
    changed[i + 1 :] += noise + 1.0
    before = sdpa(x, x, x, is_causal=True)
    after = sdpa(changed, changed, changed, is_causal=True)
    np.testing.assert_allclose(after[: i + 1], before[: i + 1], atol=ATOL)


# 5. identical keys give uniform weights
@given(data=qkv())
def test_identical_keys_give_the_mean_of_the_values(data) -> None:
    q, k, v = data
    k = np.broadcast_to(k[:1], k.shape)
    context, weights = sdpa(q, k, v, return_weights=True)
    np.testing.assert_allclose(weights, 1 / k.shape[0], atol=ATOL)
    np.testing.assert_allclose(context, np.broadcast_to(v.mean(0), context.shape), atol=ATOL)


# 6. a very large scale gives hard attention
@given(data=qkv())
def test_large_scale_is_hard_attention(data) -> None:
    q, k, v = data
    scores = q @ k.T
    top2 = np.sort(scores, axis=-1)[:, -2:] if k.shape[0] > 1 else None
    assume(top2 is None or (top2[:, 1] - top2[:, 0] > 1e-3).all())  # no ties
    _, weights = sdpa(q, k, v, scale=1e6, return_weights=True)
    np.testing.assert_array_equal(weights, np.eye(k.shape[0])[scores.argmax(-1)])


# 7. loop and vectorised versions agree
@given(x=matrices())
def test_loops_agree_with_matrices(x: np.ndarray) -> None:
    context, weights = self_attention(x, return_weights=True)
    loop_context, loop_weights = self_attention_loop(x, return_weights=True)
    np.testing.assert_allclose(loop_weights, weights, atol=ATOL)
    np.testing.assert_allclose(loop_context, context, atol=1e-10)
    i = len(x) // 2
    scores_i = attention_scores_loop(x, x[i])
    np.testing.assert_allclose(scores_i, (x @ x.T)[i], atol=1e-10)
    np.testing.assert_allclose(context_vector_loop(x, softmax(scores_i)), context[i], atol=1e-10)


@given(data=qkv(batch=(2,)))
def test_batched_equals_one_by_one(data) -> None:
    q, k, v = data
    batched = sdpa(q, k, v)
    for b in range(2):
        np.testing.assert_allclose(batched[b], sdpa(q[b], k[b], v[b]), atol=ATOL)


# 8. stacking and padding
@given(a=qkv(), seed=st.integers(0, 2**32 - 1))
def test_stack_commutes_with_attention(a, seed: int) -> None:
    rng = np.random.default_rng(seed)
    b = tuple(rng.normal(size=t.shape) for t in a)
    stacked = sdpa(*(np.stack([s, t]) for s, t in zip(a, b, strict=True)), is_causal=True)
    np.testing.assert_allclose(stacked[0], sdpa(*a, is_causal=True), atol=ATOL)
    np.testing.assert_allclose(stacked[1], sdpa(*b, is_causal=True), atol=ATOL)


@given(x=matrices(), n_pad=st.integers(1, 4), pad_value=finite)
def test_padding_and_masking_reproduces_the_unpadded_result(
    x: np.ndarray, n_pad: int, pad_value: float
) -> None:
    n, d = x.shape
    padded = np.vstack([x, np.full((n_pad, d), pad_value)])
    keep = np.arange(n + n_pad) < n
    out = sdpa(padded, padded, padded, mask=keep)
    np.testing.assert_allclose(out[:n], sdpa(x, x, x), atol=ATOL)
    causal = sdpa(padded, padded, padded, mask=keep & np.tri(n + n_pad, dtype=bool))
    np.testing.assert_allclose(causal[:n], sdpa(x, x, x, is_causal=True), atol=ATOL)
