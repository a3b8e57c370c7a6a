"""Rotary position embeddings against a PyTorch version written here (optional: needs PyTorch).

The PyTorch version takes another road to the same rotation: each pair of features
``(x_2f, x_2f+1)`` becomes the complex number ``x_2f + i x_2f+1``, multiplied by
``exp(i p theta_f)``, as several public implementations do. Its gradients come from autograd,
so the hand-written backward passes of the library are checked against a derivative that no one
wrote by hand.
"""

from __future__ import annotations

import numpy as np
import pytest

from simple_attention import MultiHeadAttention, rotary_embedding, rotary_embedding_backward

torch = pytest.importorskip("torch")

ATOL = 1e-12


def torch_rope(x, positions, base=10000.0):
    """RoPE in PyTorch, through complex multiplication: (..., n, d_k) -> (..., n, d_k)."""
    d_k = x.shape[-1]
    theta = base ** (-torch.arange(0, d_k, 2, dtype=torch.float64) / d_k)
    angles = torch.as_tensor(positions, dtype=torch.float64)[:, None] * theta
    turn = torch.polar(torch.ones_like(angles), angles)  # exp(i p theta_f)
    pairs = torch.view_as_complex(x.reshape(*x.shape[:-1], d_k // 2, 2).contiguous())
    return torch.view_as_real(pairs * turn).reshape(x.shape)


def test_the_rotation_and_its_backward_match_autograd():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 8))
    positions = rng.integers(0, 100, 7)
    grad_y = rng.standard_normal(x.shape)
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = torch_rope(xt, positions)
    yt.backward(torch.from_numpy(grad_y))
    y = rotary_embedding(x, positions)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(
        rotary_embedding_backward(grad_y, positions), xt.grad.numpy(), rtol=0, atol=ATOL
    )


def test_rotary_multi_head_attention_matches_torch():
    rng = np.random.default_rng(1)
    batch, n, d_model, n_heads = 2, 6, 8, 2
    d_head = d_model // n_heads
    layer = MultiHeadAttention(d_model, n_heads, rotary=True, rng=rng)
    x = rng.standard_normal((batch, n, d_model))
    grad_out = rng.standard_normal((batch, n, d_model))

    xt = torch.from_numpy(x).requires_grad_(True)
    weights = {
        name: torch.from_numpy(getattr(layer, name).copy()).requires_grad_(True)
        for name in ("W_query", "W_key", "W_value", "W_out")
    }

    def heads(t):  # (B, n, d_model) -> (B, n_heads, n, d_head)
        return t.reshape(batch, n, n_heads, d_head).transpose(1, 2)

    positions = np.arange(n)
    query = torch_rope(heads(xt @ weights["W_query"]), positions)
    key = torch_rope(heads(xt @ weights["W_key"]), positions)
    value = heads(xt @ weights["W_value"])
    context = torch.nn.functional.scaled_dot_product_attention(query, key, value, is_causal=True)
    out_t = context.transpose(1, 2).reshape(batch, n, d_model) @ weights["W_out"]
    out_t.backward(torch.from_numpy(grad_out))

    out = layer(x, is_causal=True)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(layer.backward(grad_out), xt.grad.numpy(), rtol=0, atol=ATOL)
    for name, tensor in weights.items():
        np.testing.assert_allclose(layer.grads[name], tensor.grad.numpy(), rtol=0, atol=ATOL)
