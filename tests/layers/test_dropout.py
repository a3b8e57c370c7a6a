"""Dropout on attention weights: modes, validation, statistics and gradient checks."""

from __future__ import annotations

import numpy as np
import pytest

from simple_attention import Dropout, MultiHeadAttention, gradcheck, gradcheck_layer

from tolerances import TOLERANCES

ATOL = TOLERANCES[np.float64][0]  # float64 results against float64 references

MAX_ERROR = 1e-7


@pytest.mark.parametrize(
    ("p", "error", "match"),
    [
        (1.0, ValueError, r"p must lie in \[0, 1\), got 1.0"),
        (-0.5, ValueError, r"p must lie in \[0, 1\), got -0.5"),
        (float("nan"), ValueError, "p must lie in"),
        (True, TypeError, "p must be a real number"),
        ("0.1", TypeError, "p must be a real number"),
    ],
)
def test_bad_probability_is_refused(p, error, match):
    with pytest.raises(error, match=match):
        Dropout(p)


def test_evaluation_mode_is_the_identity():
    x = np.random.default_rng(0).random((3, 4))
    dropout = Dropout(0.9, rng=0).eval()
    assert not dropout.training
    np.testing.assert_array_equal(dropout(x), x)
    np.testing.assert_array_equal(dropout.backward(np.ones((3, 4))), np.ones((3, 4)))


def test_zero_probability_keeps_everything_in_training_mode():
    x = np.random.default_rng(0).random((3, 4))
    np.testing.assert_array_equal(Dropout(0.0, rng=0)(x), x)


def test_kept_entries_are_scaled_by_one_over_keep_probability():
    x = np.random.default_rng(0).random((50, 40)) + 0.1
    out = Dropout(0.25, rng=1)(x)
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / 0.75, rtol=1e-15)
    assert 0.2 < 1 - kept.mean() < 0.3  # about a quarter dropped


def test_expected_value_is_unchanged_and_rows_do_not_sum_to_one():
    weights = np.full((4000, 5), 0.2)  # rows that sum to 1
    out = Dropout(0.5, rng=2)(weights)
    row_sums = out.sum(axis=-1)
    assert not np.allclose(row_sums, 1.0)  # the docstring's warning
    assert abs(row_sums.mean() - 1.0) < 0.02  # ... but they do on average


def test_same_seed_same_masks_and_new_mask_per_call():
    x = np.ones((6, 6))
    a, b = Dropout(0.5, rng=3), Dropout(0.5, rng=3)
    first = a(x)
    np.testing.assert_array_equal(first, b(x))
    assert not np.array_equal(first, a(x))


def test_dtype_is_kept():
    out = Dropout(0.5, rng=0)(np.ones((3, 3), dtype=np.float32))
    assert out.dtype == np.float32


def test_backward_needs_a_call_and_the_right_shape():
    dropout = Dropout(0.5, rng=0)
    with pytest.raises(RuntimeError, match="call the Dropout layer"):
        dropout.backward(np.ones(3))
    dropout(np.ones(3))
    with pytest.raises(ValueError, match="grad_out has shape"):
        dropout.backward(np.ones(4))


def test_dropout_gradient_matches_finite_differences():
    def forward(x):
        return Dropout(0.4, rng=5)(x)  # a fresh layer per call: the same mask every time

    def backward(g, x):
        layer = Dropout(0.4, rng=5)
        layer(x)
        return [layer.backward(g)]

    x = np.random.default_rng(0).standard_normal((4, 5))
    assert gradcheck(forward, backward, [x], rng=1) < MAX_ERROR


class FixedMaskAttention(MultiHeadAttention):
    """Draws the same dropout masks at every call, so that finite differences make sense."""

    def __call__(self, x, **kwargs):
        self.dropout.rng = np.random.default_rng(11)
        return super().__call__(x, **kwargs)


@pytest.mark.parametrize(
    ("shape", "kwargs"),
    [
        ((5, 6), {}),
        ((5, 6), {"is_causal": True}),
        ((2, 4, 6), {"mask": np.array([True, True, True, False])}),
    ],
)
def test_multi_head_gradient_with_dropout(shape, kwargs):
    rng = np.random.default_rng(4)
    layer = FixedMaskAttention(6, 2, dropout=0.3, rng=rng)
    x = rng.standard_normal(shape)
    errors = gradcheck_layer(layer, x, rng=rng, **kwargs)
    assert max(errors.values()) < MAX_ERROR, errors


def test_multi_head_dropout_modes():
    layer = MultiHeadAttention(4, 2, dropout=0.5, rng=0)
    x = np.random.default_rng(1).standard_normal((6, 4))
    assert layer.training
    train_a, train_b = layer(x), layer(x)
    assert not np.array_equal(train_a, train_b)  # a new mask per call
    layer.eval()
    assert not layer.training
    no_dropout = MultiHeadAttention(4, 2, rng=0)
    np.testing.assert_array_equal(layer(x), no_dropout(x))
    assert layer.train() is layer
    assert layer.training


def test_multi_head_dropout_output_uses_the_dropped_weights():
    layer = FixedMaskAttention(4, 2, dropout=0.5, rng=0)
    x = np.random.default_rng(1).standard_normal((6, 4))
    out = layer(x)
    # Recompute by hand with the mask the layer drew.
    layer.dropout.rng = np.random.default_rng(11)
    factor = (layer.dropout.rng.random(layer.weights.shape) >= 0.5) / 0.5
    value = (x @ layer.W_value).reshape(6, 2, 2).swapaxes(0, 1)
    context = (layer.weights * factor) @ value
    expected = context.swapaxes(0, 1).reshape(6, 4) @ layer.W_out
    np.testing.assert_allclose(out, expected, rtol=0, atol=ATOL)
    np.testing.assert_allclose(layer.weights.sum(-1), 1.0, atol=ATOL)  # kept before dropout


@pytest.mark.parametrize("bad", ["False", "no", 0, 1, None])
def test_train_mode_must_be_a_bool(bad):
    dropout = Dropout(0.5).eval()
    with pytest.raises(TypeError, match="mode must be True or False"):
        dropout.train(bad)
    assert dropout.training is False  # a failed call changes nothing


def test_train_accepts_numpy_bools():
    dropout = Dropout(0.5)
    assert dropout.train(np.False_).training is False
    assert dropout.train(np.True_).training is True


def test_float16_with_p_close_to_one_is_scaled_in_float32():
    # 1 / (1 - 0.99999) = 1e5 is beyond float16; 0.1 * 1e5 = 1e4 is not.
    x = np.full(2_000_000, 0.1, dtype=np.float16)
    dropout = Dropout(0.99999, rng=0)
    out = dropout(x)
    assert out.dtype == np.float16
    kept = out != 0
    assert 0 < kept.sum() < 100
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[kept].astype(np.float64), 1e4, rtol=1e-3)
    grad = dropout.backward(np.full(x.shape, 0.1, dtype=np.float16))
    assert np.isfinite(grad).all()
    np.testing.assert_array_equal(grad != 0, kept)


def test_result_beyond_the_dtype_raises_and_leaves_the_generator_as_it_was():
    x = np.ones(2_000_000, dtype=np.float16)  # kept entries would be 1e5 > 65504
    dropout = Dropout(0.99999, rng=0)
    state = dropout.rng.bit_generator.state
    with pytest.raises(FloatingPointError, match="beyond the range of float16"):
        dropout(x)
    assert dropout.rng.bit_generator.state == state


def test_gradient_beyond_the_dtype_raises():
    dropout = Dropout(0.5, rng=0)
    dropout(np.ones(100))
    with pytest.raises(FloatingPointError, match="beyond the range of float64"):
        dropout.backward(np.full(100, 1e308))


def test_complex_gradient_raises_type_error():
    dropout = Dropout(0.5, rng=0)
    dropout(np.ones(3))
    with pytest.raises(TypeError, match="grad_out must hold real"):
        dropout.backward(np.ones(3) + 1j)
