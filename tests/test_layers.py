"""SelfAttention: the trainable query, key and value projections (forward pass)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simple_attention import SelfAttention, causal_mask, scaled_dot_product_attention

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
