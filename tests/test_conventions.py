"""Rules of docs/conventions.md that concern the whole library rather than one module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from simple_attention import (
    Dropout,
    Embedding,
    FeedForward,
    Linear,
    MultiHeadAttention,
    PositionalEmbedding,
    SelfAttention,
    TinyAttentionModel,
    TinyGPT,
    TransformerBlock,
    generate,
    gradcheck,
    naive_embeddings,
    reverse_task,
    sample_tokens,
    scaled_dot_product_attention,
    softmax,
    train,
)


def _gradcheck_upstream(rng: Any) -> list[np.ndarray]:
    # The error is a deterministic function of the random upstream gradient G; an almost
    # linear f makes it depend on G, so equal errors mean equal draws.
    x = np.linspace(0.5, 1.5, 4)
    error = gradcheck(lambda x: x**3, lambda g, x: [3 * g * x**2 + 1e-3], [x], rng=rng)
    return [np.array(error)]


def _reverse_task(rng: Any) -> list[np.ndarray]:
    task = reverse_task(4, 2, length=3, vocab_size=6, rng=rng)
    return [task.train_inputs, task.test_inputs]


def _train(rng: Any) -> list[np.ndarray]:
    # The rng draws the batches: a fresh model each time, so only the batches differ.
    task = reverse_task(20, 0, length=3, vocab_size=6, rng=0)
    model = TinyAttentionModel(6, 3, 4, rng=0)
    history = train(model, task.train_inputs, task.train_targets, steps=3, batch_size=2, rng=rng)
    return [np.array(history.losses)]


def _generate(rng: Any) -> list[np.ndarray]:
    # The rng draws the tokens: a fixed model, so only the draws differ.
    model = TinyGPT(10, 6, d_model=4, n_heads=2, n_layers=1, rng=0)
    return [generate(model, [1, 2], 8, rng=rng)]


def _dropout(rng: Any) -> list[np.ndarray]:
    return [Dropout(0.5, rng=rng)(np.ones((6, 6)))]


#: Every public function or class that draws random numbers, as ``rng -> arrays it drew``.
RANDOM: dict[str, Callable[[Any], list[np.ndarray]]] = {
    "sample_tokens": lambda rng: [sample_tokens(8, vocab_size=50, rng=rng)],
    "naive_embeddings": lambda rng: [naive_embeddings(4, 3, rng=rng)],
    "Embedding": lambda rng: [Embedding(6, 3, rng=rng).weight],
    "PositionalEmbedding": lambda rng: [PositionalEmbedding(5, 3, rng=rng).weight],
    "Linear": lambda rng: [Linear(3, 2, rng=rng).W],
    "FeedForward": lambda rng: list(FeedForward(4, rng=rng).params.values()),
    "SelfAttention": lambda rng: list(SelfAttention(3, 2, rng=rng).params.values()),
    "MultiHeadAttention": lambda rng: list(MultiHeadAttention(4, 2, rng=rng).params.values()),
    "TinyAttentionModel": lambda rng: list(TinyAttentionModel(6, 4, 4, rng=rng).params.values()),
    "TransformerBlock": lambda rng: list(TransformerBlock(4, 2, rng=rng).params.values()),
    "TinyGPT": lambda rng: list(TinyGPT(6, 4, 4, 2, 1, rng=rng).params.values()),
    "generate": _generate,
    "Dropout": _dropout,
    "reverse_task": _reverse_task,
    "train": _train,
    "gradcheck": _gradcheck_upstream,
}


def _equal(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_every_random_function_takes_none_a_seed_or_a_generator(name: str) -> None:
    draw = RANDOM[name]
    # The same seed gives the same numbers, a different seed different ones.
    assert _equal(draw(7), draw(7))
    assert not _equal(draw(7), draw(8))
    # A Generator is used as it is (not copied): it advances, so two calls differ, and a
    # generator seeded alike reproduces the first call.
    gen = np.random.default_rng(7)
    first, second = draw(gen), draw(gen)
    assert not _equal(first, second)
    assert _equal(draw(np.random.default_rng(7)), first)
    # None draws fresh entropy and still works.
    draw(None)


@pytest.mark.parametrize("name", sorted(RANDOM))
@pytest.mark.parametrize("bad", [np.random.RandomState(0), 1.5, "0", True])
def test_every_random_function_refuses_other_rng_types(name: str, bad: object) -> None:
    with pytest.raises(TypeError, match="rng"):
        RANDOM[name](bad)


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_every_random_function_refuses_a_negative_seed(name: str) -> None:
    with pytest.raises(ValueError, match="rng must be a non-negative seed"):
        RANDOM[name](-1)


def test_fully_masked_query_gives_zeros_not_the_mean_of_the_values() -> None:
    # jax.nn.dot_product_attention writes a blocked score as -0.7 times the largest float: a
    # fully masked row is then a softmax of equal numbers, uniform weights, and the output is
    # the mean of the values. Here it is zeros: a query that may attend to nothing gets nothing.
    q = np.ones((2, 2))
    k = np.eye(2)
    v = np.array([[1.0, 2.0], [3.0, 4.0]])
    mask = np.array([[True, True], [False, False]])
    context = scaled_dot_product_attention(q, k, v, mask=mask)
    np.testing.assert_array_equal(context[1], [0.0, 0.0])
    big_negative = np.where(mask, q @ k.T / np.sqrt(2), -0.7 * np.finfo(np.float64).max)
    jax_like = softmax(big_negative) @ v
    np.testing.assert_allclose(jax_like[1], v.mean(0))
    np.testing.assert_allclose(context[0], jax_like[0])
