"""Outputs and gradients against PyTorch autograd (run with ``nox -s parity``).

PyTorch is not a dependency: without it every test here is skipped. Everything runs in float64,
where the hand-written backward passes must match autograd to rounding error.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import simple_attention as sa  # noqa: E402

ATOL = 1e-12


def t(a, grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def close(ours, theirs, atol=ATOL):
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=atol)


@pytest.fixture
def rng():
    return np.random.default_rng(2026)


def sdpa_both(q, k, v, g, **kwargs):
    """Our forward and backward, and PyTorch's, for the same arguments."""
    context, weights = sa.scaled_dot_product_attention(q, k, v, return_weights=True, **kwargs)
    ours = sa.scaled_dot_product_attention_backward(g, q, k, v, weights, scale=kwargs.get("scale"))
    tq, tk, tv = t(q, True), t(k, True), t(v, True)
    torch_kwargs = dict(kwargs)
    if "mask" in torch_kwargs:
        # PyTorch wants at least (L, S); ours also takes a key-padding mask of shape (S,).
        mask = np.atleast_2d(torch_kwargs.pop("mask"))
        torch_kwargs["attn_mask"] = torch.tensor(mask)
        if torch_kwargs["attn_mask"].dtype != torch.bool:
            torch_kwargs["attn_mask"] = torch_kwargs["attn_mask"].to(torch.float64)
    out = F.scaled_dot_product_attention(tq, tk, tv, **torch_kwargs)
    (out * t(g)).sum().backward()
    return (context, ours), (out, (tq.grad, tk.grad, tv.grad))


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"is_causal": True},
        {"scale": 0.3},
        {"mask": np.array([True, True, True, False, True, False])},
    ],
    ids=["plain", "causal", "scale", "padding"],
)
def test_sdpa_matches_torch(rng, kwargs):
    q = rng.standard_normal((2, 3, 6, 4))
    k = rng.standard_normal((2, 3, 6, 4))
    v = rng.standard_normal((2, 3, 6, 5))
    g = rng.standard_normal((2, 3, 6, 5))
    (context, grads), (out, torch_grads) = sdpa_both(q, k, v, g, **kwargs)
    close(context, out)
    for ours, theirs in zip(grads, torch_grads, strict=True):
        close(ours, theirs)


def test_sdpa_float_mask_matches_torch(rng):
    q, k, v = (rng.standard_normal((5, 3)) for _ in range(3))
    g = rng.standard_normal((5, 3))
    mask = rng.standard_normal((5, 5))
    mask[0, 2] = -np.inf
    (context, grads), (out, torch_grads) = sdpa_both(q, k, v, g, mask=mask)
    close(context, out)
    for ours, theirs in zip(grads, torch_grads, strict=True):
        close(ours, theirs)


def test_sdpa_broadcast_heads_matches_torch(rng):
    # One key/value set shared by every head: its gradient sums over the heads.
    q = rng.standard_normal((4, 6, 3))
    k = rng.standard_normal((1, 6, 3))
    v = rng.standard_normal((1, 6, 2))
    g = rng.standard_normal((4, 6, 2))
    _, weights = sa.scaled_dot_product_attention(q, k, v, return_weights=True)
    grads = sa.scaled_dot_product_attention_backward(g, q, k, v, weights)
    tq, tk, tv = t(q, True), t(k, True), t(v, True)
    out = F.scaled_dot_product_attention(tq, tk.expand(4, 6, 3), tv.expand(4, 6, 2))
    (out * t(g)).sum().backward()
    for ours, theirs in zip(grads, (tq.grad, tk.grad, tv.grad), strict=True):
        assert ours.shape == tuple(theirs.shape)
        close(ours, theirs)


@pytest.mark.parametrize("is_causal", [False, True])
def test_self_attention_matches_torch(rng, is_causal):
    layer = sa.SelfAttention(4, 3, rng=rng)
    x = rng.standard_normal((2, 5, 4))
    g = rng.standard_normal((2, 5, 3))
    out = layer(x, is_causal=is_causal)
    grad_x = layer.backward(g)

    tx = t(x, True)
    W = {name: t(p, True) for name, p in layer.params.items()}
    q, k, v = tx @ W["W_query"], tx @ W["W_key"], tx @ W["W_value"]
    t_out = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)
    (t_out * t(g)).sum().backward()
    close(out, t_out)
    close(grad_x, tx.grad)
    for name in W:
        close(layer.grads[name], W[name].grad)


def test_cross_entropy_matches_torch(rng):
    logits = rng.standard_normal((3, 4, 7))
    targets = rng.integers(7, size=(3, 4))
    loss, grad = sa.softmax_cross_entropy(logits, targets)
    tz = t(logits, True)
    t_loss = F.cross_entropy(tz.reshape(-1, 7), torch.tensor(targets.reshape(-1)))
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    close(grad, tz.grad)


def test_cross_entropy_mask_matches_torch_ignore_index(rng):
    logits = rng.standard_normal((6, 5))
    targets = rng.integers(5, size=6)
    keep = np.array([True, False, True, True, False, True])
    loss, grad = sa.softmax_cross_entropy(logits, targets, mask=keep)
    tz = t(logits, True)
    t_targets = torch.tensor(np.where(keep, targets, -100))
    t_loss = F.cross_entropy(tz, t_targets, ignore_index=-100)
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    close(grad, tz.grad)


def test_linear_matches_torch(rng):
    head = sa.Linear(4, 3, rng=rng)
    head.b[:] = rng.standard_normal(3)
    x = rng.standard_normal((2, 5, 4))
    g = rng.standard_normal((2, 5, 3))
    out = head(x)
    grad_x = head.backward(g)
    tx, tW, tb = t(x, True), t(head.W, True), t(head.b, True)
    t_out = tx @ tW + tb
    (t_out * t(g)).sum().backward()
    close(out, t_out)
    close(grad_x, tx.grad)
    close(head.grads["W"], tW.grad)
    close(head.grads["b"], tb.grad)


def test_embedding_matches_torch(rng):
    embed = sa.Embedding(6, 3, rng=rng)
    ids = np.array([[1, 4, 1], [0, 4, 4]])
    g = rng.standard_normal((2, 3, 3))
    embed(ids)
    embed.backward(g)
    tW = t(embed.weight, True)
    (F.embedding(torch.tensor(ids), tW) * t(g)).sum().backward()
    close(embed.grads["weight"], tW.grad)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_torch(rng, momentum):
    ours = rng.standard_normal(4)
    theirs = t(ours.copy(), True)
    opt = sa.SGD({"x": ours}, lr=0.1, momentum=momentum)
    t_opt = torch.optim.SGD([theirs], lr=0.1, momentum=momentum)
    for _ in range(5):
        grad = rng.standard_normal(4)
        opt.step({"x": grad})
        theirs.grad = t(grad)
        t_opt.step()
    close(ours, theirs)


def test_adam_matches_torch(rng):
    ours = rng.standard_normal(4)
    theirs = t(ours.copy(), True)
    opt = sa.Adam({"x": ours}, lr=0.01, betas=(0.8, 0.99), eps=1e-7)
    t_opt = torch.optim.Adam([theirs], lr=0.01, betas=(0.8, 0.99), eps=1e-7)
    for _ in range(5):
        grad = rng.standard_normal(4)
        opt.step({"x": grad})
        theirs.grad = t(grad)
        t_opt.step()
    close(ours, theirs)


def test_tiny_model_matches_torch(rng):
    """The whole model, forward and backward, rebuilt from PyTorch operations."""
    model = sa.TinyAttentionModel(vocab_size=7, max_len=5, d_model=4, rng=rng)
    ids = rng.integers(7, size=(3, 5))
    targets = rng.integers(7, size=(3, 5))
    loss, grad_logits = sa.softmax_cross_entropy(model(ids), targets)
    model.backward(grad_logits)

    P = {name: t(p, True) for name, p in model.params.items()}
    x = F.embedding(torch.tensor(ids), P["embedding.weight"]) + P["positions.weight"][:5]
    q, k, v = (x @ P[f"attention.W_{part}"] for part in ("query", "key", "value"))
    logits = F.scaled_dot_product_attention(q, k, v) @ P["head.W"] + P["head.b"]
    t_loss = F.cross_entropy(logits.reshape(-1, 7), torch.tensor(targets.reshape(-1)))
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    for name, tensor in P.items():
        close(model.grads[name], tensor.grad)
