"""Rotary position embeddings in the layers: attention, the block and TinyGPT."""

from __future__ import annotations

import io

import numpy as np
import pytest

from simple_attention import (
    Attention,
    KVCache,
    MultiHeadAttention,
    SelfAttention,
    TinyGPT,
    TransformerBlock,
    gradcheck,
    gradcheck_layer,
    key_padding_mask,
    load_weights,
    rotary_embedding,
    save_weights,
    scaled_dot_product_attention,
    softmax_cross_entropy,
)

MAX_ERROR = 1e-7
ATOL = 1e-12
VOCAB = 5


def rotary_per_head(layer: MultiHeadAttention, x: np.ndarray, **kwargs: object) -> np.ndarray:
    """The definition: per head, rotate the projected queries and keys, attend, merge, W_out."""
    d = layer.d_head
    heads = []
    for h in range(layer.n_heads):
        cols = slice(h * d, (h + 1) * d)
        heads.append(
            scaled_dot_product_attention(
                rotary_embedding(x @ layer.W_query[:, cols]),
                rotary_embedding(x @ layer.W_key[:, cols]),
                x @ layer.W_value[:, cols],
                **kwargs,  # type: ignore[arg-type]
            )
        )
    return np.concatenate(heads, axis=-1) @ layer.W_out


# --- attention ----------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [{}, {"is_causal": True}], ids=["full", "causal"])
def test_multi_head_rotary_is_the_per_head_definition(kwargs) -> None:
    layer = MultiHeadAttention(8, 2, rotary=True, rng=0)
    x = np.random.default_rng(1).standard_normal((3, 6, 8))
    np.testing.assert_allclose(layer(x, **kwargs), rotary_per_head(layer, x, **kwargs), atol=ATOL)
    plain = MultiHeadAttention(8, 2, rng=0)
    assert not np.allclose(layer(x, **kwargs), plain(x, **kwargs))


def test_self_attention_rotary_rotates_its_one_head() -> None:
    layer = SelfAttention(3, 4, rotary=True, rng=0)
    x = np.random.default_rng(1).standard_normal((5, 3))
    expected = scaled_dot_product_attention(
        rotary_embedding(x @ layer.W_query), rotary_embedding(x @ layer.W_key), x @ layer.W_value
    )
    np.testing.assert_allclose(layer(x), expected, atol=ATOL)
    assert repr(layer) == "SelfAttention(d_in=3, d_out=4, rotary=True)"


def test_rotary_adds_no_parameters_and_draws_the_same_weights() -> None:
    plain, rotary = MultiHeadAttention(8, 2, rng=3), MultiHeadAttention(8, 2, rotary=True, rng=3)
    assert list(rotary.params) == list(plain.params)
    for name, param in rotary.params.items():
        np.testing.assert_array_equal(param, plain.params[name])
    assert repr(rotary) == "MultiHeadAttention(d_model=8, n_heads=2, dropout=0.0, rotary=True)"


@pytest.mark.parametrize(
    ("shape", "kwargs"),
    [
        pytest.param((5, 8), {}, id="no mask"),
        pytest.param((5, 8), {"is_causal": True}, id="causal"),
        pytest.param(
            (2, 4, 8),
            {"mask": key_padding_mask(np.array([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=bool))},
            id="key padding",
        ),
    ],
)
def test_gradients_match_finite_differences(shape, kwargs) -> None:
    rng = np.random.default_rng(7)
    layer = MultiHeadAttention(8, 2, rotary=True, rng=rng)
    errors = gradcheck_layer(layer, rng.standard_normal(shape), rng=rng, **kwargs)
    assert sorted(errors) == ["W_key", "W_out", "W_query", "W_value", "x"]
    assert max(errors.values()) < MAX_ERROR, errors


def test_gradients_with_dropout_match_finite_differences() -> None:
    # With dropout the weights are drawn again at every call: fix the draw by reseeding.
    layer = MultiHeadAttention(4, 2, dropout=0.3, rotary=True, rng=0)
    x = np.random.default_rng(1).standard_normal((5, 4))
    state = layer.dropout.rng.bit_generator.state

    def f(x: np.ndarray) -> np.ndarray:
        layer.dropout.rng.bit_generator.state = state
        return layer(x, is_causal=True)

    def backward(g: np.ndarray, x: np.ndarray) -> list[np.ndarray]:
        f(x)
        return [layer.backward(g)]

    assert gradcheck(f, backward, [x], rng=2) < MAX_ERROR


def test_the_scores_depend_only_on_the_distance_between_positions() -> None:
    layer = MultiHeadAttention(8, 2, rotary=True, rng=0)
    q, k = np.random.default_rng(1).standard_normal((2, 2, 5, 4))  # (heads, n, d_head)
    positions = np.arange(5)
    for shift in (1, 17, 1000):
        scores = np.einsum("...if,...jf->...ij", *layer.transform_qk(q, k, positions))
        shifted = np.einsum("...if,...jf->...ij", *layer.transform_qk(q, k, positions + shift))
        np.testing.assert_allclose(shifted, scores, rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    "splits", [[1, 1, 1, 1, 1, 1], [3, 1, 2], [6], [2, 0, 4]], ids=lambda s: "-".join(map(str, s))
)
def test_decoding_piece_by_piece_equals_one_causal_call(splits) -> None:
    layer = MultiHeadAttention(8, 2, rotary=True, rng=0)
    x = np.random.default_rng(1).standard_normal((2, 6, 8))
    full = layer(x, is_causal=True)
    cache, pieces, start = KVCache(), [], 0
    for size in splits:
        pieces.append(layer.decode_step(x[:, start : start + size], cache))
        start += size
    np.testing.assert_allclose(np.concatenate(pieces, axis=-2), full, rtol=0, atol=ATOL)


def test_the_cache_holds_rotated_keys() -> None:
    layer = MultiHeadAttention(4, 2, rotary=True, rng=0)
    x = np.random.default_rng(1).standard_normal((3, 4))
    cache = KVCache()
    layer.decode_step(x, cache)
    keys = rotary_embedding((x @ layer.W_key).reshape(3, 2, 2).transpose(1, 0, 2))
    np.testing.assert_allclose(cache.keys, keys, atol=ATOL)


def test_a_failed_decode_step_changes_nothing() -> None:
    layer = MultiHeadAttention(4, 2, rotary=True, rng=0)
    x = np.random.default_rng(1).standard_normal((3, 4))
    cache = KVCache()
    layer.decode_step(x[:2], cache)
    keys, values, weights = cache.keys.copy(), cache.values.copy(), layer.weights
    with pytest.raises(ValueError, match="NaN"):
        layer.decode_step(np.full((1, 4), np.nan), cache)
    np.testing.assert_array_equal(cache.keys, keys)
    np.testing.assert_array_equal(cache.values, values)
    assert layer.weights is weights
    np.testing.assert_allclose(
        layer.decode_step(x[2:], cache), layer(x, is_causal=True)[2:], rtol=0, atol=ATOL
    )


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda g: MultiHeadAttention(6, 2, rotary=True, rng=g), ValueError, "d_head=3"),
        (lambda g: SelfAttention(3, 5, rotary=True, rng=g), ValueError, "even number"),
        (lambda g: MultiHeadAttention(8, 2, rotary="yes", rng=g), TypeError, "^rotary must be"),
        (lambda g: Attention(4, 6, n_heads=2, rotary=True, rng=g), ValueError, "d_out=6"),
        (lambda g: TransformerBlock(6, 2, rotary=True, rng=g), ValueError, "d_model=6"),
        (lambda g: TransformerBlock(8, 2, rotary=1, rng=g), TypeError, "^rotary must be"),
    ],
)
def test_bad_construction_is_refused_before_drawing(make, error, match) -> None:
    generator = np.random.default_rng(0)
    state = generator.bit_generator.state
    with pytest.raises(error, match=match):
        make(generator)
    assert generator.bit_generator.state == state


# --- the block ----------------------------------------------------------------------------


def test_block_gradients_and_decoding() -> None:
    rng = np.random.default_rng(2)
    block = TransformerBlock(8, 2, d_hidden=12, rotary=True, rng=rng)
    assert block.attention.rotary
    assert (
        repr(block)
        == "TransformerBlock(d_model=8, n_heads=2, d_hidden=12, dropout=0.0, rotary=True)"
    )
    x = rng.standard_normal((2, 5, 8))
    errors = gradcheck_layer(block, x, rng=rng)
    assert max(errors.values()) < MAX_ERROR, errors
    full = block(x)
    cache = KVCache()
    pieces = [block.decode_step(x[:, :3], cache), block.decode_step(x[:, 3:], cache)]
    np.testing.assert_allclose(np.concatenate(pieces, axis=-2), full, rtol=0, atol=ATOL)
    plain = TransformerBlock(8, 2, d_hidden=12, rng=2)
    rotary = TransformerBlock(8, 2, d_hidden=12, rotary=True, rng=2)
    for name, param in rotary.params.items():
        np.testing.assert_array_equal(param, plain.params[name])


# --- TinyGPT ------------------------------------------------------------------------------


def tiny(position_encoding: str, rng: int = 0, d_model: int = 8, **kwargs: object) -> TinyGPT:
    """Two blocks of two heads; d_model=4 (heads of 2 features) keeps gradient checks short."""
    return TinyGPT(
        VOCAB,
        6,
        d_model=d_model,
        n_heads=2,
        n_layers=2,
        d_hidden=8,
        position_encoding=position_encoding,
        rng=rng,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("position_encoding", ["rotary", "none"])
def test_tiny_gpt_logit_gradients_match_finite_differences(position_encoding) -> None:
    model = tiny(position_encoding, d_model=4)
    model.embedding.weight[...] = np.random.default_rng(1).standard_normal((VOCAB, 4))
    ids = np.random.default_rng(2).integers(0, VOCAB, (2, 5))
    errors = gradcheck_layer(model, ids, rng=3)
    assert set(errors) == set(model.params)
    assert "positions.weight" not in errors
    assert max(errors.values()) < MAX_ERROR, errors


def test_tiny_gpt_rotary_loss_gradient() -> None:
    model = tiny("rotary", d_model=4, tie_weights=False)
    model.embedding.weight[...] = np.random.default_rng(1).standard_normal((VOCAB, 4))
    rng = np.random.default_rng(4)
    ids, targets = rng.integers(0, VOCAB, (2, 2, 5))
    names = list(model.params)

    def loss(*_: np.ndarray) -> float:
        return softmax_cross_entropy(model(ids), targets)[0]

    def backward(g: np.ndarray, *_: np.ndarray) -> list[np.ndarray]:
        model.backward(softmax_cross_entropy(model(ids), targets)[1])
        return [g * model.grads[name] for name in names]

    arrays = [model.params[name] for name in names]
    assert gradcheck(loss, backward, arrays, eps=1e-5, rng=5) < MAX_ERROR


@pytest.mark.parametrize("position_encoding", ["learned", "rotary", "none"])
def test_tiny_gpt_decoding_equals_a_full_call(position_encoding) -> None:
    model = tiny(position_encoding)
    ids = np.random.default_rng(1).integers(0, VOCAB, (2, 6))
    full = model(ids)
    caches = model.new_caches()
    pieces = [model.decode_step(ids[:, :2], caches)]
    pieces += [model.decode_step(ids[:, t : t + 1], caches) for t in range(2, 6)]
    np.testing.assert_allclose(np.concatenate(pieces, axis=-2), full, rtol=0, atol=ATOL)


def test_tiny_gpt_position_encodings_share_every_other_weight() -> None:
    learned, rotary, blind = tiny("learned"), tiny("rotary"), tiny("none")
    assert learned.positions is not None
    assert rotary.positions is None
    assert blind.positions is None
    assert set(learned.params) - set(rotary.params) == {"positions.weight"}
    for model in (rotary, blind):
        for name, param in model.params.items():
            np.testing.assert_array_equal(param, learned.params[name])
    assert all(block.attention.rotary for block in rotary.blocks)
    assert not any(block.attention.rotary for block in learned.blocks + blind.blocks)
    assert repr(rotary).endswith("dropout=0.0, position_encoding='rotary')")
    assert "position_encoding" not in repr(learned)


@pytest.mark.parametrize("position_encoding", ["learned", "rotary"])
def test_positions_make_the_order_of_the_context_matter(position_encoding) -> None:
    ids = np.array([1, 2, 3, 4, 0])
    swapped = np.array([3, 1, 2, 4, 0])  # the same tokens before position 3, in another order
    model = tiny(position_encoding)
    assert not np.allclose(model(ids)[3], model(swapped)[3])


def test_without_positions_one_layer_sees_the_set_of_the_context_and_two_see_its_order() -> None:
    # Position 3 attends to tokens 0..3; without positions one layer gets only the set of them,
    # never their order. A second layer reads the first layer's outputs at positions 0..2,
    # each of which saw a different prefix: the causal mask lets the order in.
    ids = np.array([1, 2, 3, 4, 0])
    swapped = np.array([3, 1, 2, 4, 0])  # the same tokens before position 3, in another order
    one = TinyGPT(VOCAB, 6, d_model=8, n_heads=2, n_layers=1, position_encoding="none", rng=0)
    np.testing.assert_allclose(one(ids)[3], one(swapped)[3], rtol=0, atol=ATOL)
    two = tiny("none")
    assert not np.allclose(two(ids)[3], two(swapped)[3])


@pytest.mark.parametrize("position_encoding", ["learned", "rotary", "none"])
def test_config_and_weights_round_trip(position_encoding) -> None:
    model = tiny(position_encoding)
    assert model.config["position_encoding"] == position_encoding
    copy = TinyGPT(**model.config, rng=1)  # type: ignore[arg-type]
    assert copy.config == model.config
    assert repr(copy) == repr(model)
    buffer = io.BytesIO()
    save_weights(model, buffer)
    buffer.seek(0)
    load_weights(copy, buffer)
    np.testing.assert_array_equal(copy([1, 2, 3]), model([1, 2, 3]))


def test_learned_weights_do_not_load_into_a_rotary_model() -> None:
    buffer = io.BytesIO()
    save_weights(tiny("learned"), buffer)
    buffer.seek(0)
    rotary = tiny("rotary", rng=1)
    before = {name: p.copy() for name, p in rotary.params.items()}
    with pytest.raises(ValueError, match="positions.weight"):
        load_weights(rotary, buffer)
    for name, param in rotary.params.items():
        np.testing.assert_array_equal(param, before[name])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"position_encoding": "sinusoidal"}, ValueError, "^position_encoding must be one of"),
        ({"position_encoding": None}, TypeError, "^position_encoding must be a string"),
        ({"position_encoding": "rotary", "d_model": 6, "n_heads": 2}, ValueError, "d_model=6"),
    ],
)
def test_tiny_gpt_bad_position_encoding_is_refused_before_drawing(kwargs, error, match) -> None:
    arguments = {"vocab_size": 5, "max_len": 4, "d_model": 8, "n_heads": 2, "n_layers": 1}
    generator = np.random.default_rng(0)
    state = generator.bit_generator.state
    with pytest.raises(error, match=match):
        TinyGPT(**{**arguments, **kwargs}, rng=generator)  # type: ignore[arg-type]
    assert generator.bit_generator.state == state


def test_rotary_tiny_gpt_in_float32() -> None:
    model = tiny("rotary").astype(np.float32)
    ids = np.array([[1, 2, 3, 4]])
    logits = model(ids)
    assert logits.dtype == np.float32
    model.backward(softmax_cross_entropy(logits, ids)[1])
    assert all(g.dtype == np.float32 for g in model.grads.values())
    caches = model.new_caches()
    np.testing.assert_allclose(model.decode_step(ids, caches), logits, rtol=0, atol=1e-5)
