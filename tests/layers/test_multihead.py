"""MultiHeadAttention and the Attention class behind it.

Shapes, validation, equivalences, properties and gradient checks.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simple_attention import (
    Attention,
    KVCache,
    MultiHeadAttention,
    SelfAttention,
    causal_mask,
    gradcheck_layer,
    key_padding_mask,
    scaled_dot_product_attention,
)
from simple_attention.layers import attention as attention_module
from simple_attention.layers.multihead import merge_heads, split_heads

from tolerances import FLOAT_DTYPES, TOLERANCES

MAX_ERROR = 1e-7
ATOL = 1e-12


def per_head_loop(layer, x, **kwargs):
    """The textbook definition: one attention per head on column slices, concatenate, project."""
    d = layer.d_head
    heads = []
    for h in range(layer.n_heads):
        cols = slice(h * d, (h + 1) * d)
        heads.append(
            scaled_dot_product_attention(
                x @ layer.W_query[:, cols],
                x @ layer.W_key[:, cols],
                x @ layer.W_value[:, cols],
                **kwargs,
            )
        )
    return np.concatenate(heads, axis=-1) @ layer.W_out


sizes = st.tuples(
    st.integers(1, 3),  # n_heads
    st.integers(1, 3),  # d_head
    st.integers(1, 6),  # n tokens
    st.integers(0, 2**32 - 1),  # seed
)


# --- construction and validation ---------------------------------------------------------


def test_parameters_have_the_documented_shapes():
    layer = MultiHeadAttention(d_model=6, n_heads=3, rng=0)
    assert layer.d_head == 2
    assert list(layer.params) == ["W_query", "W_key", "W_value", "W_out"]
    for name, W in layer.params.items():
        assert W.shape == (6, 6), name
        assert W is getattr(layer, name)  # the arrays themselves, for in-place updates


def test_same_seed_same_weights():
    a, b = MultiHeadAttention(4, 2, rng=3), MultiHeadAttention(4, 2, rng=3)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"d_model": 6, "n_heads": 4}, ValueError, "d_model=6 is not divisible by n_heads=4"),
        ({"d_model": 0, "n_heads": 1}, ValueError, "d_model must be positive"),
        ({"d_model": -4, "n_heads": 2}, ValueError, "d_model must be positive"),
        ({"d_model": 4, "n_heads": 0}, ValueError, "n_heads must be positive"),
        ({"d_model": 4.0, "n_heads": 2}, TypeError, "d_model must be an integer"),
        ({"d_model": 4, "n_heads": True}, TypeError, "n_heads must be an integer"),
        (
            {"d_model": 4, "n_heads": 2, "dropout": 1.0},
            ValueError,
            r"dropout must lie in \[0, 1\)",
        ),
        (
            {"d_model": 4, "n_heads": 2, "dropout": -0.1},
            ValueError,
            r"dropout must lie in \[0, 1\)",
        ),
    ],
)
def test_bad_construction_is_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        MultiHeadAttention(**kwargs)


def test_bad_input_is_refused():
    layer = MultiHeadAttention(4, 2, rng=0)
    with pytest.raises(ValueError, match="x has 3 features but the layer expects d_model=4"):
        layer(np.ones((2, 3)))
    with pytest.raises(ValueError, match="x must be at least 2-D"):
        layer(np.ones(4))
    with pytest.raises(ValueError, match="x contains NaN"):
        layer(np.full((2, 4), np.nan))
    with pytest.raises(ValueError, match="mask of shape"):
        layer(np.ones((2, 3, 4)), mask=np.ones((2, 3), dtype=bool))  # (B, S) unreshaped
    with pytest.raises(ValueError, match="pass either mask= or is_causal=True"):
        layer(np.ones((3, 4)), mask=causal_mask(3), is_causal=True)
    with pytest.raises(RuntimeError, match="call the MultiHeadAttention layer"):
        MultiHeadAttention(4, 2).backward(np.ones((3, 4)))
    layer(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"grad_out has shape \(2, 4\)"):
        layer.backward(np.ones((2, 4)))


def test_a_diverged_parameter_is_refused():
    layer = MultiHeadAttention(4, 2, rng=0)
    layer.W_out[0, 0] = np.nan
    with pytest.raises(ValueError, match="W_out contains NaN"):
        layer(np.ones((3, 4)))


# --- split and merge -----------------------------------------------------------------------


def test_split_heads_matches_column_slices_and_einsum():
    x = np.random.default_rng(0).standard_normal((2, 5, 6))
    heads = split_heads(x, 3)
    assert heads.shape == (2, 3, 5, 2)
    for h in range(3):
        np.testing.assert_array_equal(heads[:, h], x[..., 2 * h : 2 * h + 2])
    np.testing.assert_array_equal(heads, np.einsum("bnhd->bhnd", x.reshape(2, 5, 3, 2)))
    np.testing.assert_array_equal(merge_heads(heads), x)


# --- equivalences ----------------------------------------------------------------------------


@given(sizes)
def test_multi_head_equals_a_loop_over_heads(params):
    n_heads, d_head, n, seed = params
    rng = np.random.default_rng(seed)
    layer = MultiHeadAttention(n_heads * d_head, n_heads, rng=rng)
    x = rng.standard_normal((2, n, n_heads * d_head))
    np.testing.assert_allclose(layer(x), per_head_loop(layer, x), rtol=0, atol=ATOL)
    np.testing.assert_allclose(
        layer(x, is_causal=True), per_head_loop(layer, x, is_causal=True), rtol=0, atol=ATOL
    )


@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**32 - 1), st.booleans())
def test_one_head_equals_self_attention_then_w_out(d_model, n, seed, is_causal):
    rng = np.random.default_rng(seed)
    layer = MultiHeadAttention(d_model, 1, rng=rng)
    single = SelfAttention(d_model, d_model)
    single.W_query, single.W_key, single.W_value = layer.W_query, layer.W_key, layer.W_value
    x = rng.standard_normal((n, d_model))
    expected = single(x, is_causal=is_causal) @ layer.W_out
    np.testing.assert_allclose(layer(x, is_causal=is_causal), expected, rtol=0, atol=ATOL)
    np.testing.assert_array_equal(layer.weights[0], single.weights)


def test_default_scale_uses_the_size_of_one_head():
    layer = MultiHeadAttention(8, 4, rng=0)
    x = np.random.default_rng(1).standard_normal((3, 8))
    layer(x)
    q = split_heads(x @ layer.W_query, 4)
    k = split_heads(x @ layer.W_key, 4)
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(2)  # d_head = 2, not d_model = 8
    expected = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    np.testing.assert_allclose(layer.weights, expected, rtol=0, atol=ATOL)


@given(sizes)
def test_causal_output_ignores_the_future(params):
    n_heads, d_head, n, seed = params
    rng = np.random.default_rng(seed)
    layer = MultiHeadAttention(n_heads * d_head, n_heads, rng=rng)
    x = rng.standard_normal((n, n_heads * d_head))
    out = layer(x, is_causal=True)
    for i in range(n - 1):
        changed = x.copy()
        changed[i + 1 :] = rng.standard_normal(changed[i + 1 :].shape) * 10
        np.testing.assert_allclose(
            layer(changed, is_causal=True)[: i + 1], out[: i + 1], rtol=0, atol=ATOL
        )


@given(sizes)
def test_batch_equals_stacked_single_sequences(params):
    n_heads, d_head, n, seed = params
    rng = np.random.default_rng(seed)
    layer = MultiHeadAttention(n_heads * d_head, n_heads, rng=rng)
    x = rng.standard_normal((3, n, n_heads * d_head))
    stacked = np.stack([layer(s, is_causal=True) for s in x])
    np.testing.assert_allclose(layer(x, is_causal=True), stacked, rtol=0, atol=ATOL)


def test_weights_have_one_matrix_per_head_and_rows_sum_to_one():
    layer = MultiHeadAttention(6, 3, rng=0)
    layer(np.random.default_rng(1).standard_normal((2, 4, 6)))
    assert layer.weights.shape == (2, 3, 4, 4)
    np.testing.assert_allclose(layer.weights.sum(-1), 1.0, rtol=0, atol=1e-12)


def test_fully_masked_row_gives_zeros_not_nan():
    layer = MultiHeadAttention(4, 2, rng=0)
    mask = np.ones((3, 3), dtype=bool)
    mask[1] = False
    out = layer(np.random.default_rng(1).standard_normal((3, 4)), mask=mask)
    np.testing.assert_array_equal(out[1], 0.0)
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(layer.weights[:, 1], 0.0)
    grad_x = layer.backward(np.ones_like(out))
    assert np.isfinite(grad_x).all()
    assert all(np.isfinite(g).all() for g in layer.grads.values())


def test_padding_mask_broadcasts_over_heads_and_queries():
    layer = MultiHeadAttention(4, 2, rng=0)
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    keep = np.array([[True, True, False], [True, True, True]])
    layer(x, mask=key_padding_mask(keep))
    np.testing.assert_array_equal(layer.weights[0, :, :, 2], 0.0)
    assert (layer.weights[1] > 0).all()


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_dtype_is_kept_and_close_to_float64(dtype):
    layer = MultiHeadAttention(4, 2, rng=0)
    x = np.random.default_rng(1).standard_normal((3, 4))
    reference = layer(x, is_causal=True)
    out = layer(x.astype(dtype), is_causal=True)
    assert out.dtype == dtype
    # The reference gets the same rounded input, so only the computation's error is measured.
    expected = layer(x.astype(dtype).astype(np.float64), is_causal=True)
    np.testing.assert_allclose(out, expected, rtol=0, atol=TOLERANCES[dtype][0])
    if dtype == np.float64:
        np.testing.assert_array_equal(out, reference)


def test_strided_input_gives_the_same_result():
    layer = MultiHeadAttention(4, 2, rng=0)
    big = np.random.default_rng(1).standard_normal((6, 8))
    view = big[::2, ::2]
    np.testing.assert_allclose(layer(view), layer(view.copy()), rtol=0, atol=ATOL)
    np.testing.assert_allclose(
        layer(np.asfortranarray(view)), layer(view.copy()), rtol=0, atol=ATOL
    )


# --- gradient checks -------------------------------------------------------------------------


def _float_mask(rng, n):
    mask = rng.standard_normal((n, n))
    mask[0, -1] = -np.inf
    return mask


def _fully_masked_row(n):
    mask = causal_mask(n)
    mask[1] = False
    return mask


@pytest.mark.parametrize(
    ("shape", "n_heads", "make_kwargs"),
    [
        pytest.param((4, 6), 3, lambda rng: {}, id="no mask"),
        pytest.param((4, 6), 2, lambda rng: {"is_causal": True}, id="causal"),
        pytest.param(
            (2, 4, 6),
            3,
            lambda rng: {
                "mask": key_padding_mask(np.array([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=bool))
            },
            id="key padding",
        ),
        pytest.param(
            (2, 4, 6),
            2,
            lambda rng: {
                "mask": key_padding_mask(
                    np.array([[1, 1, 0, 0], [1, 1, 1, 1]], dtype=bool), is_causal=True
                )
            },
            id="causal and key padding",
        ),
        pytest.param((4, 6), 2, lambda rng: {"mask": _float_mask(rng, 4)}, id="float mask"),
        pytest.param((4, 6), 2, lambda rng: {"mask": _fully_masked_row(4)}, id="masked row"),
        pytest.param((1, 6), 2, lambda rng: {}, id="S=1"),
        pytest.param((2, 2, 3, 4), 2, lambda rng: {"is_causal": True}, id="batched"),
        pytest.param(
            (2, 3, 4),
            2,
            lambda rng: {"mask": np.ones((5, 1, 1, 1, 3), dtype=bool)},
            id="mask adds a batch dim",
        ),
    ],
)
def test_gradients_match_finite_differences(shape, n_heads, make_kwargs):
    rng = np.random.default_rng(7)
    layer = MultiHeadAttention(shape[-1], n_heads, rng=rng)
    x = rng.standard_normal(shape)
    errors = gradcheck_layer(layer, x, rng=rng, **make_kwargs(rng))
    assert sorted(errors) == ["W_key", "W_out", "W_query", "W_value", "x"]
    assert max(errors.values()) < MAX_ERROR, errors


def test_gradients_on_a_strided_view():
    rng = np.random.default_rng(8)
    layer = MultiHeadAttention(4, 2, rng=rng)
    big = rng.standard_normal((8, 8))
    x = big[::2, 1::2]  # a non-contiguous view, perturbed in place by the checker
    assert not x.flags.c_contiguous
    errors = gradcheck_layer(layer, x, rng=rng, is_causal=True)
    assert max(errors.values()) < MAX_ERROR, errors


def test_single_key_gives_zero_query_and_key_gradients():
    layer = MultiHeadAttention(4, 2, rng=0)
    out = layer(np.random.default_rng(1).standard_normal((1, 4)))
    layer.backward(np.ones_like(out))
    np.testing.assert_array_equal(layer.grads["W_query"], 0.0)
    np.testing.assert_array_equal(layer.grads["W_key"], 0.0)


def test_batch_gradients_are_sums_over_the_sequences():
    layer = MultiHeadAttention(4, 2, rng=0)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5, 4))
    g = rng.standard_normal((3, 5, 4))
    layer(x, is_causal=True)
    layer.backward(g)
    batch = {k: v.copy() for k, v in layer.grads.items()}
    total = {k: np.zeros_like(v) for k, v in batch.items()}
    for b in range(3):
        layer(x[b], is_causal=True)
        layer.backward(g[b])
        for k in total:
            total[k] += layer.grads[k]
    for k in total:
        np.testing.assert_allclose(batch[k], total[k], rtol=0, atol=1e-12)


@given(sizes)
def test_blocking_a_key_equals_deleting_it(params):
    n_heads, d_head, n, seed = params
    rng = np.random.default_rng(seed)
    layer = MultiHeadAttention(n_heads * d_head, n_heads, rng=rng)
    x = rng.standard_normal((n + 1, n_heads * d_head))
    j = int(rng.integers(n + 1))
    keep = np.ones(n + 1, dtype=bool)
    keep[j] = False
    masked = np.delete(layer(x, mask=keep), j, axis=0)
    np.testing.assert_allclose(masked, layer(np.delete(x, j, axis=0)), rtol=0, atol=ATOL)


@given(sizes)
def test_unmasked_attention_is_permutation_equivariant(params):
    n_heads, d_head, n, seed = params
    rng = np.random.default_rng(seed)
    layer = MultiHeadAttention(n_heads * d_head, n_heads, rng=rng)
    x = rng.standard_normal((n, n_heads * d_head))
    order = rng.permutation(n)
    np.testing.assert_allclose(layer(x[order]), layer(x)[order], rtol=0, atol=ATOL)


# --- flags, empty inputs and failed calls ----------------------------------------------------


@pytest.mark.parametrize("mode", ["no", 0, None])
def test_train_mode_must_be_a_bool_and_a_refusal_changes_nothing(mode):
    layer = MultiHeadAttention(4, 2, dropout=0.5, rng=0).eval()
    with pytest.raises(TypeError, match="mode must be True or False"):
        layer.train(mode)
    assert not layer.training
    assert layer.train(np.True_).training


def test_a_bad_dropout_is_named_and_leaves_the_generator_alone():
    generator = np.random.default_rng(0)
    state = generator.bit_generator.state
    with pytest.raises(ValueError, match=r"^dropout must lie in \[0, 1\)"):
        MultiHeadAttention(4, 2, dropout=1.0, rng=generator)
    assert generator.bit_generator.state == state


@pytest.mark.parametrize("shape", [(0, 4), (2, 0, 4), (0, 3, 4)])
@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_empty_sequences_and_batches(shape, dropout):
    layer = MultiHeadAttention(4, 2, dropout=dropout, rng=0)
    out = layer(np.ones(shape))
    assert out.shape == shape
    assert layer.backward(np.ones(shape)).shape == shape
    for name, grad in layer.grads.items():
        np.testing.assert_array_equal(grad, 0.0, err_msg=name)


def test_merge_heads_of_nothing():
    assert merge_heads(split_heads(np.ones((2, 0, 6)), 3)).shape == (2, 0, 6)


def test_an_overflow_after_dropout_leaves_the_dropout_generator_alone():
    layer = MultiHeadAttention(2, 1, dropout=0.5, rng=0)
    for W in layer.params.values():
        W[...] = 1000.0
    state = layer.dropout.rng.bit_generator.state
    weights = layer.weights
    with pytest.raises(FloatingPointError, match="overflowed float16"):
        layer(np.full((3, 2), 6e4, np.float16))
    assert layer.dropout.rng.bit_generator.state == state
    assert layer.weights is weights


@pytest.mark.parametrize(
    ("x", "n_heads", "error", "match"),
    [
        (np.ones((3, 5)), 2, ValueError, "d_model=5 features, not divisible by n_heads=2"),
        (np.ones(4), 2, ValueError, "x must be at least 2-D"),
        (np.ones((3, 4)), 0, ValueError, "n_heads must be positive"),
        (np.ones((3, 4)), 2.0, TypeError, "n_heads must be an integer"),
    ],
)
def test_split_heads_names_a_bad_argument(x, n_heads, error, match):
    with pytest.raises(error, match=match):
        split_heads(x, n_heads)


def test_merge_heads_needs_a_heads_axis():
    with pytest.raises(ValueError, match="x must be at least 3-D"):
        merge_heads(np.ones((3, 4)))


def test_backward_refuses_its_dropout_called_on_its_own_in_between() -> None:
    layer = MultiHeadAttention(d_model=4, n_heads=2, dropout=0.5, rng=0)
    out = layer(np.ones((3, 4)))
    layer.dropout(np.ones((2, 3, 3)))
    with pytest.raises(RuntimeError, match="dropout layer was called on its own"):
        layer.backward(np.ones_like(out))


def test_keep_weights_false_in_eval_holds_no_weights_and_less_memory() -> None:
    import tracemalloc

    x = np.random.default_rng(0).standard_normal((1, 1024, 32)).astype(np.float32)
    peaks = {}
    for keep in (True, False):
        layer = MultiHeadAttention(d_model=32, n_heads=2, keep_weights=keep, rng=0).eval()
        tracemalloc.start()
        out = layer(x)
        peaks[keep] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del layer
        if keep:
            reference = out
    np.testing.assert_allclose(out, reference, rtol=1e-5, atol=1e-6)
    assert peaks[True] > 8 * 2**20  # the (2, 1024, 1024) float32 weights alone are 8 MiB
    assert peaks[False] < 8 * 2**20  # blocks of about a million scores at a time
    layer = MultiHeadAttention(d_model=32, n_heads=2, keep_weights=False, rng=0).eval()
    layer(x)
    assert layer.weights is None
    with pytest.raises(RuntimeError, match="keep_weights=False"):
        layer.backward(np.ones_like(out))


# --- one Attention class: its configurations, dropout, and the query/key hook ------------


class RotatedAttention(Attention):
    """Rotates each pair of query and key features by an angle that grows with the position."""

    def _angles(self, positions):
        # One frequency per feature pair, as rotary position embeddings use.
        frequencies = 1.0 / 3.0 ** np.arange(self.d_head // 2)
        return positions[:, None] * frequencies  # (n, d_head // 2)

    def _rotate(self, x, angles):
        even, odd = x[..., 0::2], x[..., 1::2]
        cos, sin = np.cos(angles), np.sin(angles)
        out = np.empty_like(x)
        out[..., 0::2] = even * cos - odd * sin
        out[..., 1::2] = even * sin + odd * cos
        return out

    def transform_qk(self, query, key, positions):
        angles = self._angles(positions)
        return self._rotate(query, angles), self._rotate(key, angles)

    def transform_qk_backward(self, grad_query, grad_key, positions):
        angles = -self._angles(positions)  # a rotation's transpose is its inverse
        return self._rotate(grad_query, angles), self._rotate(grad_key, angles)


def test_self_attention_and_multi_head_are_configurations_of_attention():
    x = np.random.default_rng(1).standard_normal((2, 5, 6))
    pairs = [
        (SelfAttention(6, 4, rng=3), Attention(6, 4, rng=3)),
        (
            MultiHeadAttention(6, 3, rng=3),
            Attention(6, 6, n_heads=3, out_projection=True, rng=3),
        ),
    ]
    for layer, general in pairs:
        assert isinstance(layer, Attention)
        assert list(layer.params) == list(general.params)
        for name in layer.params:
            np.testing.assert_array_equal(layer.params[name], general.params[name])
        np.testing.assert_array_equal(layer(x, is_causal=True), general(x, is_causal=True))
        np.testing.assert_array_equal(layer.weights, general.weights)


def test_the_initial_weights_are_drawn_in_the_documented_order():
    rng = np.random.default_rng(5)
    bound = 1 / np.sqrt(6)
    expected = [rng.uniform(-bound, bound, (6, 6)) for _ in range(4)]
    layer = MultiHeadAttention(6, 2, rng=5)
    for W, name in zip(expected, ["W_query", "W_key", "W_value", "W_out"], strict=True):
        np.testing.assert_array_equal(layer.params[name], W)
    rng = np.random.default_rng(5)
    expected = [rng.uniform(-1 / 2, 1 / 2, (4, 3)) for _ in range(3)]
    layer = SelfAttention(4, 3, rng=5)
    for W, name in zip(expected, ["W_query", "W_key", "W_value"], strict=True):
        np.testing.assert_array_equal(layer.params[name], W)


def test_heads_without_an_output_projection_return_the_merged_heads():
    layer = Attention(4, 6, n_heads=3, rng=0)
    x = np.random.default_rng(1).standard_normal((5, 4))
    assert list(layer.params) == ["W_query", "W_key", "W_value"]
    expected = np.concatenate(
        [
            scaled_dot_product_attention(
                x @ layer.W_query[:, cols], x @ layer.W_key[:, cols], x @ layer.W_value[:, cols]
            )
            for cols in (slice(0, 2), slice(2, 4), slice(4, 6))
        ],
        axis=-1,
    )
    np.testing.assert_allclose(layer(x), expected, rtol=0, atol=ATOL)
    assert layer.weights.shape == (3, 5, 5)
    errors = gradcheck_layer(layer, x, rng=0, is_causal=True)
    assert sorted(errors) == ["W_key", "W_query", "W_value", "x"]
    assert max(errors.values()) < MAX_ERROR, errors


def test_multi_head_scale_is_applied_to_every_head():
    layer = MultiHeadAttention(4, 2, scale=0.3, rng=0)
    x = np.random.default_rng(1).standard_normal((5, 4))
    np.testing.assert_allclose(
        layer(x, is_causal=True), per_head_loop(layer, x, is_causal=True, scale=0.3), atol=ATOL
    )
    errors = gradcheck_layer(layer, x, rng=0, is_causal=True)
    assert max(errors.values()) < MAX_ERROR, errors


def test_dropout_computes_the_context_once_from_the_dropped_weights(monkeypatch):
    x = np.random.default_rng(1).standard_normal((2, 5, 4))
    layer = MultiHeadAttention(4, 2, dropout=0.5, rng=7)
    twin = MultiHeadAttention(4, 2, dropout=0.5, rng=7)
    contexts = []
    attend = attention_module.attend

    def spy(q, k, v, **kwargs):
        contexts.append(v.shape)
        return attend(q, k, v, **kwargs)

    monkeypatch.setattr(attention_module, "attend", spy)
    out = layer(x, is_causal=True)
    assert contexts == []  # the weights alone: no context computed and thrown away
    # The same numbers step by step: the weights, the same dropout draw, then the values.
    twin.eval()
    twin(x, is_causal=True)
    twin.train()
    dropped = twin.dropout(twin.weights)
    value = split_heads(x @ twin.W_value, 2)
    np.testing.assert_allclose(out, merge_heads(dropped @ value) @ twin.W_out, atol=ATOL)


def test_self_attention_takes_dropout_and_keep_weights():
    x = np.random.default_rng(1).standard_normal((2, 5, 4))
    layer = SelfAttention(4, 3, dropout=0.5, keep_weights=False, rng=0)
    assert layer.dropout.p == 0.5
    kept_in_training = layer(x)
    assert layer.weights is not None
    layer.backward(np.ones_like(kept_in_training))
    reference = SelfAttention(4, 3, rng=0).eval()
    out = layer.eval()(x)
    assert layer.weights is None
    np.testing.assert_allclose(out, reference(x), rtol=0, atol=ATOL)
    with pytest.raises(RuntimeError, match="keep_weights=False"):
        layer.backward(np.ones_like(out))
    with pytest.raises(ValueError, match="pass either mask= or is_causal=True"):
        layer(x, mask=causal_mask(5), is_causal=True)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(
            lambda: RotatedAttention(4, 6, n_heads=3, out_projection=True, rng=0), id="heads"
        ),
        pytest.param(lambda: RotatedAttention(4, 4, rng=0), id="one head, no heads axis"),
    ],
)
def test_a_query_key_transform_gets_gradients_and_decodes_as_one_causal_call(make):
    layer = make()
    x = np.random.default_rng(1).standard_normal((2, 5, 4))
    plain = Attention(
        4, layer.d_out, n_heads=layer.n_heads, out_projection=layer.out_projection, rng=0
    )
    full = layer(x, is_causal=True)
    assert not np.allclose(full, plain(x, is_causal=True))  # the rotation changes the scores
    errors = gradcheck_layer(layer, x, rng=0, is_causal=True)
    assert max(errors.values()) < MAX_ERROR, errors
    cache = KVCache()
    steps = [layer.decode_step(x[..., t : t + 1, :], cache) for t in range(2)]
    steps.append(layer.decode_step(x[..., 2:, :], cache))  # three positions at once
    np.testing.assert_allclose(np.concatenate(steps, axis=-2), full, rtol=0, atol=ATOL)
