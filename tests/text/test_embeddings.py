"""Embedding vectors: the seed's random ones and a lookup table."""

from __future__ import annotations

import numpy as np
import pytest

from simple_attention import Embedding, naive_embeddings


class TestNaiveEmbeddings:
    def test_shape_range_and_reproducibility(self) -> None:
        x = naive_embeddings(50, 3, rng=0)
        assert x.shape == (50, 3)
        assert x.dtype == np.float64
        assert ((x >= 0) & (x < 1)).all()
        np.testing.assert_array_equal(x, naive_embeddings(50, 3, rng=0))

    def test_bad_sizes(self) -> None:
        with pytest.raises(ValueError, match="dim must be positive"):
            naive_embeddings(3, 0)
        with pytest.raises(ValueError, match="n_tokens must be non-negative"):
            naive_embeddings(-1, 3)


class TestEmbedding:
    def test_same_token_same_vector(self) -> None:
        embed = Embedding(10, 4, rng=1)
        x = embed(np.array([3, 5, 3]))
        np.testing.assert_array_equal(x[0], x[2])
        assert not np.array_equal(x[0], x[1])

    def test_any_shape_of_ids(self) -> None:
        embed = Embedding(10, 4, rng=1)
        assert embed(np.zeros((2, 3), dtype=int)).shape == (2, 3, 4)
        assert embed([]).shape == (0, 4)

    def test_reproducible(self) -> None:
        np.testing.assert_array_equal(Embedding(5, 2, rng=7).weight, Embedding(5, 2, rng=7).weight)

    def test_out_of_range_ids(self) -> None:
        embed = Embedding(10, 4, rng=1)
        with pytest.raises(ValueError, match=r"ids must lie in \[0, 10\)"):
            embed([1, 10])
        with pytest.raises(ValueError, match=r"ids must lie in \[0, 10\)"):
            embed([-1])

    def test_non_integer_ids(self) -> None:
        with pytest.raises(TypeError, match="ids must be integers"):
            Embedding(10, 4)([1.0, 2.0])

    def test_bad_sizes(self) -> None:
        with pytest.raises(ValueError, match="vocab_size must be positive"):
            Embedding(0, 4)


def test_backward_by_matrix_product_and_by_scatter_agree(monkeypatch) -> None:
    from simple_attention.text import embeddings

    rng = np.random.default_rng(5)
    ids = rng.integers(6, size=(3, 7))  # repeated ids, and some of the 6 never used
    grad = rng.standard_normal((3, 7, 4))
    embed = embeddings.Embedding(6, 4, rng=0)
    embed(ids)
    embed.backward(grad)
    by_product = embed.grads["weight"].copy()
    monkeypatch.setattr(embeddings, "ONE_HOT_LIMIT", 0)  # forces np.add.at
    embed(ids)
    embed.backward(grad)
    np.testing.assert_allclose(embed.grads["weight"], by_product, rtol=1e-14, atol=1e-14)
    expected = np.zeros((6, 4))
    for i, row in zip(ids.ravel(), grad.reshape(-1, 4), strict=True):
        expected[i] += row
    np.testing.assert_allclose(by_product, expected, rtol=1e-14, atol=1e-14)
