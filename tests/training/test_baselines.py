"""Unigram and bigram baselines: nats per character equal the hand-computed values."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from simple_attention.text.chars import CharVocabulary
from simple_attention.training.baselines import (
    BigramModel,
    UnigramModel,
    bigram_nats,
    unigram_nats,
)

Nats = Callable[..., float]


class TestUnigram:
    def test_uniform_text_scores_log_v(self) -> None:
        ids = np.tile(np.arange(5), 20)
        for alpha in (1e-6, 1.0, 10.0):
            assert math.isclose(unigram_nats(ids, ids[:7], 5, alpha=alpha), math.log(5))

    def test_laplace_probabilities_by_hand(self) -> None:
        # c = (3, 1, 0), N = 4, V = 3, alpha = 1: p = (4, 2, 1) / 7.
        model = UnigramModel.fit([0, 0, 0, 1], vocab_size=3)
        np.testing.assert_allclose(np.exp(model.log_probs), np.array([4, 2, 1]) / 7)
        expected = -(math.log(4 / 7) + math.log(1 / 7)) / 2
        assert math.isclose(model.nll([0, 2]), expected)

    def test_unseen_character_is_finite(self) -> None:
        nats = unigram_nats([0, 0, 0], [1], vocab_size=2, alpha=0.5)
        assert math.isclose(nats, -math.log(0.5 / 4))

    def test_sample_follows_the_frequencies(self) -> None:
        model = UnigramModel.fit([0] * 30 + [1] * 10, vocab_size=3, alpha=1e-9)
        draws = model.sample(20_000, rng=0)
        assert draws.dtype == np.int64
        assert set(np.unique(draws)) == {0, 1}
        assert abs(np.mean(draws == 0) - 0.75) < 0.02
        np.testing.assert_array_equal(model.sample(50, rng=3), model.sample(50, rng=3))
        assert model.sample(0, rng=0).shape == (0,)


class TestBigram:
    def test_alternating_text_is_nearly_certain(self) -> None:
        train = [0, 1] * 100
        # The first character costs log 2 (unigram); the three transitions about nothing.
        nats = bigram_nats(train, [0, 1, 0, 1], vocab_size=2, alpha=1e-9)
        assert math.isclose(nats, math.log(2) / 4, rel_tol=1e-6)
        assert unigram_nats(train, [0, 1, 0, 1], vocab_size=2, alpha=1e-9) > 0.69

    def test_laplace_probabilities_by_hand(self) -> None:
        # "aab": c(a, a) = 1, c(a, b) = 1, nothing after b. V = 3 ("c" never appears).
        model = BigramModel.fit([0, 0, 1], vocab_size=3, alpha=1.0)
        expected = np.array([[2, 2, 1], [1, 1, 1], [1, 1, 1]]) / np.array([[5], [3], [3]])
        np.testing.assert_allclose(np.exp(model.log_probs), expected)
        # nll of "ab": -(log p(a) + log p(b | a)) / 2, with p(a) = (2 + 1) / (3 + 3).
        assert math.isclose(model.nll([0, 1]), -(math.log(3 / 6) + math.log(2 / 5)) / 2)

    def test_one_character_is_scored_by_the_unigram(self) -> None:
        train = [0, 0, 1, 2, 1]
        assert math.isclose(bigram_nats(train, [2], 3), unigram_nats(train, [2], 3))

    def test_rows_are_distributions(self) -> None:
        rng = np.random.default_rng(0)
        model = BigramModel.fit(rng.integers(0, 6, size=200), vocab_size=7, alpha=0.3)
        np.testing.assert_allclose(np.exp(model.log_probs).sum(axis=1), np.ones(7))
        assert np.isfinite(model.log_probs).all()

    def test_a_single_training_id_gives_uniform_rows(self) -> None:
        model = BigramModel.fit([1], vocab_size=4)
        np.testing.assert_allclose(np.exp(model.log_probs), np.full((4, 4), 0.25))

    def test_beats_the_unigram_on_structured_text(self) -> None:
        text = "the cat sat on the mat. the rat ate the hat.\n" * 20
        vocab = CharVocabulary.from_text(text)
        train, test = vocab.encode(text[:-90]), vocab.encode(text[-90:])
        bigram = bigram_nats(train, test, len(vocab), alpha=0.1)
        unigram = unigram_nats(train, test, len(vocab), alpha=0.1)
        assert bigram < unigram < math.log(len(vocab))

    def test_sample_follows_the_transitions(self) -> None:
        model = BigramModel.fit([0, 1, 2] * 30, vocab_size=3, alpha=1e-9)
        np.testing.assert_array_equal(model.sample(7, start=2, rng=0), [2, 0, 1, 2, 0, 1, 2])
        first = model.sample(9, rng=np.random.default_rng(5))
        np.testing.assert_array_equal(np.diff(first) % 3, np.ones(8))
        assert model.sample(0, rng=0).shape == (0,)
        assert model.sample(1, start=1, rng=0).tolist() == [1]

    def test_same_seed_same_text(self) -> None:
        model = BigramModel.fit(np.random.default_rng(1).integers(0, 5, size=100), 5)
        np.testing.assert_array_equal(model.sample(40, rng=2), model.sample(40, rng=2))
        assert not np.array_equal(model.sample(40, rng=2), model.sample(40, rng=4))

    def test_bad_start(self) -> None:
        model = BigramModel.fit([0, 1], vocab_size=2)
        with pytest.raises(ValueError, match=r"start must lie in \[0, 2\), got 2"):
            model.sample(3, start=2)
        with pytest.raises(TypeError, match="start must be an integer"):
            model.sample(3, start=0.5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="n must be non-negative"):
            model.sample(-1)
        with pytest.raises(TypeError, match="rng must be None"):
            model.sample(3, rng="seed")  # type: ignore[arg-type]


@pytest.mark.parametrize("nats", [unigram_nats, bigram_nats])
class TestErrors:
    @pytest.mark.parametrize("alpha", [0, -1.0, float("inf"), float("nan")])
    def test_alpha_must_be_positive(self, nats: Nats, alpha: float) -> None:
        with pytest.raises(ValueError, match="alpha must be positive and finite"):
            nats([0, 1], [1], 2, alpha=alpha)

    def test_alpha_must_be_a_number(self, nats: Nats) -> None:
        with pytest.raises(TypeError, match="alpha must be a real number, got True"):
            nats([0, 1], [1], 2, alpha=True)

    def test_empty_inputs(self, nats: Nats) -> None:
        with pytest.raises(ValueError, match="train_ids must hold at least one id"):
            nats([], [1], 2)
        with pytest.raises(ValueError, match="test_ids must hold at least one id"):
            nats([0, 1], np.array([], dtype=np.int64), 2)

    def test_ids_out_of_range(self, nats: Nats) -> None:
        with pytest.raises(ValueError, match=r"train_ids must lie in \[0, 2\), got 2"):
            nats([0, 2], [1], 2)
        with pytest.raises(ValueError, match=r"test_ids must lie in \[0, 2\), got -1"):
            nats([0, 1], [-1], 2)

    def test_ids_must_be_integers(self, nats: Nats) -> None:
        with pytest.raises(TypeError, match="test_ids must hold integers, got dtype float64"):
            nats([0, 1], [0.5], 2)
        with pytest.raises(TypeError, match="train_ids must hold integers, got dtype <U"):
            nats("ab", [0], 2)

    def test_vocab_size(self, nats: Nats) -> None:
        with pytest.raises(ValueError, match="vocab_size must be positive"):
            nats([0], [0], 0)
        with pytest.raises(TypeError, match="vocab_size must be an integer"):
            nats([0], [0], 2.0)


class TestModelErrors:
    @pytest.mark.parametrize("model", [UnigramModel, BigramModel])
    def test_fit_and_nll_name_ids(self, model: type[UnigramModel] | type[BigramModel]) -> None:
        with pytest.raises(ValueError, match="ids must hold at least one id"):
            model.fit([], vocab_size=2)
        fitted = model.fit([0, 1], vocab_size=2)
        with pytest.raises(ValueError, match="ids must hold at least one id"):
            fitted.nll([])
        with pytest.raises(ValueError, match=r"ids must be one-dimensional"):
            fitted.nll([[0, 1]])
        with pytest.raises(ValueError, match="alpha must be positive"):
            model.fit([0, 1], vocab_size=2, alpha=0.0)
