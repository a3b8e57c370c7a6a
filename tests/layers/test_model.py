"""TinyAttentionModel: the layers wired together, forward and backward."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from simple_attention import TinyAttentionModel


@pytest.mark.parametrize("shape", [(0,), (2, 0), (0, 3)])
def test_empty_sequences_go_forward_and_backward(shape: tuple[int, ...]) -> None:
    model = TinyAttentionModel(vocab_size=6, max_len=5, d_model=4, rng=0)
    logits = model(np.zeros(shape, dtype=int))
    assert logits.shape == (*shape, 6)
    model.backward(np.zeros_like(logits))
    assert set(model.grads) == set(model.params)
    for name, grad in model.grads.items():
        np.testing.assert_array_equal(grad, 0.0, err_msg=name)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_len": 0}, ValueError, "max_len must be positive"),
        ({"max_len": 2.5}, TypeError, "max_len must be an integer"),
        ({"scale": np.nan}, ValueError, "scale must be finite"),
        ({"scale": "1"}, TypeError, "scale must be a real number"),
    ],
)
def test_a_refused_argument_leaves_the_generator_alone(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    generator = np.random.default_rng(0)
    state = generator.bit_generator.state
    arguments: dict[str, Any] = {"vocab_size": 6, "max_len": 5, "d_model": 4} | kwargs
    with pytest.raises(error, match=match):
        TinyAttentionModel(**arguments, rng=generator)
    assert generator.bit_generator.state == state


def test_a_refused_call_keeps_the_weights_of_the_last_successful_one() -> None:
    model = TinyAttentionModel(vocab_size=6, max_len=5, d_model=4, rng=0)
    model(np.array([[1, 2, 3]]))
    weights = model.weights
    with pytest.raises(ValueError, match="mask"):
        model(np.array([[4, 5]]), mask=np.ones((3, 3), dtype=bool))
    assert model.weights is weights


def test_params_and_grads_come_from_the_layers_in_order() -> None:
    model = TinyAttentionModel(vocab_size=6, max_len=5, d_model=4, rng=0)
    assert list(model.layers) == ["embedding", "positions", "attention", "head"]
    assert list(model.params) == [
        "embedding.weight",
        "positions.weight",
        "attention.W_query",
        "attention.W_key",
        "attention.W_value",
        "head.W",
        "head.b",
    ]
    assert model.params["attention.W_key"] is model.attention.W_key
    assert model.grads == {}
    logits = model(np.array([[1, 2, 3]]))
    model.backward(np.ones_like(logits))
    assert list(model.grads) == list(model.params)
    assert model.grads["head.b"] is model.head.grads["b"]


def test_train_and_eval_switch_every_layer() -> None:
    model = TinyAttentionModel(vocab_size=6, max_len=5, d_model=4, rng=0)
    assert model.training
    assert model.attention.training
    assert model.eval() is model
    assert not any(layer.training for layer in (model, *model.layers.values()))
    model.train()
    assert all(layer.training for layer in (model, *model.layers.values()))
    with pytest.raises(TypeError, match="mode"):
        model.train("no")  # type: ignore[arg-type]
    assert model.training
