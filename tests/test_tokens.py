"""Token ids: sampled at random, or from real text through a Vocabulary."""

from __future__ import annotations

import numpy as np
import pytest

from simple_attention import PAD, UNK, Embedding, Vocabulary, sample_tokens, tokenize

SENTENCE = "Your journey starts with one step"


class TestSampleTokens:
    def test_range_shape_and_dtype(self) -> None:
        ids = sample_tokens(1000, vocab_size=7, rng=0)
        assert ids.shape == (1000,)
        assert ids.dtype == np.int64
        assert ids.min() == 0
        assert ids.max() == 6

    def test_same_seed_same_ids(self) -> None:
        np.testing.assert_array_equal(sample_tokens(5, rng=3), sample_tokens(5, rng=3))
        assert not np.array_equal(sample_tokens(20, rng=3), sample_tokens(20, rng=4))

    def test_generator_is_used_and_advanced(self) -> None:
        gen = np.random.default_rng(1)
        first, second = sample_tokens(10, rng=gen), sample_tokens(10, rng=gen)
        assert not np.array_equal(first, second)
        again = np.random.default_rng(1)
        np.testing.assert_array_equal(sample_tokens(10, rng=again), first)

    def test_zero_tokens(self) -> None:
        assert sample_tokens(0, rng=0).shape == (0,)

    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            ({"n_tokens": -1}, ValueError, "n_tokens must be non-negative"),
            ({"n_tokens": 3, "vocab_size": 0}, ValueError, "vocab_size must be positive"),
            ({"n_tokens": 2.0}, TypeError, "n_tokens must be an integer"),
            ({"n_tokens": 2, "rng": "seed"}, TypeError, "rng must be None, an int or"),
        ],
    )
    def test_bad_arguments(self, kwargs: dict, error: type, match: str) -> None:
        with pytest.raises(error, match=match):
            sample_tokens(**kwargs)


class TestTokenize:
    def test_words_and_punctuation(self) -> None:
        assert tokenize("Hello, World!") == ["hello", ",", "world", "!"]

    def test_whitespace_only(self) -> None:
        assert tokenize("  \n\t ") == []

    def test_not_a_string(self) -> None:
        with pytest.raises(TypeError, match="text must be a str"):
            tokenize(["a", "b"])


class TestVocabulary:
    def test_reserved_ids(self) -> None:
        vocab = Vocabulary([])
        assert vocab.tokens == [PAD, UNK]
        assert vocab.token_to_id[PAD] == vocab.pad_id == 0
        assert vocab.token_to_id[UNK] == vocab.unk_id == 1

    def test_round_trip(self) -> None:
        vocab = Vocabulary.from_text(SENTENCE)
        ids = vocab.encode(SENTENCE)
        assert ids.dtype == np.int64
        assert ids.tolist() == [2, 3, 4, 5, 6, 7]
        assert vocab.decode(ids) == SENTENCE.lower()

    def test_repeated_words_get_one_id(self) -> None:
        vocab = Vocabulary.from_text("the cat saw the dog")
        assert len(vocab) == 2 + 4
        ids = vocab.encode("the dog")
        assert ids[0] == vocab.encode("the")[0]

    def test_unknown_words(self) -> None:
        vocab = Vocabulary.from_text(SENTENCE)
        assert vocab.encode("a journey of one thousand steps").tolist() == [1, 3, 1, 6, 1, 1]

    def test_decode_drops_padding_and_checks_ids(self) -> None:
        vocab = Vocabulary.from_text("a b")
        assert vocab.decode([2, 3, 0, 0]) == "a b"
        with pytest.raises(ValueError, match=r"ids must lie in \[0, 4\)"):
            vocab.decode([2, 9])
        with pytest.raises(TypeError, match="ids must be integers"):
            vocab.decode([2.0])
        with pytest.raises(ValueError, match="one-dimensional"):
            vocab.decode([[2]])

    def test_tokens_must_be_strings(self) -> None:
        with pytest.raises(TypeError, match="tokens must be strings"):
            Vocabulary(["a", 3])


def test_text_to_ids_to_vectors_end_to_end() -> None:
    vocab = Vocabulary.from_text(SENTENCE)
    embed = Embedding(len(vocab), 3, rng=0)
    x = embed(vocab.encode(SENTENCE))
    assert x.shape == (6, 3)
    np.testing.assert_array_equal(x, embed.weight[2:8])
