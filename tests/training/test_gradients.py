"""Backward passes of softmax, attention and SelfAttention against finite differences.

docs/conventions.md: float64, central differences (eps = 1e-6), random upstream gradient, maximum
relative error below 1e-7.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from simple_attention import (
    Embedding,
    Linear,
    PositionalEmbedding,
    SelfAttention,
    TinyAttentionModel,
    causal_mask,
    gradcheck,
    gradcheck_layer,
    numerical_gradient,
    relative_error,
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
    softmax,
    softmax_backward,
    softmax_cross_entropy,
)

from tolerances import TOLERANCES

ATOL = TOLERANCES[np.float64][0]  # float64 results against float64 references

MAX_ERROR = 1e-7


def sdpa_check(q, k, v, rng, **kwargs):
    """Gradient-check scaled_dot_product_attention with the given mask/scale arguments."""

    def forward(q, k, v):
        return scaled_dot_product_attention(q, k, v, **kwargs)

    def backward(g, q, k, v):
        _, weights = scaled_dot_product_attention(q, k, v, return_weights=True, **kwargs)
        return scaled_dot_product_attention_backward(
            g, q, k, v, weights, scale=kwargs.get("scale")
        )

    return gradcheck(forward, backward, [q, k, v], rng=rng)


def qkv(rng, batch=(), n_queries=4, n_keys=5, d_k=3, d_v=2):
    return (
        rng.standard_normal((*batch, n_queries, d_k)),
        rng.standard_normal((*batch, n_keys, d_k)),
        rng.standard_normal((*batch, n_keys, d_v)),
    )


# --- the checker itself ---------------------------------------------------------------------


def test_numerical_gradient_of_a_known_function():
    x = np.array([[0.5, -1.0], [2.0, 0.25]])
    g = np.array([[1.0, 2.0], [-1.0, 0.5]])
    numeric = numerical_gradient(np.sin, x, g)
    np.testing.assert_allclose(numeric, g * np.cos(x), rtol=1e-9)


def test_numerical_gradient_restores_the_input_exactly(rng):
    x = rng.standard_normal((3, 4))
    before = x.copy()
    numerical_gradient(np.exp, x, np.ones((3, 4)))
    np.testing.assert_array_equal(x, before)


def test_gradcheck_catches_a_wrong_backward(rng):
    scores = rng.standard_normal((3, 4))
    # Forgets the -sum(g * w) term; a plain sum(f) loss would not notice (it is exactly 0).
    error = gradcheck(softmax, lambda g, s: [softmax(s) * g], [scores], rng=rng)
    assert error > 0.01


def test_gradcheck_refuses_float32(rng):
    with pytest.raises(TypeError, match="float64"):
        gradcheck(softmax, lambda g, s: [g], [rng.standard_normal(3).astype(np.float32)])


def test_gradcheck_refuses_wrong_gradient_shape(rng):
    with pytest.raises(ValueError, match="shape"):
        gradcheck(softmax, lambda g, s: [g[:1]], [rng.standard_normal((2, 3))], rng=rng)


def test_relative_error_of_identical_and_zero_gradients():
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error([1.0, 0.0], [0.0, 0.0]) == 1.0


# --- softmax --------------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_gradient(rng, axis):
    scores = rng.standard_normal((4, 5))

    def backward(g, s):
        return [softmax_backward(softmax(s, axis=axis), g, axis=axis)]

    assert gradcheck(lambda s: softmax(s, axis=axis), backward, [scores], rng=rng) < MAX_ERROR


def test_softmax_gradient_with_blocked_entries_and_a_blocked_row(rng):
    scores = rng.standard_normal((3, 4))
    scores[0, 1] = -np.inf
    scores[2] = -np.inf
    g = rng.standard_normal((3, 4))
    grad = softmax_backward(softmax(scores), g)
    assert np.isfinite(grad).all()
    assert (grad[2] == 0).all()
    assert grad[0, 1] == 0
    finite = np.where(np.isfinite(scores), scores, 0.0)

    def forward(s):
        return softmax(np.where(np.isfinite(scores), s, -np.inf))

    numeric = numerical_gradient(forward, finite, g)
    assert relative_error(grad, numeric) < MAX_ERROR


# --- scaled dot-product attention -----------------------------------------------------------


def test_sdpa_gradient_no_mask(rng):
    assert sdpa_check(*qkv(rng), rng) < MAX_ERROR


def test_sdpa_gradient_causal(rng):
    assert sdpa_check(*qkv(rng, n_queries=5, n_keys=5), rng, is_causal=True) < MAX_ERROR


def test_sdpa_gradient_causal_more_keys_than_queries(rng):
    assert sdpa_check(*qkv(rng, n_queries=3, n_keys=6), rng, is_causal=True) < MAX_ERROR


def test_sdpa_gradient_key_padding_mask(rng):
    keep = np.array([True, True, True, False, False])
    assert sdpa_check(*qkv(rng), rng, mask=keep) < MAX_ERROR


def test_sdpa_gradient_float_mask(rng):
    mask = rng.standard_normal((4, 5))
    mask[1, 2] = -np.inf
    assert sdpa_check(*qkv(rng), rng, mask=mask) < MAX_ERROR


def test_sdpa_gradient_explicit_scale(rng):
    assert sdpa_check(*qkv(rng), rng, scale=0.7) < MAX_ERROR


def test_sdpa_gradient_zero_scale(rng):
    assert sdpa_check(*qkv(rng), rng, scale=0.0) < MAX_ERROR


def test_sdpa_gradient_fully_masked_row(rng):
    q, k, v = qkv(rng)
    mask = np.ones((4, 5), dtype=bool)
    mask[2] = False
    assert sdpa_check(q, k, v, rng, mask=mask) < MAX_ERROR

    _, weights = scaled_dot_product_attention(q, k, v, mask=mask, return_weights=True)
    g = rng.standard_normal((4, 2))
    grad_q, grad_k, grad_v = scaled_dot_product_attention_backward(g, q, k, v, weights)
    for grad in (grad_q, grad_k, grad_v):
        assert np.isfinite(grad).all()
    assert (grad_q[2] == 0).all()


def test_sdpa_gradient_every_row_masked_is_zero(rng):
    q, k, v = qkv(rng)
    mask = np.zeros((4, 5), dtype=bool)
    _, weights = scaled_dot_product_attention(q, k, v, mask=mask, return_weights=True)
    grads = scaled_dot_product_attention_backward(rng.standard_normal((4, 2)), q, k, v, weights)
    for grad, arr in zip(grads, (q, k, v), strict=True):
        assert grad.shape == arr.shape
        assert (grad == 0).all()


def test_sdpa_gradient_single_key_is_exactly_zero_for_queries_and_keys(rng):
    q, k, v = qkv(rng, n_keys=1)
    assert sdpa_check(q, k, v, rng) < MAX_ERROR
    _, weights = scaled_dot_product_attention(q, k, v, return_weights=True)
    g = rng.standard_normal((4, 2))
    grad_q, grad_k, grad_v = scaled_dot_product_attention_backward(g, q, k, v, weights)
    assert (grad_q == 0).all()
    assert (grad_k == 0).all()
    np.testing.assert_allclose(grad_v, g.sum(axis=0, keepdims=True), atol=ATOL)


def test_sdpa_gradient_batched_heads(rng):
    assert sdpa_check(*qkv(rng, batch=(2, 3)), rng, is_causal=True) < MAX_ERROR


def test_sdpa_gradient_broadcast_leading_dimensions(rng):
    q = rng.standard_normal((2, 1, 4, 3))
    k = rng.standard_normal((1, 3, 5, 3))
    v = rng.standard_normal((3, 5, 2))
    assert sdpa_check(q, k, v, rng) < MAX_ERROR


def test_sdpa_gradient_mask_with_its_own_batch_dimension(rng):
    q, k, v = qkv(rng)
    keep = np.ones((2, 1, 5), dtype=bool)
    keep[1, 0, 3:] = False  # the second "sequence" has two padding keys
    assert sdpa_check(q, k, v, rng, mask=keep) < MAX_ERROR


def test_sdpa_gradient_strided_and_transposed_inputs(rng):
    q = rng.standard_normal((8, 3))[::2]
    k = rng.standard_normal((3, 5)).T
    v = np.asfortranarray(rng.standard_normal((5, 2)))
    assert not q.flags.c_contiguous
    assert not k.flags.c_contiguous
    assert sdpa_check(q, k, v, rng, is_causal=True) < MAX_ERROR

    _, weights = scaled_dot_product_attention(q, k, v, return_weights=True)
    g = rng.standard_normal((4, 2))
    strided = scaled_dot_product_attention_backward(g, q, k, v, weights)
    copies = scaled_dot_product_attention_backward(g, q.copy(), k.copy(), v.copy(), weights.copy())
    for a, b in zip(strided, copies, strict=True):
        np.testing.assert_allclose(a, b, atol=ATOL)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_sdpa_backward_keeps_dtype_and_matches_float64(rng, dtype):
    q, k, v = qkv(rng)
    g = rng.standard_normal((4, 2))
    _, w64 = scaled_dot_product_attention(q, k, v, return_weights=True)
    reference = scaled_dot_product_attention_backward(g, q, k, v, w64)
    low = [a.astype(dtype) for a in (q, k, v)]
    _, w = scaled_dot_product_attention(*low, return_weights=True)
    grads = scaled_dot_product_attention_backward(g.astype(dtype), *low, w)
    atol = {np.float32: 1e-5, np.float16: 2e-2}[dtype]
    for grad, ref in zip(grads, reference, strict=True):
        assert grad.dtype == dtype
        np.testing.assert_allclose(grad.astype(np.float64), ref, atol=atol)


def test_sdpa_backward_rejects_wrong_shapes(rng):
    q, k, v = qkv(rng)
    _, weights = scaled_dot_product_attention(q, k, v, return_weights=True)
    with pytest.raises(ValueError, match="grad_context has shape"):
        scaled_dot_product_attention_backward(np.ones((4, 3)), q, k, v, weights)
    with pytest.raises(ValueError, match="weights has shape"):
        scaled_dot_product_attention_backward(np.ones((4, 2)), q, k, v, weights[:, :4])


def test_sdpa_backward_rejects_mixed_dtypes(rng):
    q, k, v = qkv(rng)
    _, weights = scaled_dot_product_attention(q, k, v, return_weights=True)
    with pytest.raises(TypeError, match="dtype"):
        scaled_dot_product_attention_backward(np.ones((4, 2), dtype=np.float32), q, k, v, weights)


def test_sdpa_backward_rejects_nan_gradient(rng):
    q, k, v = qkv(rng)
    _, weights = scaled_dot_product_attention(q, k, v, return_weights=True)
    g = np.ones((4, 2))
    g[0, 0] = np.nan
    with pytest.raises(ValueError, match="grad_context"):
        scaled_dot_product_attention_backward(g, q, k, v, weights)


# --- SelfAttention --------------------------------------------------------------------------


def layer_and_input(rng, batch=(), n=5, d_in=4, d_out=3):
    return SelfAttention(d_in, d_out, rng=rng), rng.standard_normal((*batch, n, d_in))


def assert_layer_gradients(layer, x, rng, **kwargs):
    errors = gradcheck_layer(layer, x, rng=rng, **kwargs)
    assert set(errors) == {"x", "W_query", "W_key", "W_value"}
    assert max(errors.values()) < MAX_ERROR, errors


def test_self_attention_gradient_no_mask(rng):
    assert_layer_gradients(*layer_and_input(rng), rng)


def test_self_attention_gradient_causal(rng):
    assert_layer_gradients(*layer_and_input(rng), rng, is_causal=True)


def test_self_attention_gradient_key_padding(rng):
    layer, x = layer_and_input(rng, batch=(2,))
    keep = np.array([[True] * 5, [True, True, True, False, False]])[:, None, :]
    assert_layer_gradients(layer, x, rng, mask=keep)


def test_self_attention_gradient_float_mask(rng):
    mask = rng.standard_normal((5, 5))
    mask[0, 3] = -np.inf
    assert_layer_gradients(*layer_and_input(rng), rng, mask=mask)


def test_self_attention_gradient_fully_masked_row(rng):
    layer, x = layer_and_input(rng)
    mask = causal_mask(5)
    mask[1] = False
    assert_layer_gradients(layer, x, rng, mask=mask)
    layer(x, mask=mask)
    grad_x = layer.backward(rng.standard_normal((5, 3)))
    assert np.isfinite(grad_x).all()
    assert all(np.isfinite(g).all() for g in layer.grads.values())


def test_self_attention_gradient_single_token(rng):
    layer, x = layer_and_input(rng, n=1)
    assert_layer_gradients(layer, x, rng)
    layer(x)
    layer.backward(rng.standard_normal((1, 3)))
    # One key: the weights cannot change, so the query and key projections learn nothing.
    assert (layer.grads["W_query"] == 0).all()
    assert (layer.grads["W_key"] == 0).all()


def test_self_attention_gradient_batched(rng):
    assert_layer_gradients(*layer_and_input(rng, batch=(2, 3), n=4), rng, is_causal=True)


def test_self_attention_batch_gradient_is_sum_over_sequences(rng):
    layer, x = layer_and_input(rng, batch=(3,))
    g = rng.standard_normal((3, 5, 3))
    layer(x)
    layer.backward(g)
    batched = {name: grad.copy() for name, grad in layer.grads.items()}
    for name in batched:
        total = np.zeros_like(batched[name])
        for i in range(3):
            layer(x[i])
            layer.backward(g[i])
            total += layer.grads[name]
        np.testing.assert_allclose(batched[name], total, atol=ATOL)


@pytest.mark.parametrize("scale", [1.0, 0.0, 2.5])
def test_self_attention_gradient_explicit_scale(rng, scale):
    layer = SelfAttention(4, 3, rng=rng, scale=scale)
    x = rng.standard_normal((5, 4))
    assert_layer_gradients(layer, x, rng)
    _, weights = scaled_dot_product_attention(
        x @ layer.W_query, x @ layer.W_key, x @ layer.W_value, scale=scale, return_weights=True
    )
    layer(x)
    np.testing.assert_allclose(layer.weights, weights, atol=ATOL)


def test_self_attention_rejects_non_finite_scale():
    with pytest.raises(ValueError, match="finite"):
        SelfAttention(4, 3, scale=float("inf"))


def test_self_attention_gradient_strided_input(rng):
    layer = SelfAttention(4, 3, rng=rng)
    x = rng.standard_normal((4, 10))[:, ::2].T  # (5, 4), neither C nor F contiguous
    assert not x.flags.c_contiguous
    assert not x.flags.f_contiguous
    assert_layer_gradients(layer, x, rng)


def test_self_attention_backward_float32_keeps_dtypes(rng):
    layer, x = layer_and_input(rng)
    g = rng.standard_normal((5, 3))
    layer(x)
    grad_x64 = layer.backward(g)
    grads64 = {name: grad.copy() for name, grad in layer.grads.items()}
    layer(x.astype(np.float32))
    grad_x32 = layer.backward(g.astype(np.float32))
    assert grad_x32.dtype == np.float32
    np.testing.assert_allclose(grad_x32, grad_x64, atol=1e-5)
    for name, grad in layer.grads.items():
        assert grad.dtype == np.float64  # the dtype of the parameters
        np.testing.assert_allclose(grad, grads64[name], atol=1e-5)


def test_self_attention_backward_before_forward_raises():
    layer = SelfAttention(3, 2, rng=0)
    with pytest.raises(RuntimeError, match="before its backward pass"):
        layer.backward(np.ones((4, 2)))


def test_self_attention_backward_rejects_wrong_gradient_shape(rng):
    layer, x = layer_and_input(rng)
    layer(x)
    with pytest.raises(ValueError, match="grad_out has shape"):
        layer.backward(np.ones((5, 4)))


def test_self_attention_grads_match_params(rng):
    layer, x = layer_and_input(rng)
    assert layer.grads == {}
    layer(x)
    layer.backward(np.ones((5, 3)))
    assert set(layer.grads) == set(layer.params)
    for name, grad in layer.grads.items():
        assert grad.shape == layer.params[name].shape


def test_self_attention_forward_unchanged_by_backward(rng):
    layer, x = layer_and_input(rng)
    before = layer(x).copy()
    layer.backward(np.ones((5, 3)))
    np.testing.assert_array_equal(layer(x), before)


# --- the pieces around attention ------------------------------------------------------------


def test_linear_gradient(rng):
    head = Linear(4, 6, rng=rng)
    head.b[:] = rng.standard_normal(6)
    errors = gradcheck_layer(head, rng.standard_normal((2, 3, 4)), rng=rng)
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) < MAX_ERROR, errors


def test_positional_embedding_gradient(rng):
    positions = PositionalEmbedding(max_len=7, dim=3, rng=rng)
    errors = gradcheck_layer(positions, rng.standard_normal((2, 5, 3)), rng=rng)
    assert set(errors) == {"x", "weight"}
    assert max(errors.values()) < MAX_ERROR, errors
    assert (positions.grads["weight"][5:] == 0).all()


def test_embedding_gradient_with_repeated_ids(rng):
    embed = Embedding(6, 3, rng=rng)
    ids = np.array([[1, 4, 1, 1], [0, 4, 5, 1]])
    errors = gradcheck_layer(embed, ids, rng=rng)
    assert set(errors) == {"weight"}
    assert errors["weight"] < MAX_ERROR
    embed(ids)
    g = rng.standard_normal((2, 4, 3))
    assert embed.backward(g) is None
    np.testing.assert_allclose(embed.grads["weight"][1], g[ids == 1].sum(axis=0), atol=ATOL)
    assert (embed.grads["weight"][[2, 3]] == 0).all()


def test_embedding_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="before its backward pass"):
        Embedding(4, 2, rng=0).backward(np.ones((3, 2)))


@pytest.mark.parametrize("with_mask", [False, True])
def test_cross_entropy_gradient(rng, with_mask):
    targets = np.array([[0, 3, 2], [1, 1, 4]])
    mask = np.array([[True, True, False], [True, False, True]]) if with_mask else None

    def forward(z):
        return softmax_cross_entropy(z, targets, mask=mask)[0]

    def backward(g, z):
        return [g * softmax_cross_entropy(z, targets, mask=mask)[1]]

    logits = rng.standard_normal((2, 3, 5))
    assert gradcheck(forward, backward, [logits], rng=rng) < MAX_ERROR


def test_model_gradient(rng):
    model = TinyAttentionModel(vocab_size=5, max_len=4, d_model=3, rng=rng)
    model.head.b[:] = rng.standard_normal(5)
    ids = np.array([[0, 1, 4, 1], [2, 3, 3, 0]])
    errors = gradcheck_layer(model, ids, rng=rng)
    assert set(errors) == set(model.params)
    assert max(errors.values()) < MAX_ERROR, errors


def test_model_gradient_causal(rng):
    model = TinyAttentionModel(vocab_size=5, max_len=4, d_model=3, rng=rng)
    errors = gradcheck_layer(model, np.array([[0, 1, 4], [2, 3, 3]]), rng=rng, is_causal=True)
    assert max(errors.values()) < MAX_ERROR, errors


# --- property: any shape, any boolean mask ---------------------------------------------------


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    batch=st.lists(st.integers(1, 3), max_size=2),
    n_queries=st.integers(1, 4),
    n_keys=st.integers(1, 5),
    d_k=st.integers(1, 3),
    d_v=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
    with_mask=st.booleans(),
)
def test_sdpa_gradient_property(batch, n_queries, n_keys, d_k, d_v, seed, with_mask):
    rng = np.random.default_rng(seed)
    q, k, v = qkv(rng, tuple(batch), n_queries, n_keys, d_k, d_v)
    # Values that (nearly) coincide give queries and keys a (nearly) zero gradient, which finite
    # differences can only measure to an absolute, not a relative, precision of about 1e-10.
    assume(n_keys == 1 or np.ptp(v, axis=-2).min() > 0.1)
    kwargs = {}
    if with_mask:
        kwargs["mask"] = rng.random((n_queries, n_keys)) < 0.7  # some rows may be fully blocked
    assert sdpa_check(q, k, v, rng, **kwargs) < MAX_ERROR
