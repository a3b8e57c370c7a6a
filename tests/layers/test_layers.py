"""SelfAttention: the trainable query, key and value projections (forward pass)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from simple_attention import (
    Dropout,
    Embedding,
    Layer,
    Linear,
    MultiHeadAttention,
    PositionalEmbedding,
    SelfAttention,
    TinyAttentionModel,
    causal_mask,
    scaled_dot_product_attention,
)

from seed_numbers import SEED_INPUT
from tolerances import FLOAT_DTYPES, TOLERANCES


def test_parameters_shapes_and_init_range() -> None:
    layer = SelfAttention(d_in=16, d_out=5, rng=0)
    bound = 1 / math.sqrt(16)
    for name in ("W_query", "W_key", "W_value"):
        W = getattr(layer, name)
        assert W.shape == (16, 5)
        assert np.abs(W).max() <= bound
        assert layer.params[name] is W  # the arrays themselves, for in-place updates
    assert not np.array_equal(layer.W_query, layer.W_key)


def test_same_rng_same_layer() -> None:
    a, b = SelfAttention(3, 2, rng=42), SelfAttention(3, 2, rng=42)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])


def test_forward_is_projection_then_attention() -> None:
    layer = SelfAttention(3, 2, rng=0)
    x = SEED_INPUT
    expected, weights = scaled_dot_product_attention(
        x @ layer.W_query, x @ layer.W_key, x @ layer.W_value, return_weights=True
    )
    np.testing.assert_array_equal(layer(x), expected)
    np.testing.assert_array_equal(layer.weights, weights)


def test_identity_projections_reduce_to_scaled_self_attention() -> None:
    layer = SelfAttention(3, 3, rng=0)
    for W in layer.params.values():
        W[...] = np.eye(3)
    x = SEED_INPUT
    np.testing.assert_allclose(
        layer(x), scaled_dot_product_attention(x, x, x, scale=1 / math.sqrt(3)), atol=1e-15
    )


def test_weights_are_none_before_the_first_call_then_kept() -> None:
    layer = SelfAttention(3, 2, rng=0)
    assert layer.weights is None
    layer(np.ones((5, 3)))
    assert layer.weights is not None
    assert layer.weights.shape == (5, 5)


def test_batched_input(rng: np.random.Generator) -> None:
    layer = SelfAttention(4, 3, rng=1)
    x = rng.normal(size=(2, 6, 4))
    out = layer(x)
    assert out.shape == (2, 6, 3)
    np.testing.assert_allclose(out[1], layer(x[1]), atol=1e-15)


def test_causal_and_mask(rng: np.random.Generator) -> None:
    layer = SelfAttention(4, 3, rng=1)
    x = rng.normal(size=(5, 4))
    causal = layer(x, is_causal=True)
    assert layer.weights is not None
    assert (np.triu(layer.weights, 1) == 0).all()
    np.testing.assert_array_equal(causal, layer(x, mask=causal_mask(5)))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_dtype_follows_the_input(dtype: type, rng: np.random.Generator) -> None:
    atol, _ = TOLERANCES[dtype]
    layer = SelfAttention(4, 3, rng=1)
    x = rng.normal(size=(5, 4))
    out = layer(x.astype(dtype))
    assert out.dtype == dtype
    reference = layer(x.astype(dtype).astype(np.float64))
    np.testing.assert_allclose(out.astype(np.float64), reference, atol=10 * atol)


class TestBadInput:
    def test_wrong_feature_size(self) -> None:
        with pytest.raises(ValueError, match="x has 4 features but the layer expects d_in=3"):
            SelfAttention(3, 2)(np.ones((5, 4)))

    def test_one_dimensional_x(self) -> None:
        with pytest.raises(ValueError, match="x must be at least 2-D"):
            SelfAttention(3, 2)(np.ones(3))

    def test_nan_input(self) -> None:
        with pytest.raises(ValueError, match="^x contains NaN"):
            SelfAttention(3, 2)(np.full((2, 3), np.nan))

    def test_nan_parameter_is_named(self) -> None:
        layer = SelfAttention(3, 2)
        layer.W_key[0, 0] = np.nan
        with pytest.raises(ValueError, match="^W_key contains NaN"):
            layer(np.ones((2, 3)))

    @pytest.mark.parametrize(("d_in", "d_out"), [(0, 2), (3, -1)])
    def test_non_positive_sizes(self, d_in: int, d_out: int) -> None:
        with pytest.raises(ValueError, match="must be positive"):
            SelfAttention(d_in, d_out)


# --- every layer: saved state, flags, parameters, gradients --------------------------------


def _float_input(shape: tuple[int, ...]) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.standard_normal(shape)


# name: (make the layer, make an input, make an input the layer refuses)
LAYERS: dict[str, tuple[Callable[[], Layer], Callable[[np.random.Generator], Any], Any]] = {
    "Linear": (lambda: Linear(3, 2, rng=0), _float_input((4, 3)), np.ones((4, 5))),
    "Embedding": (
        lambda: Embedding(6, 3, rng=0),
        lambda rng: rng.integers(0, 6, size=(2, 4)),
        np.array([0, 6]),
    ),
    "PositionalEmbedding": (
        lambda: PositionalEmbedding(5, 3, rng=0),
        _float_input((2, 4, 3)),
        np.ones((6, 3)),
    ),
    "SelfAttention": (lambda: SelfAttention(3, 2, rng=0), _float_input((4, 3)), np.ones((4, 5))),
    "MultiHeadAttention": (
        lambda: MultiHeadAttention(4, 2, rng=0),
        _float_input((3, 4)),
        np.ones((3, 5)),
    ),
    "Dropout": (lambda: Dropout(0.5, rng=0), _float_input((3, 4)), np.array([np.nan])),
    "TinyAttentionModel": (
        lambda: TinyAttentionModel(6, 5, 4, rng=0),
        lambda rng: rng.integers(0, 6, size=(2, 4)),
        np.array([[0, 6]]),
    ),
}
layer_names = pytest.mark.parametrize("name", list(LAYERS))


def _backward(layer: Layer, g: np.ndarray) -> tuple[Any, dict[str, np.ndarray]]:
    grad_x = layer.backward(g)
    return grad_x, {k: v.copy() for k, v in layer.grads.items()}


@layer_names
def test_backward_after_a_failed_call_raises(name: str, rng: np.random.Generator) -> None:
    make, make_x, bad_x = LAYERS[name]
    layer = make()
    out = layer(make_x(rng))
    with pytest.raises((ValueError, TypeError)):
        layer(bad_x)
    with pytest.raises(RuntimeError, match="before its backward pass"):
        layer.backward(np.ones_like(out))


def test_model_backward_after_a_call_that_failed_inside_attention_raises(
    rng: np.random.Generator,
) -> None:
    model = TinyAttentionModel(6, 5, 4, rng=0)
    ids = np.array([[1, 2, 3]])
    logits = model(ids)
    with pytest.raises(ValueError, match="mask"):
        model(np.array([[4, 5]]), mask=np.ones((3, 3), dtype=bool))  # fails in attention
    with pytest.raises(RuntimeError, match="before its backward pass"):
        model.backward(np.ones_like(logits))
    # The next successful call works as usual.
    logits = model(ids)
    model.backward(np.ones_like(logits))
    assert (model.grads["embedding.weight"][[0, 4, 5]] == 0).all()


def test_model_backward_refuses_a_layer_called_on_its_own_in_between() -> None:
    model = TinyAttentionModel(6, 5, 4, rng=0)
    logits = model(np.array([[1, 2, 3]]))
    model.embedding(np.array([[4, 5, 0]]))
    with pytest.raises(RuntimeError, match="embedding layer was called on its own"):
        model.backward(np.ones_like(logits))


@layer_names
def test_backward_ignores_a_refilled_input_buffer(name: str, rng: np.random.Generator) -> None:
    make, make_x, _ = LAYERS[name]
    x = make_x(rng)
    reference, layer = make(), make()  # the same seeds: the same parameters and dropout masks
    out = reference(x)
    g = rng.standard_normal(out.shape)
    expected_x, expected = _backward(reference, g)
    layer(x)
    x[...] = make_x(rng)  # the caller reuses its buffer before the backward pass
    got_x, got = _backward(layer, g)
    if expected_x is None:
        assert got_x is None
    else:
        np.testing.assert_array_equal(got_x, expected_x)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


@layer_names
def test_complex_grad_out_is_refused_and_changes_nothing(
    name: str, rng: np.random.Generator
) -> None:
    make, make_x, _ = LAYERS[name]
    layer = make()
    out = layer(make_x(rng))
    layer.backward(np.ones_like(out))
    before = {k: v.copy() for k, v in layer.grads.items()}
    with pytest.raises(TypeError, match="grad_out must hold real"):
        layer.backward(np.ones(out.shape, dtype=complex))
    for key, grad in layer.grads.items():
        np.testing.assert_array_equal(grad, before[key])


@pytest.mark.parametrize(
    ("name", "param", "qualified"),
    [
        ("Linear", "W", "W"),
        ("Linear", "b", "b"),
        ("Embedding", "weight", "weight"),
        ("PositionalEmbedding", "weight", "weight"),
        ("SelfAttention", "W_value", "W_value"),
        ("MultiHeadAttention", "W_out", "W_out"),
        ("TinyAttentionModel", "head.b", "head.b"),
        ("TinyAttentionModel", "embedding.weight", "embedding.weight"),
    ],
)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_diverged_parameter_is_named(
    name: str, param: str, qualified: str, bad: float, rng: np.random.Generator
) -> None:
    make, make_x, _ = LAYERS[name]
    layer = make()
    layer.params[param].flat[0] = bad
    with pytest.raises(ValueError, match=f"^{qualified} contains NaN or inf"):
        layer(make_x(rng))


@pytest.mark.parametrize("name", ["SelfAttention", "MultiHeadAttention", "TinyAttentionModel"])
@pytest.mark.parametrize("flag", ["no", 1, None, np.array([True])])
def test_is_causal_must_be_a_bool(name: str, flag: Any, rng: np.random.Generator) -> None:
    make, make_x, _ = LAYERS[name]
    layer = make()
    with pytest.raises(TypeError, match="is_causal must be True or False"):
        layer(make_x(rng), is_causal=flag)


@pytest.mark.parametrize("name", ["SelfAttention", "MultiHeadAttention", "TinyAttentionModel"])
def test_is_causal_accepts_numpy_bools(name: str, rng: np.random.Generator) -> None:
    make, make_x, _ = LAYERS[name]
    layer = make()
    x = make_x(rng)
    np.testing.assert_array_equal(layer(x, is_causal=np.True_), layer(x, is_causal=True))


@pytest.mark.parametrize(
    ("layer", "x"),
    [
        pytest.param(Linear(2, 2, rng=0), np.full((1, 2), 6e4, np.float16), id="Linear"),
        pytest.param(
            PositionalEmbedding(3, 2, rng=0), np.full((1, 2), 6.5e4, np.float16), id="positions"
        ),
        pytest.param(SelfAttention(2, 2, rng=0), np.full((3, 2), 6e4, np.float16), id="self"),
        pytest.param(
            MultiHeadAttention(2, 1, rng=0), np.full((3, 2), 6e4, np.float16), id="multihead"
        ),
    ],
)
def test_an_output_that_overflows_its_dtype_raises(layer: Layer, x: np.ndarray) -> None:
    for W in layer.params.values():
        W[...] = 1000.0
    with pytest.raises(FloatingPointError, match="overflowed float16"):
        layer(x)
    with pytest.raises(RuntimeError, match="before its backward pass"):
        layer.backward(np.ones(x.shape))


# --- Linear ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_linear_keeps_the_dtype_and_computes_float16_in_float32(
    dtype: type, rng: np.random.Generator
) -> None:
    head = Linear(8, 3, rng=0)
    x = rng.standard_normal((5, 8)).astype(dtype)
    out = head(x)
    assert out.dtype == dtype
    work = np.float32 if dtype == np.float16 else dtype
    expected = (x.astype(work) @ head.W.astype(work) + head.b.astype(work)).astype(dtype)
    np.testing.assert_array_equal(out, expected)
    grad_x = head.backward(np.ones_like(out))
    assert grad_x.dtype == dtype
    assert head.grads["W"].dtype == np.float64


@pytest.mark.parametrize("name", ["SelfAttention", "MultiHeadAttention", "TinyAttentionModel"])
def test_the_published_weights_are_read_only(name: str, rng: np.random.Generator) -> None:
    make, make_x, _ = LAYERS[name]
    layer = make()
    layer(make_x(rng))
    weights = layer.weights
    assert weights is not None
    with pytest.raises(ValueError, match="read-only"):
        weights[...] = 0.0  # would corrupt the backward pass, which uses the same array


def test_astype_casts_every_parameter_and_refuses_what_it_cannot_cast() -> None:
    from simple_attention import TinyGPT

    model = TinyGPT(7, 5, d_model=4, n_heads=2, n_layers=1, rng=0)
    before = {name: param.copy() for name, param in model.params.items()}
    with pytest.raises(TypeError, match="dtype must be float16, float32 or float64"):
        model.astype(np.int32)
    model.block0.attention.W_out[0, 0] = 1e6  # beyond float16's largest number, 65504
    before["block0.attention.W_out"][0, 0] = 1e6
    with pytest.raises(ValueError, match="block0.attention.W_out"):
        model.astype(np.float16)
    for name, param in model.params.items():  # nothing was cast
        assert param.dtype == np.float64
        np.testing.assert_array_equal(param, before[name])
    assert model.astype(np.float32) is model
    assert {param.dtype for param in model.params.values()} == {np.dtype(np.float32)}
    assert model([1, 2]).dtype == np.float32
