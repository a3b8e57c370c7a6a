"""TransformerBlock: the pre-norm formula, causality, residual gradients, dropout, decoding."""

from __future__ import annotations

import numpy as np
import pytest

from simple_attention import KVCache, TransformerBlock, gradcheck_layer

from tolerances import TOLERANCES

MAX_ERROR = 1e-7
ATOL = TOLERANCES[np.float64][0]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(31)


def randomise(block: TransformerBlock, rng: np.random.Generator) -> TransformerBlock:
    """Random values in every parameter (gains and biases too), so that each one matters."""
    for param in block.params.values():
        param[...] = 0.5 * rng.standard_normal(param.shape)
    return block


def make_block(rng: np.random.Generator, **kwargs: object) -> TransformerBlock:
    return randomise(TransformerBlock(4, 2, d_hidden=6, rng=rng, **kwargs), rng)  # type: ignore[arg-type]


# --- gradients --------------------------------------------------------------------------------

ABLATIONS = [
    {},
    {"residual": False},
    {"layer_norm": False},
    {"residual": False, "layer_norm": False},
]


@pytest.mark.parametrize(
    "kwargs", ABLATIONS, ids=["full", "no-residual", "no-layer-norm", "neither"]
)
def test_gradients_match_finite_differences(kwargs, rng) -> None:
    block = make_block(rng, **kwargs)
    x = rng.standard_normal((2, 3, 4))
    errors = gradcheck_layer(block, x, rng=1)
    expected = {"x", *block.params}
    assert set(errors) == expected
    assert max(errors.values()) < MAX_ERROR, errors


def test_gradients_of_a_single_sequence(rng) -> None:
    block = make_block(rng)
    errors = gradcheck_layer(block, rng.standard_normal((5, 4)), rng=2)
    assert max(errors.values()) < MAX_ERROR, errors


def test_parameter_names_and_shapes() -> None:
    block = TransformerBlock(8, 2, rng=0)
    shapes = {name: p.shape for name, p in block.params.items()}
    assert shapes == {
        "ln1.gamma": (8,),
        "ln1.beta": (8,),
        "attention.W_query": (8, 8),
        "attention.W_key": (8, 8),
        "attention.W_value": (8, 8),
        "attention.W_out": (8, 8),
        "ln2.gamma": (8,),
        "ln2.beta": (8,),
        "ffn.up.W": (8, 32),
        "ffn.up.b": (32,),
        "ffn.down.W": (32, 8),
        "ffn.down.b": (8,),
    }
    assert set(TransformerBlock(8, 2, layer_norm=False, rng=0).params) == {
        name for name in shapes if not name.startswith("ln")
    }


# --- the formula ------------------------------------------------------------------------------


def by_hand(block: TransformerBlock, x: np.ndarray) -> np.ndarray:
    """The block's formula, computed from its sub-layers called one by one."""
    norm1 = block.ln1 if block.ln1 is not None else (lambda v: v)
    norm2 = block.ln2 if block.ln2 is not None else (lambda v: v)
    attended = block.attention(norm1(x), is_causal=True)
    h = x + attended if block.residual else attended
    transformed = block.ffn(norm2(h))
    return h + transformed if block.residual else transformed


@pytest.mark.parametrize(
    "kwargs", ABLATIONS, ids=["full", "no-residual", "no-layer-norm", "neither"]
)
def test_output_is_the_pre_norm_formula(kwargs, rng) -> None:
    block = make_block(rng, **kwargs)
    x = rng.standard_normal((2, 5, 4))
    np.testing.assert_allclose(block(x), by_hand(block, x), rtol=0, atol=ATOL)


def test_the_norms_are_applied_before_each_half_not_after(rng) -> None:
    # A post-norm block, ln(x + attn(x)), gives other numbers: the check above can tell.
    block = make_block(rng)
    x = 3.0 + rng.standard_normal((5, 4))
    h = block.ln1(x + block.attention(x, is_causal=True))
    post_norm = block.ln2(h + block.ffn(h))
    assert np.abs(block(x) - post_norm).max() > 1e-3


def test_ablation_switches_change_the_result(rng) -> None:
    x = rng.standard_normal((5, 4))
    outs = []
    for kwargs in ABLATIONS:
        block = TransformerBlock(4, 2, d_hidden=6, rng=3, **kwargs)  # type: ignore[arg-type]
        outs.append(block(x))
    for i in range(len(outs)):
        for j in range(i):
            assert np.abs(outs[i] - outs[j]).max() > 1e-6


def test_attention_is_causal_and_multi_head(rng) -> None:
    block = make_block(rng)
    block(rng.standard_normal((2, 5, 4)))
    weights = block.attention.weights
    assert weights.shape == (2, 2, 5, 5)
    future = ~np.tri(5, dtype=bool)  # key j > query i
    np.testing.assert_array_equal(weights[..., future], 0.0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=0, atol=ATOL)


@pytest.mark.parametrize("position", [1, 3, 4])
def test_changing_a_later_position_changes_no_earlier_output(position, rng) -> None:
    block = make_block(rng)
    x = rng.standard_normal((2, 5, 4))
    out = block(x)
    changed = x.copy()
    changed[:, position] += rng.standard_normal((2, 4))
    out_changed = block(changed)
    np.testing.assert_array_equal(out_changed[:, :position], out[:, :position])
    assert np.abs(out_changed[:, position] - out[:, position]).min() > 0


# --- residual gradients -----------------------------------------------------------------------


def test_backward_adds_the_skip_paths_by_construction(rng) -> None:
    # The backward pass written out from the sub-layers: each residual join hands its gradient
    # to both inputs, so the skip path adds the upstream gradient unchanged.
    block = make_block(rng)
    x = rng.standard_normal((2, 5, 4))
    g = rng.standard_normal((2, 5, 4))
    block(x)
    grad_x = block.backward(g)
    grads = {name: value.copy() for name, value in block.grads.items()}

    a = block.ln1(x)
    h = x + block.attention(a, is_causal=True)
    block.ffn(block.ln2(h))
    grad_h_branch = block.ln2.backward(block.ffn.backward(g))
    grad_h = grad_h_branch + g
    grad_x_branch = block.ln1.backward(block.attention.backward(grad_h))
    np.testing.assert_allclose(grad_x, grad_x_branch + grad_h, rtol=0, atol=ATOL)
    for name, value in block.grads.items():
        np.testing.assert_allclose(grads[name], value, rtol=0, atol=ATOL, err_msg=name)
    # Without the skip terms the gradient would be another one.
    assert np.abs(grad_x - grad_x_branch).max() > 0.1


def test_a_block_whose_halves_output_zero_is_the_identity_forward_and_backward(rng) -> None:
    # attn and ffn give exactly 0: out = x, so dL/dx = g, which only the skip paths carry.
    block = make_block(rng)
    block.attention.W_out[...] = 0.0
    block.ffn.down.W[...] = 0.0
    block.ffn.down.b[...] = 0.0
    x = rng.standard_normal((3, 4))
    g = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(block(x), x)
    np.testing.assert_array_equal(block.backward(g), g)
    # Without residuals the same block outputs zeros and passes no gradient to x.
    flat = TransformerBlock(4, 2, d_hidden=6, residual=False, rng=0)
    for name, value in block.params.items():
        flat.params[name][...] = value
    np.testing.assert_array_equal(flat(x), np.zeros_like(x))
    np.testing.assert_array_equal(flat.backward(g), np.zeros_like(g))


def test_residual_backward_equals_the_no_residual_jacobian_plus_the_identity() -> None:
    # Without layer norms, on a sequence of one position, attention of a single key returns
    # its value: a(x) = x W_v W_o, a linear map A. Then h = x + x A and out = h + f(h), so
    # dL/dh = g + J_f^T g and dL/dx = dL/dh + dL/dh A^T: the no-residual terms plus identities.
    block = TransformerBlock(4, 2, d_hidden=6, layer_norm=False, rng=5)
    x = np.random.default_rng(6).standard_normal((1, 4))
    g = np.random.default_rng(7).standard_normal((1, 4))
    block(x)
    grad_x = block.backward(g)
    A = block.attention.W_value @ block.attention.W_out  # d a / d x, as x @ A
    block.ffn(x + x @ A)  # h
    grad_h = g + block.ffn.backward(g)  # identity plus the ffn's Jacobian
    np.testing.assert_allclose(grad_x, grad_h + grad_h @ A.T, rtol=0, atol=ATOL)


# --- modes, dropout, decoding -----------------------------------------------------------------


def test_dropout_is_active_only_in_training_mode(rng) -> None:
    x = rng.standard_normal((2, 5, 8))
    block = TransformerBlock(8, 2, dropout=0.5, rng=0)
    plain = TransformerBlock(8, 2, rng=0)  # same weights: dropout draws nothing at build
    first, second = block(x), block(x)
    assert np.abs(first - second).max() > 1e-3  # a new mask each call
    assert np.abs(first - plain(x)).max() > 1e-3
    block.eval()
    assert block.dropout1.training is False
    assert block.attention.training is False
    np.testing.assert_array_equal(block(x), block(x))
    np.testing.assert_array_equal(block(x), plain(x))
    block.train()
    assert np.abs(block(x) - plain(x)).max() > 1e-3


def test_evaluation_mode_is_deterministic_and_the_same_as_no_dropout(rng) -> None:
    x = rng.standard_normal((4, 8))
    block = TransformerBlock(8, 4, dropout=0.3, rng=1).eval()
    outs = [block(x) for _ in range(3)]
    for out in outs[1:]:
        np.testing.assert_array_equal(out, outs[0])


@pytest.mark.parametrize("splits", [[6], [1, 1, 1, 1, 1, 1], [2, 4], [5, 1], [3, 0, 3]])
def test_decoding_piece_by_piece_equals_one_call(splits, rng) -> None:
    block = make_block(rng)
    x = rng.standard_normal((2, 6, 4))
    full = block(x)
    cache = KVCache()
    pieces, start = [], 0
    for size in splits:
        pieces.append(block.decode_step(x[:, start : start + size], cache))
        start += size
        assert len(cache) == start
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), full, rtol=0, atol=ATOL)


def test_decoding_without_residuals_or_norms_equals_one_call(rng) -> None:
    block = make_block(rng, residual=False, layer_norm=False)
    x = rng.standard_normal((5, 4))
    cache = KVCache()
    pieces = [block.decode_step(x[:2], cache), block.decode_step(x[2:], cache)]
    np.testing.assert_allclose(np.concatenate(pieces), block(x), rtol=0, atol=ATOL)


def test_decoding_applies_no_dropout_and_leaves_nothing_for_backward(rng) -> None:
    block = TransformerBlock(8, 2, dropout=0.5, rng=0)
    plain = TransformerBlock(8, 2, rng=0)
    x = rng.standard_normal((3, 8))
    np.testing.assert_allclose(block.decode_step(x, KVCache()), plain(x), rtol=0, atol=ATOL)
    with pytest.raises(RuntimeError):
        block.backward(np.ones((3, 8)))


def test_a_failing_decode_step_leaves_the_cache_unchanged(rng) -> None:
    block = make_block(rng).astype(np.float32)
    cache = KVCache()
    block.decode_step(rng.standard_normal((3, 4)).astype(np.float32), cache)
    keys, values = cache.keys.copy(), cache.values.copy()
    # The feed-forward half overflows float32 whatever its input (every hidden unit is 1e30),
    # after the attention stored the new keys.
    block.ffn.up.W[...] = 0.0
    block.ffn.up.b[...] = 1e30
    block.ffn.down.W[...] = 1e30
    with pytest.raises(FloatingPointError):
        block.decode_step(np.ones((1, 4), dtype=np.float32), cache)
    assert len(cache) == 3
    np.testing.assert_array_equal(cache.keys, keys)
    np.testing.assert_array_equal(cache.values, values)
    with pytest.raises(ValueError, match="x_new"):
        block.decode_step(np.ones((1, 5), dtype=np.float32), cache)
    with pytest.raises(TypeError, match="cache"):
        block.decode_step(np.ones((1, 4), dtype=np.float32), [])  # type: ignore[arg-type]
    assert len(cache) == 3


# --- shapes, dtypes, errors -------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 8), (2, 5, 8), (0, 8), (3, 0, 8), (0, 4, 8)])
def test_shapes_forward_and_backward(shape, rng) -> None:
    block = TransformerBlock(8, 2, rng=0)
    x = rng.standard_normal(shape)
    out = block(x)
    assert out.shape == shape
    assert block.backward(np.ones(shape)).shape == shape
    assert {name: g.shape for name, g in block.grads.items()} == {
        name: p.shape for name, p in block.params.items()
    }


def test_float32_stays_float32(rng) -> None:
    block = TransformerBlock(8, 2, rng=0).astype(np.float32)
    x = rng.standard_normal((2, 5, 8)).astype(np.float32)
    out = block(x)
    assert out.dtype == np.float32
    assert block.backward(np.ones_like(out)).dtype == np.float32
    assert all(g.dtype == np.float32 for g in block.grads.values())
    reference = TransformerBlock(8, 2, rng=0)(x.astype(np.float64))
    np.testing.assert_allclose(out, reference, rtol=0, atol=1e-4)


def test_default_hidden_size_and_repr() -> None:
    block = TransformerBlock(8, 2, rng=0)
    assert block.ffn.d_hidden == 32
    assert repr(block) == "TransformerBlock(d_model=8, n_heads=2, d_hidden=32, dropout=0.0)"
    ablated = TransformerBlock(8, 2, d_hidden=5, residual=False, layer_norm=False, rng=0)
    assert repr(ablated) == (
        "TransformerBlock(d_model=8, n_heads=2, d_hidden=5, dropout=0.0, residual=False, "
        "layer_norm=False)"
    )
    assert ablated.ln1 is None
    assert ablated.ln2 is None


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"d_model": 6, "n_heads": 4}, ValueError, "divisible"),
        ({"d_model": 0, "n_heads": 1}, ValueError, "d_model"),
        ({"d_model": 4.0, "n_heads": 2}, TypeError, "d_model"),
        ({"d_model": 4, "n_heads": True}, TypeError, "n_heads"),
        ({"d_model": 4, "n_heads": 2, "d_hidden": 0}, ValueError, "d_hidden"),
        ({"d_model": 4, "n_heads": 2, "dropout": 1.0}, ValueError, "dropout"),
        ({"d_model": 4, "n_heads": 2, "dropout": "0.1"}, TypeError, "dropout"),
        ({"d_model": 4, "n_heads": 2, "residual": "no"}, TypeError, "residual"),
        ({"d_model": 4, "n_heads": 2, "layer_norm": 1}, TypeError, "layer_norm"),
    ],
)
def test_bad_construction_is_refused_before_drawing(kwargs, error, match) -> None:
    generator = np.random.default_rng(0)
    state = generator.bit_generator.state
    with pytest.raises(error, match=match):
        TransformerBlock(**kwargs, rng=generator)
    assert generator.bit_generator.state == state


def test_bad_input_is_refused_and_a_failed_call_leaves_backward_raising(rng) -> None:
    block = TransformerBlock(8, 2, rng=0)
    x = rng.standard_normal((5, 8))
    block(x)
    with pytest.raises(ValueError, match="features"):
        block(rng.standard_normal((5, 7)))
    with pytest.raises(RuntimeError):
        block.backward(np.ones((5, 8)))
    block(x)
    bad = x.copy()
    bad[2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        block(bad)
    with pytest.raises(RuntimeError):
        block.backward(np.ones((5, 8)))
    with pytest.raises(ValueError, match="at least 2-D"):
        block(np.ones(8))
    block(x)
    with pytest.raises(ValueError, match="grad_out"):
        block.backward(np.ones((4, 8)))


def test_a_nan_parameter_is_named(rng) -> None:
    block = TransformerBlock(8, 2, rng=0)
    block.ffn.down.b[0] = np.inf
    with pytest.raises(ValueError, match="ffn.down.b"):
        block(rng.standard_normal((3, 8)))
