"""TinyGPT: gradients (tied and untied head), causality, shapes, errors, decoding with caches."""

from __future__ import annotations

import numpy as np
import pytest

from simple_attention import (
    KVCache,
    Linear,
    TinyGPT,
    TransformerBlock,
    gradcheck,
    gradcheck_layer,
    softmax_cross_entropy,
)

from tolerances import TOLERANCES

MAX_ERROR = 1e-7
ATOL = TOLERANCES[np.float64][0]
VOCAB = 5


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(47)


def tiny(rng: np.random.Generator, *, randomise: bool = True, **kwargs: object) -> TinyGPT:
    """Two layers, tied head, no dropout; gains, biases and tables random, so each one matters.

    The block weights keep their initialisation, and the gains stay near 1: with random
    weights everywhere, some attention gradients get so small next to the logits that the
    rounding error of central differences (about 1e-10) exceeds 1e-7 of them.
    """
    options = {"d_hidden": 8, **kwargs}
    model = TinyGPT(VOCAB, 6, d_model=4, n_heads=2, n_layers=2, rng=rng, **options)  # type: ignore[arg-type]
    if randomise:
        for name, param in model.params.items():
            if name.endswith("gamma"):
                param[...] = 1.0 + 0.2 * rng.standard_normal(param.shape)
            elif name.endswith(("beta", ".b")):
                param[...] = 0.2 * rng.standard_normal(param.shape)
            elif name.endswith("weight"):  # the token and position tables
                param[...] = rng.standard_normal(param.shape)
    return model


def loss_gradcheck(model: TinyGPT, ids: np.ndarray, targets: np.ndarray) -> float:
    """Finite differences of the cross-entropy loss over every parameter of ``model``."""
    names = list(model.params)
    arrays = [model.params[name] for name in names]  # perturbed in place by gradcheck

    def loss(*_: np.ndarray) -> float:
        return softmax_cross_entropy(model(ids), targets)[0]

    def backward(g: np.ndarray, *_: np.ndarray) -> list[np.ndarray]:
        _, grad_logits = softmax_cross_entropy(model(ids), targets)
        model.backward(grad_logits)
        return [g * model.grads[name] for name in names]

    # eps = 1e-5: the loss is a mean over the positions, so the attention gradients are a
    # tenth of those of the logits, while the rounding error of the loss, divided by 2 eps,
    # stays; at 1e-6 it reaches 1e-7 of them, at 1e-5 (truncation error ~1e-10) it does not.
    return gradcheck(loss, backward, arrays, eps=1e-5, rng=3)


# --- gradients --------------------------------------------------------------------------------


@pytest.mark.parametrize("tie_weights", [True, False], ids=["tied", "untied"])
def test_loss_gradient_of_every_parameter(tie_weights, rng) -> None:
    model = tiny(rng, tie_weights=tie_weights)
    ids = rng.integers(0, VOCAB, (2, 5))
    targets = rng.integers(0, VOCAB, (2, 5))
    assert loss_gradcheck(model, ids, targets) < MAX_ERROR


def test_logit_gradients_match_finite_differences(rng) -> None:
    # A random upstream gradient on the logits: a term lost in the backward pass could hide
    # behind the softmax of the loss, never behind this.
    model = tiny(rng)
    errors = gradcheck_layer(model, rng.integers(0, VOCAB, (2, 4)), rng=4)
    assert set(errors) == set(model.params)
    assert max(errors.values()) < MAX_ERROR, errors


def test_untied_model_has_a_head_and_the_tied_one_does_not(rng) -> None:
    tied, untied = tiny(rng), tiny(rng, tie_weights=False)
    assert tied.head is None
    assert set(untied.params) - set(tied.params) == {"head.W", "head.b"}
    assert untied.params["head.W"].shape == (4, VOCAB)


def test_tied_gradient_is_the_lookup_part_plus_the_head_part(rng) -> None:
    # An untied model whose head is E.T with no bias computes the same logits; its two
    # gradients, of the table (lookup) and of the head, add up to the tied gradient.
    tied = tiny(rng)
    untied = tiny(rng, tie_weights=False)
    for name, value in tied.params.items():
        untied.params[name][...] = value
    untied.head.W[...] = tied.embedding.weight.T
    untied.head.b[...] = 0.0
    ids = rng.integers(0, VOCAB, (3, 5))
    g = rng.standard_normal((3, 5, VOCAB))
    np.testing.assert_allclose(tied(ids), untied(ids), rtol=0, atol=ATOL)
    tied.backward(g)
    untied.backward(g)
    lookup, head = untied.grads["embedding.weight"], untied.grads["head.W"].T
    np.testing.assert_allclose(tied.grads["embedding.weight"], lookup + head, rtol=0, atol=ATOL)
    assert np.abs(lookup).max() > 1e-3
    assert np.abs(head).max() > 1e-3
    for name in tied.params:
        if name != "embedding.weight":
            np.testing.assert_allclose(
                tied.grads[name], untied.grads[name], rtol=0, atol=ATOL, err_msg=name
            )


def test_backward_twice_does_not_accumulate(rng) -> None:
    model = tiny(rng)
    ids = rng.integers(0, VOCAB, (2, 4))
    g = rng.standard_normal((2, 4, VOCAB))
    model(ids)
    model.backward(g)
    first = {name: value.copy() for name, value in model.grads.items()}
    model(ids)
    model.backward(g)
    for name, value in model.grads.items():
        np.testing.assert_array_equal(value, first[name], err_msg=name)


# --- causality, shapes, modes ----------------------------------------------------------------


@pytest.mark.parametrize("position", [1, 2, 5])
def test_changing_a_later_token_changes_no_earlier_logit(position, rng) -> None:
    model = tiny(rng)
    ids = rng.integers(0, VOCAB, (2, 6))
    logits = model(ids)
    changed = ids.copy()
    changed[:, position] = (changed[:, position] + 1) % VOCAB
    new = model(changed)
    np.testing.assert_array_equal(new[:, :position], logits[:, :position])
    assert np.abs(new[:, position] - logits[:, position]).max() > 1e-6


@pytest.mark.parametrize("shape", [(4,), (3, 4), (2, 3, 4), (0,), (3, 0), (0, 4)], ids=str)
def test_shapes_forward_and_backward(shape, rng) -> None:
    model = tiny(rng)
    ids = rng.integers(0, VOCAB, shape)
    logits = model(ids)
    assert logits.shape == (*shape, VOCAB)
    model.backward(np.ones_like(logits))
    assert {name: g.shape for name, g in model.grads.items()} == {
        name: p.shape for name, p in model.params.items()
    }
    if logits.size == 0:
        assert all(not g.any() for g in model.grads.values())
    weights = model.attention_weights
    assert len(weights) == 2
    assert all(w.shape == (*shape[:-1], 2, shape[-1], shape[-1]) for w in weights)


def test_attention_weights_are_those_of_each_block(rng) -> None:
    model = tiny(rng)
    model(rng.integers(0, VOCAB, 5))
    for w, block in zip(model.attention_weights, model.blocks, strict=True):
        assert w is block.attention.weights


def test_blocks_are_registered_sub_layers_in_order(rng) -> None:
    model = tiny(rng)
    assert list(model.layers)[:5] == ["embedding", "positions", "dropout", "block0", "block1"]
    assert model.blocks == (model.block0, model.block1)
    assert list(model.params)[:3] == ["embedding.weight", "positions.weight", "block0.ln1.gamma"]
    assert list(model.params)[-2:] == ["ln_f.gamma", "ln_f.beta"]


def test_dropout_only_in_training_mode(rng) -> None:
    model = TinyGPT(VOCAB, 6, d_model=8, n_heads=2, n_layers=2, dropout=0.5, rng=0)
    plain = TinyGPT(VOCAB, 6, d_model=8, n_heads=2, n_layers=2, rng=0)
    ids = rng.integers(0, VOCAB, (2, 6))
    assert np.abs(model(ids) - model(ids)).max() > 1e-4
    model.eval()
    assert all(not layer.training for layer in model.blocks)
    np.testing.assert_array_equal(model(ids), model(ids))
    np.testing.assert_array_equal(model(ids), plain(ids))


def test_initial_loss_is_about_log_vocab_size() -> None:
    model = TinyGPT(50, 16, d_model=16, n_heads=2, n_layers=2, rng=0)
    ids = np.random.default_rng(1).integers(0, 50, (4, 16))
    loss, _ = softmax_cross_entropy(model(ids[:, :-1]), ids[:, 1:])
    assert abs(loss - np.log(50)) < 0.05
    assert np.abs(model.embedding.weight).std() < 0.03  # std 0.02, as GPT-2


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ids", "error", "match"),
    [
        ([0, 1, VOCAB], ValueError, "ids"),
        ([[0, -1]], ValueError, "ids"),
        ([0, 1, 2, 3, 4, 0, 1], ValueError, "ids has sequences of 7 tokens.*max_len=6"),
        ([0.0, 1.0], TypeError, "ids"),
        ([True, False], TypeError, "ids"),
        (np.array(["a", "b"]), TypeError, "ids"),
    ],
)
def test_bad_ids_are_named_and_leave_backward_raising(ids, error, match, rng) -> None:
    model = tiny(rng)
    good = model(rng.integers(0, VOCAB, 4))
    with pytest.raises(error, match=match):
        model(ids)
    with pytest.raises(RuntimeError):
        model.backward(np.ones_like(good))


def test_a_nan_parameter_is_named_and_leaves_backward_raising(rng) -> None:
    model = tiny(rng)
    logits = model([1, 2])
    model.block1.ffn.up.W[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"block1\.ffn\.up\.W"):
        model([1, 2])
    with pytest.raises(RuntimeError):
        model.backward(np.ones_like(logits))


def test_backward_before_a_call_and_with_the_wrong_shape(rng) -> None:
    model = tiny(rng)
    with pytest.raises(RuntimeError):
        model.backward(np.ones((3, VOCAB)))
    model([1, 2, 3])
    with pytest.raises(ValueError, match="grad_out"):
        model.backward(np.ones((3, VOCAB + 1)))
    untied = tiny(rng, tie_weights=False)
    untied([1, 2, 3])
    with pytest.raises(ValueError, match="grad_out"):
        untied.backward(np.ones((2, VOCAB)))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"vocab_size": 0}, ValueError, "vocab_size"),
        ({"max_len": 2.0}, TypeError, "max_len"),
        ({"n_layers": 0}, ValueError, "n_layers"),
        ({"n_heads": 3}, ValueError, "divisible"),
        ({"d_hidden": -1}, ValueError, "d_hidden"),
        ({"dropout": 1.0}, ValueError, "dropout"),
        ({"tie_weights": "yes"}, TypeError, "tie_weights"),
    ],
)
def test_bad_construction_is_refused_before_drawing(kwargs, error, match) -> None:
    arguments = {"vocab_size": 5, "max_len": 4, "d_model": 4, "n_heads": 2, "n_layers": 1}
    generator = np.random.default_rng(0)
    state = generator.bit_generator.state
    with pytest.raises(error, match=match):
        TinyGPT(**{**arguments, **kwargs}, rng=generator)
    assert generator.bit_generator.state == state


# --- configuration, size, dtype ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"tie_weights": False},
        {"d_hidden": 7, "dropout": 0.25},
        {"residual": False, "layer_norm": False},
    ],
    ids=["tied", "untied", "hidden-and-dropout", "ablated"],
)
def test_config_round_trips(kwargs) -> None:
    model = TinyGPT(9, 5, d_model=6, n_heads=3, n_layers=3, rng=0, **kwargs)  # type: ignore[arg-type]
    copy = TinyGPT(**model.config, rng=1)  # type: ignore[arg-type]
    assert copy.config == model.config
    assert repr(copy) == repr(model)
    assert {n: p.shape for n, p in copy.params.items()} == {
        n: p.shape for n, p in model.params.items()
    }


@pytest.mark.parametrize("tie_weights", [True, False], ids=["tied", "untied"])
def test_n_params_counts_every_number_once(tie_weights) -> None:
    V, L, d, h, layers = 11, 7, 8, 20, 3
    model = TinyGPT(
        V, L, d_model=d, n_heads=2, n_layers=layers, d_hidden=h, tie_weights=tie_weights
    )
    per_block = 2 * 2 * d + 4 * d * d + (d * h + h) + (h * d + d)
    expected = V * d + L * d + layers * per_block + 2 * d + (0 if tie_weights else d * V + V)
    assert model.n_params == expected


def test_the_documented_size_of_the_tutorial_model() -> None:
    # 103 characters, 64 positions, d_model 64, 4 heads, 2 layers: about 110k parameters.
    model = TinyGPT(103, 64, d_model=64, n_heads=4, n_layers=2, rng=0)
    assert 105_000 < model.n_params < 115_000


def test_astype_float32_gives_float32_logits_and_gradients(rng) -> None:
    model = tiny(rng)
    reference = TinyGPT(**model.config)  # type: ignore[arg-type]
    for name, value in model.params.items():
        reference.params[name][...] = value
    model.astype(np.float32)
    ids = rng.integers(0, VOCAB, (2, 5))
    logits = model(ids)
    assert logits.dtype == np.float32
    np.testing.assert_allclose(logits, reference(ids), rtol=0, atol=1e-4)
    _, grad = softmax_cross_entropy(logits, ids)
    model.backward(grad)
    assert all(g.dtype == np.float32 for g in model.grads.values())
    caches = model.new_caches()
    assert model.decode_step(ids[:, :3], caches).dtype == np.float32


# --- decode_step and the caches ---------------------------------------------------------------


@pytest.mark.parametrize(
    "splits",
    [[6], [1, 1, 1, 1, 1, 1], [3, 1, 2], [1, 5], [4, 2], [2, 0, 4]],
    ids=lambda s: "-".join(map(str, s)),
)
@pytest.mark.parametrize("batch", [(), (2,)], ids=["1d", "batch"])
def test_decoding_piece_by_piece_equals_a_full_call(splits, batch, rng) -> None:
    model = tiny(rng)
    ids = rng.integers(0, VOCAB, (*batch, 6))
    full = model(ids)
    caches = model.new_caches()
    assert len(caches) == 2
    assert all(len(c) == 0 for c in caches)
    pieces, start = [], 0
    for size in splits:
        pieces.append(model.decode_step(ids[..., start : start + size], caches))
        start += size
        assert [len(c) for c in caches] == [start, start]  # one entry per position per block
    np.testing.assert_allclose(np.concatenate(pieces, axis=-2), full, rtol=0, atol=ATOL)


def test_untied_decoding_equals_a_full_call(rng) -> None:
    model = tiny(rng, tie_weights=False)
    ids = rng.integers(0, VOCAB, 5)
    caches = model.new_caches()
    steps = [model.decode_step(ids[t : t + 1], caches) for t in range(5)]
    np.testing.assert_allclose(np.concatenate(steps), model(ids), rtol=0, atol=ATOL)


def test_caches_hold_keys_of_each_head(rng) -> None:
    model = tiny(rng)
    caches = model.new_caches()
    model.decode_step(rng.integers(0, VOCAB, (3, 4)), caches)
    for cache in caches:
        assert cache.keys.shape == (3, 2, 4, 2)  # (batch, n_heads, n, d_head)
        assert cache.values.shape == (3, 2, 4, 2)
    assert caches[0] is not caches[1]
    assert not np.array_equal(caches[0].keys, caches[1].keys)


def snapshot(caches: list[KVCache]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(c.keys.copy(), c.values.copy()) for c in caches]


def assert_unchanged(caches: list[KVCache], before: list[tuple[np.ndarray, np.ndarray]]) -> None:
    for cache, (keys, values) in zip(caches, before, strict=True):
        np.testing.assert_array_equal(cache.keys, keys)
        np.testing.assert_array_equal(cache.values, values)


def test_decoding_past_max_len_raises_and_changes_nothing(rng) -> None:
    model = tiny(rng)
    caches = model.new_caches()
    model.decode_step(rng.integers(0, VOCAB, 5), caches)
    before = snapshot(caches)
    with pytest.raises(ValueError, match="max_len"):
        model.decode_step([1, 2], caches)
    assert_unchanged(caches, before)
    model.decode_step([1], caches)  # position 5, the last one
    with pytest.raises(ValueError, match="max_len"):
        model.decode_step([1], caches)
    with pytest.raises(ValueError, match="max_len"):
        model.decode_step(np.arange(7) % VOCAB, model.new_caches())


@pytest.mark.parametrize(
    ("ids_new", "error", "match"),
    [
        ([VOCAB], ValueError, "ids"),
        ([-1], ValueError, "ids"),
        ([1.0], TypeError, "ids"),
        (np.array(2), ValueError, "ids_new"),
    ],
)
def test_a_step_with_bad_ids_leaves_the_caches_unchanged(ids_new, error, match, rng) -> None:
    model = tiny(rng)
    caches = model.new_caches()
    model.decode_step([1, 2, 3], caches)
    before = snapshot(caches)
    with pytest.raises(error, match=match):
        model.decode_step(ids_new, caches)
    assert_unchanged(caches, before)


def test_a_step_that_overflows_in_the_last_block_restores_every_cache(rng) -> None:
    model = tiny(rng).astype(np.float32)
    caches = model.new_caches()
    model.decode_step([1, 2, 3], caches)
    before = snapshot(caches)
    # block0 and block1's attention store their keys before block1's ffn overflows: every
    # hidden unit is 1e30, whatever the input, and the down projection sums 8 of 1e30 * 1e30.
    model.block1.ffn.up.W[...] = 0.0
    model.block1.ffn.up.b[...] = 1e30
    model.block1.ffn.down.W[...] = 1e30
    with pytest.raises(FloatingPointError):
        model.decode_step([4], caches)
    assert [len(c) for c in caches] == [3, 3]
    assert_unchanged(caches, before)


def test_caches_that_do_not_fit_are_refused(rng) -> None:
    model = tiny(rng)
    with pytest.raises(TypeError, match="caches"):
        model.decode_step([1], tuple(model.new_caches()))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="caches"):
        model.decode_step([1], [KVCache(), None])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="blocks"):
        model.decode_step([1], [KVCache()])
    caches = model.new_caches()
    caches[0].append(np.ones((2, 1, 2)), np.ones((2, 1, 2)))
    with pytest.raises(ValueError, match="differ in length"):
        model.decode_step([1], caches)


def test_decoding_leaves_nothing_for_backward_and_applies_no_dropout(rng) -> None:
    model = TinyGPT(VOCAB, 6, d_model=8, n_heads=2, n_layers=2, dropout=0.5, rng=0)
    plain = TinyGPT(VOCAB, 6, d_model=8, n_heads=2, n_layers=2, rng=0)
    logits = model([1, 2, 3])
    np.testing.assert_allclose(
        model.decode_step([1, 2, 3], model.new_caches()), plain([1, 2, 3]), rtol=0, atol=ATOL
    )
    with pytest.raises(RuntimeError):
        model.backward(np.ones_like(logits))


def test_a_step_whose_batch_differs_from_the_caches_names_ids_new(rng) -> None:
    model = tiny(rng)
    caches = model.new_caches()
    model.decode_step([[1, 2]], caches)  # one sequence
    with pytest.raises(ValueError, match="ids_new has the batch shape"):
        model.decode_step([[1], [2]], caches)
    assert [len(c) for c in caches] == [2, 2]


def test_overflowing_logits_leave_backward_asking_for_a_new_call() -> None:
    model = TinyGPT(VOCAB, 6, d_model=4, n_heads=2, n_layers=1, rng=0).astype(np.float32)
    model([1, 2])  # a successful call first: its state must not be used after the failure
    model.ln_f.gamma[...] = 1e38  # finite after the norm, beyond float32 in the tied head
    model.embedding.weight[...] = 10.0 * np.random.default_rng(0).standard_normal((VOCAB, 4))
    with pytest.raises(FloatingPointError, match="logits"):
        model([1, 2])
    with pytest.raises(RuntimeError, match="call the TinyGPT layer"):
        model.backward(np.ones((2, VOCAB), dtype=np.float32))


@pytest.mark.parametrize(
    "kwargs", [{"residual": False}, {"layer_norm": False}], ids=["residual", "layer_norm"]
)
def test_ablation_switches_reach_every_block_and_keep_the_drawn_weights(kwargs) -> None:
    full = TinyGPT(VOCAB, 6, d_model=4, n_heads=2, n_layers=2, rng=0)
    ablated = TinyGPT(VOCAB, 6, d_model=4, n_heads=2, n_layers=2, rng=0, **kwargs)
    ((switch, value),) = kwargs.items()
    assert all(getattr(block, switch) is value for block in ablated.blocks)
    for name, param in ablated.params.items():  # no layer norms: fewer parameters, same draws
        np.testing.assert_array_equal(param, full.params[name])
    assert not np.allclose(ablated([1, 2, 3]), full([1, 2, 3]))


def test_assigning_a_block_replaces_it_in_the_forward_pass_and_the_parameters() -> None:
    model = TinyGPT(VOCAB, 6, d_model=4, n_heads=2, n_layers=2, rng=0)
    before = model([1, 2, 3])
    model.block1 = TransformerBlock(4, 2, residual=False, rng=5)
    assert model.blocks[1] is model.block1
    assert model.params["block1.attention.W_query"] is model.block1.attention.W_query
    assert not np.allclose(model([1, 2, 3]), before)
    model.block1 = Linear(4, 4)  # a sub-layer, but not a block
    with pytest.raises(TypeError, match="block1 must be a TransformerBlock"):
        model([1, 2, 3])
