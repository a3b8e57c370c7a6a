"""LayerNorm, gelu and FeedForward against PyTorch autograd (run with ``nox -s parity``).

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
