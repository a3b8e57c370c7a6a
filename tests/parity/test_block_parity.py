"""LayerNorm, gelu, FeedForward, TransformerBlock and TinyGPT against PyTorch autograd.

Run with ``nox -s parity``.

PyTorch is not a dependency: without it every test here is skipped. Everything runs in float64,
where the hand-written backward passes must match autograd to rounding error. Our linear maps
are ``x @ W + b`` with ``W`` of shape ``(d_in, d_out)``; ``torch.nn.functional.linear`` takes
the transpose, ``(d_out, d_in)``.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from simple_attention.layers.feedforward import (  # noqa: E402
    FeedForward,
    gelu,
    gelu_backward,
)
from simple_attention.layers.norm import LayerNorm  # noqa: E402

ATOL = 1e-12


def t(a, grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def close(ours, theirs, atol=ATOL):
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=atol)


@pytest.fixture
def rng():
    return np.random.default_rng(2027)


@pytest.mark.parametrize("eps", [1e-5, 0.5], ids=["default-eps", "large-eps"])
@pytest.mark.parametrize("shape", [(6,), (4, 6), (2, 3, 6)], ids=["1d", "2d", "batch"])
def test_layer_norm_matches_torch(rng, shape, eps):
    norm = LayerNorm(6, eps=eps)
    norm.gamma[:] = rng.standard_normal(6)
    norm.beta[:] = rng.standard_normal(6)
    x = 2.0 + 3.0 * rng.standard_normal(shape)
    g = rng.standard_normal(shape)
    out = norm(x)
    grad_x = norm.backward(g)

    tx, tgamma, tbeta = t(x, True), t(norm.gamma, True), t(norm.beta, True)
    torch_out = F.layer_norm(tx, (6,), weight=tgamma, bias=tbeta, eps=eps)
    (torch_out * t(g)).sum().backward()
    close(out, torch_out)
    close(grad_x, tx.grad)
    close(norm.grads["gamma"], tgamma.grad)
    close(norm.grads["beta"], tbeta.grad)


def test_gelu_matches_torch(rng):
    x = np.concatenate([4.0 * rng.standard_normal(200), [-30.0, -10.0, 0.0, 10.0, 30.0]])
    g = rng.standard_normal(x.shape)
    tx = t(x, True)
    torch_out = F.gelu(tx, approximate="tanh")
    (torch_out * t(g)).sum().backward()
    close(gelu(x), torch_out)
    close(gelu_backward(x, g), tx.grad)


def test_gelu_is_not_the_exact_erf_gelu(rng):
    # Guards against comparing with the wrong reference: the two GELUs differ by about 1e-3.
    x = np.linspace(-3, 3, 61)
    assert np.abs(gelu(x) - F.gelu(t(x)).numpy()).max() > 1e-4


@pytest.mark.parametrize("shape", [(5,), (4, 5), (2, 3, 5)], ids=["1d", "2d", "batch"])
def test_feedforward_matches_torch(rng, shape):
    ffn = FeedForward(5, d_hidden=7, rng=rng)
    ffn.up.b[:] = rng.standard_normal(7)
    ffn.down.b[:] = rng.standard_normal(5)
    x = rng.standard_normal(shape)
    g = rng.standard_normal(shape)
    out = ffn(x)
    grad_x = ffn.backward(g)

    tx = t(x, True)
    # F.linear computes x @ weight.T + bias: our W is weight.T.
    W_up, b_up = t(ffn.up.W.T, True), t(ffn.up.b, True)
    W_down, b_down = t(ffn.down.W.T, True), t(ffn.down.b, True)
    hidden = F.gelu(F.linear(tx, W_up, b_up), approximate="tanh")
    torch_out = F.linear(hidden, W_down, b_down)
    (torch_out * t(g)).sum().backward()

    close(out, torch_out)
    close(grad_x, tx.grad)
    close(ffn.grads["up.W"], W_up.grad.T)
    close(ffn.grads["up.b"], b_up.grad)
    close(ffn.grads["down.W"], W_down.grad.T)
    close(ffn.grads["down.b"], b_down.grad)


# --- TransformerBlock and TinyGPT --------------------------------------------------------------
# The torch twins are written out by hand from torch.nn.functional, so that they follow the
# textbook pre-norm block, not this library's code: layer_norm, bias-free query, key, value and
# output projections, causal scaled_dot_product_attention, the tanh GELU, an MLP with biases.


def randomise(params, rng):
    """Random values everywhere (gains, biases, tables), so that every parameter matters."""
    for name, p in params.items():
        scale = 1.0 if name.endswith(("gamma", "weight")) else 0.5
        p[...] = scale * rng.standard_normal(p.shape)


def torch_params(params):
    return {name: t(p, True) for name, p in params.items()}


def torch_block(x, p, prefix, n_heads, eps):
    """The pre-norm causal block on x ``(..., n, d)``; ``p`` holds tensors under our names."""
    d = x.shape[-1]

    def heads(z):  # (..., n, d) -> (..., n_heads, n, d_head)
        return z.unflatten(-1, (n_heads, d // n_heads)).transpose(-3, -2)

    a = F.layer_norm(x, (d,), p[prefix + "ln1.gamma"], p[prefix + "ln1.beta"], eps=eps)
    # Our linear maps are z @ W with W (d_in, d_out): the transpose of F.linear's weight.
    q = heads(a @ p[prefix + "attention.W_query"])
    k = heads(a @ p[prefix + "attention.W_key"])
    v = heads(a @ p[prefix + "attention.W_value"])
    context = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    h = x + context.transpose(-3, -2).flatten(-2) @ p[prefix + "attention.W_out"]
    b = F.layer_norm(h, (d,), p[prefix + "ln2.gamma"], p[prefix + "ln2.beta"], eps=eps)
    up = F.linear(b, p[prefix + "ffn.up.W"].T, p[prefix + "ffn.up.b"])
    down = F.linear(
        F.gelu(up, approximate="tanh"), p[prefix + "ffn.down.W"].T, p[prefix + "ffn.down.b"]
    )
    return h + down


def close_grads(ours, theirs):
    assert set(ours) == set(theirs)
    for name, tensor in theirs.items():
        assert tensor.grad is not None, name
        np.testing.assert_allclose(
            ours[name], tensor.grad.numpy(), rtol=1e-10, atol=ATOL, err_msg=name
        )


@pytest.mark.parametrize("shape", [(5, 8), (3, 5, 8)], ids=["2d", "batch"])
def test_transformer_block_matches_torch(rng, shape):
    from simple_attention import TransformerBlock

    block = TransformerBlock(8, 2, d_hidden=12, rng=rng)
    randomise(block.params, rng)
    x = rng.standard_normal(shape)
    g = rng.standard_normal(shape)
    out = block(x)
    grad_x = block.backward(g)

    tx = t(x, True)
    tp = torch_params(block.params)
    torch_out = torch_block(tx, tp, "", n_heads=2, eps=block.ln1.eps)
    (torch_out * t(g)).sum().backward()
    close(out, torch_out)
    close(grad_x, tx.grad)
    close_grads(block.grads, tp)


def torch_gpt(ids, p, n_layers, n_heads, eps):
    n = ids.shape[-1]
    E = p["embedding.weight"]
    x = E[torch.from_numpy(ids)] + p["positions.weight"][:n]
    for i in range(n_layers):
        x = torch_block(x, p, f"block{i}.", n_heads, eps)
    y = F.layer_norm(x, (x.shape[-1],), p["ln_f.gamma"], p["ln_f.beta"], eps=eps)
    return y @ E.T  # the tied head


def test_tiny_gpt_logits_loss_and_every_gradient_match_torch(rng):
    from simple_attention import TinyGPT, softmax_cross_entropy

    vocab = 7
    model = TinyGPT(vocab, 6, d_model=8, n_heads=2, n_layers=2, d_hidden=16, rng=rng)
    randomise(model.params, rng)
    ids = rng.integers(0, vocab, (3, 6))
    targets = rng.integers(0, vocab, (3, 6))
    logits = model(ids)
    loss, grad_logits = softmax_cross_entropy(logits, targets)
    model.backward(grad_logits)

    tp = torch_params(model.params)
    torch_logits = torch_gpt(ids, tp, n_layers=2, n_heads=2, eps=model.ln_f.eps)
    torch_loss = F.cross_entropy(
        torch_logits.reshape(-1, vocab), torch.from_numpy(targets.reshape(-1))
    )
    torch_loss.backward()
    close(logits, torch_logits)
    np.testing.assert_allclose(loss, torch_loss.item(), rtol=1e-12, atol=0)
    close_grads(model.grads, tp)
    # The tied table gets both gradients: the lookup's and the head's.
    assert np.abs(model.grads["embedding.weight"]).max() > 1e-3
