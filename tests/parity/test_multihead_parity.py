"""MultiHeadAttention against torch.nn.MultiheadAttention (optional: needs PyTorch).

PyTorch's module computes ``x @ W.T`` with the query, key and value matrices stacked in
``in_proj_weight``, and reads a boolean ``attn_mask`` or ``key_padding_mask`` as True = BLOCKED,
the opposite of this library. The helpers below translate both ways, so these tests also check
the translation table of the masks page.
"""

from __future__ import annotations

import numpy as np
import pytest

from simple_attention import MultiHeadAttention, causal_mask, key_padding_mask

torch = pytest.importorskip("torch")

ATOL = 1e-12


def torch_twin(layer: MultiHeadAttention):
    """A torch.nn.MultiheadAttention (float64, no biases) holding the weights of ``layer``."""
    twin = torch.nn.MultiheadAttention(
        layer.d_model, layer.n_heads, bias=False, batch_first=True, dtype=torch.float64
    )
    stacked = np.concatenate([layer.W_query.T, layer.W_key.T, layer.W_value.T])
    with torch.no_grad():
        twin.in_proj_weight.copy_(torch.from_numpy(stacked))
        twin.out_proj.weight.copy_(torch.from_numpy(layer.W_out.T.copy()))
    return twin


def run_torch(twin, x, **masks):
    xt = torch.from_numpy(x).requires_grad_(True)
    out, weights = twin(xt, xt, xt, need_weights=True, average_attn_weights=False, **masks)
    return xt, out, weights


def make_case(rng, batch=2, n=5, d_model=8, n_heads=2):
    layer = MultiHeadAttention(d_model, n_heads, rng=rng)
    x = rng.standard_normal((batch, n, d_model))
    return layer, x


def test_no_mask_outputs_weights_and_gradients():
    rng = np.random.default_rng(0)
    layer, x = make_case(rng)
    twin = torch_twin(layer)
    out = layer(x)
    xt, out_t, weights_t = run_torch(twin, x)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(layer.weights, weights_t.detach().numpy(), rtol=0, atol=ATOL)

    grad_out = rng.standard_normal(out.shape)
    grad_x = layer.backward(grad_out)
    out_t.backward(torch.from_numpy(grad_out))
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=0, atol=ATOL)
    d = layer.d_model
    in_grad = twin.in_proj_weight.grad.numpy()
    np.testing.assert_allclose(layer.grads["W_query"], in_grad[:d].T, rtol=0, atol=ATOL)
    np.testing.assert_allclose(layer.grads["W_key"], in_grad[d : 2 * d].T, rtol=0, atol=ATOL)
    np.testing.assert_allclose(layer.grads["W_value"], in_grad[2 * d :].T, rtol=0, atol=ATOL)
    np.testing.assert_allclose(
        layer.grads["W_out"], twin.out_proj.weight.grad.numpy().T, rtol=0, atol=ATOL
    )


def test_causal_mask_is_inverted_for_torch():
    rng = np.random.default_rng(1)
    layer, x = make_case(rng)
    blocked = torch.from_numpy(~causal_mask(x.shape[1]))  # PyTorch: True = blocked
    _, out_t, weights_t = run_torch(torch_twin(layer), x, attn_mask=blocked)
    np.testing.assert_allclose(layer(x, is_causal=True), out_t.detach().numpy(), atol=ATOL)
    np.testing.assert_allclose(layer.weights, weights_t.detach().numpy(), rtol=0, atol=ATOL)


def test_key_padding_mask_is_inverted_for_torch():
    rng = np.random.default_rng(2)
    layer, x = make_case(rng, batch=3)
    keep = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], dtype=bool)
    padding = torch.from_numpy(~keep)  # PyTorch: True = padding, ignored
    _, out_t, weights_t = run_torch(torch_twin(layer), x, key_padding_mask=padding)
    out = layer(x, mask=key_padding_mask(keep))
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(layer.weights, weights_t.detach().numpy(), rtol=0, atol=ATOL)


def test_causal_and_key_padding_together():
    rng = np.random.default_rng(3)
    layer, x = make_case(rng, batch=2)
    keep = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)
    _, out_t, _ = run_torch(
        torch_twin(layer),
        x,
        attn_mask=torch.from_numpy(~causal_mask(5)),
        key_padding_mask=torch.from_numpy(~keep),
    )
    out = layer(x, mask=key_padding_mask(keep, is_causal=True))
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=0, atol=ATOL)


def test_float_masks_are_added_in_both():
    rng = np.random.default_rng(4)
    layer, x = make_case(rng)
    float_mask = rng.standard_normal((5, 5))
    float_mask[0, 3] = -np.inf
    _, out_t, weights_t = run_torch(torch_twin(layer), x, attn_mask=torch.from_numpy(float_mask))
    np.testing.assert_allclose(layer(x, mask=float_mask), out_t.detach().numpy(), atol=ATOL)
    np.testing.assert_allclose(layer.weights, weights_t.detach().numpy(), rtol=0, atol=ATOL)


def test_functional_sdpa_reads_booleans_like_this_library():
    from simple_attention import scaled_dot_product_attention

    rng = np.random.default_rng(5)
    q, k, v = rng.standard_normal((3, 2, 4, 3))
    keep = rng.random((4, 4)) < 0.7
    keep[:, 0] = True  # every query may attend to something
    expected = torch.nn.functional.scaled_dot_product_attention(
        *(torch.from_numpy(a) for a in (q, k, v)), attn_mask=torch.from_numpy(keep)
    )
    ours = scaled_dot_product_attention(q, k, v, mask=keep)
    np.testing.assert_allclose(ours, expected.numpy(), rtol=0, atol=ATOL)


def test_a_query_with_no_key_gives_zeros_here_and_nan_in_torch():
    rng = np.random.default_rng(6)
    layer, x = make_case(rng, batch=2)
    keep = np.array([[1, 1, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=bool)  # sentence 1: all padding
    _, out_t, _ = run_torch(torch_twin(layer), x, key_padding_mask=torch.from_numpy(~keep))
    out = layer(x, mask=key_padding_mask(keep))
    out_t = out_t.detach().numpy()
    np.testing.assert_allclose(out[0], out_t[0], rtol=0, atol=ATOL)
    np.testing.assert_array_equal(out[1], 0.0)
    assert np.isnan(out_t[1]).all()  # PyTorch 2.13's module: NaN where we return zeros


def test_functional_sdpa_also_gives_zeros_for_a_query_with_no_key():
    from simple_attention import scaled_dot_product_attention

    rng = np.random.default_rng(7)
    q, k, v = rng.standard_normal((3, 4, 3))
    keep = causal_mask(4)
    keep[1] = False
    expected = torch.nn.functional.scaled_dot_product_attention(
        *(torch.from_numpy(a) for a in (q, k, v)), attn_mask=torch.from_numpy(keep)
    ).numpy()
    ours = scaled_dot_product_attention(q, k, v, mask=keep)
    np.testing.assert_array_equal(expected[1], 0.0)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=ATOL)
