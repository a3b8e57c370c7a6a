"""Token ids: sampled at random, or from real text through a Vocabulary."""

from __future__ import annotations

import re
import string
import unicodedata

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

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

    def test_largest_vocabulary_that_int64_ids_can_number(self) -> None:
        ids = sample_tokens(50, vocab_size=2**63, rng=0)
        assert ids.dtype == np.int64
        assert (ids >= 0).all()

    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            ({"n_tokens": -1}, ValueError, "n_tokens must be non-negative"),
            ({"n_tokens": 3, "vocab_size": 0}, ValueError, "vocab_size must be positive"),
            ({"n_tokens": 2.0}, TypeError, "n_tokens must be an integer"),
            ({"n_tokens": 2, "rng": "seed"}, TypeError, "rng must be None, an int or"),
            ({"n_tokens": 2, "rng": -1}, ValueError, "rng must be a non-negative seed, got -1"),
            ({"n_tokens": 2, "rng": True}, TypeError, "rng must be None, an int or"),
            (
                {"n_tokens": 2, "vocab_size": 2**70},
                ValueError,
                r"vocab_size must be at most 2\*\*63",
            ),
            ({"n_tokens": 2, "vocab_size": True}, TypeError, "vocab_size must be an integer"),
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

    @given(st.text(alphabet=string.ascii_letters + " \t\n'.,;:!?-\"()_"))
    def test_english_splits_as_the_first_version_did(self, text: str) -> None:
        # The docs and the README show these outputs: words with inner apostrophes, and single
        # punctuation marks.
        assert tokenize(text) == re.findall(r"\w+(?:'\w+)*|[^\w\s]", text.lower())

    @given(st.text(alphabet=string.printable))
    @example("Pi is 3.14, 1,000 or 2.x; isn't 'a' _b_ 1'2 x.1 1.2.3?")
    def test_the_ascii_shortcut_follows_the_general_rules(self, text: str) -> None:
        # A non-ASCII space at the end takes the general path without changing the tokens.
        assert tokenize(text) == tokenize(text + "\u00a0")

    @pytest.mark.parametrize(
        ("text", "tokens"),
        [
            # Devanagari: the virama and vowel signs are combining marks inside the word.
            ("नमस्ते दुनिया।", ["नमस्ते", "दुनिया", "।"]),
            # Arabic with its vowel marks (harakat); the Arabic question mark is punctuation.
            ("مَرْحَبًا بِكُمْ؟", ["مَرْحَبًا", "بِكُمْ", "؟"]),
            # Hebrew with points (niqqud), and gershayim inside an abbreviation.
            ("שָׁלוֹם, צה״ל", ["שָׁלוֹם", ",", "צה״ל"]),
            # Russian with a stress mark, which has no precomposed form.
            ("Молоко\u0301 и хлеб.", ["молоко\u0301", "и", "хлеб", "."]),
            # Greek: accents, and the final sigma of lower-case Greek.
            ("ΚΑΛΗΜΈΡΑ ΚΌΣΜΕ", ["καλημέρα", "κόσμε"]),
            ("ΟΔΟΣ", ["οδο\u03c2"]),
            # Turkish: the dotted capital I lower-cases to a plain i, not i + combining dot.
            ("İstanbul'da İZMİR", ["istanbul'da", "izmir"]),
            # Persian: the zero-width non-joiner belongs to the word it sits in.
            ("می\u200cخواهم", ["می\u200cخواهم"]),  # noqa: RUF001
            # Thai vowel marks; the zero-width space separates words.
            ("สวัสดี ครับ", ["สวัสดี", "ครับ"]),
            ("ผม\u200bรัก", ["ผม", "รัก"]),
            # Chinese and Japanese ideographs, one token each (no spaces between words).
            ("我爱北京。", ["我", "爱", "北", "京", "。"]),
            ("東京は大きい", ["東", "京", "は", "大", "きい"]),
            # Korean separates words with spaces.
            ("안녕하세요, 세계!", ["안녕하세요", ",", "세계", "!"]),
            # Digits of every script; decimal and thousands separators inside a number.
            ("२०२४ ٣٫١٤", ["२०२४", "٣٫١٤"]),  # noqa: RUF001
            ("Pi is 3.14, not 1,000.", ["pi", "is", "3.14", ",", "not", "1,000", "."]),
            # A typographic apostrophe inside a word, like the straight one.
            ("It isn\u2019t", ["it", "isn\u2019t"]),
            # Emoji: variation selectors, skin tones and joined sequences stay whole.
            ("I \u2764\ufe0f NumPy", ["i", "\u2764\ufe0f", "numpy"]),
            (
                "\U0001f469\u200d\U0001f4bb\U0001f44d\U0001f3fd",
                ["\U0001f469\u200d\U0001f4bb", "\U0001f44d\U0001f3fd"],
            ),
            # Invisible formatting characters never become (part of) tokens.
            ("\ufeffco\u00adoperate \u200e!", ["cooperate", "!"]),
        ],
    )
    def test_scripts_split_as_their_readers_expect(self, text: str, tokens: list[str]) -> None:
        assert tokenize(text) == tokens

    def test_decomposed_text_gives_the_same_tokens(self) -> None:
        for word in ["café", "Ελληνικά", "Ångström", "한국어", "İstanbul"]:
            decomposed = unicodedata.normalize("NFD", word)
            assert decomposed != word
            assert (
                tokenize(decomposed)
                == tokenize(word)
                == [unicodedata.normalize("NFC", word.replace("İ", "i").lower())]
            )

    @given(st.text())
    def test_tokens_are_stable_and_independent_of_the_normal_form(self, text: str) -> None:
        tokens = tokenize(text)
        assert tokenize(unicodedata.normalize("NFD", text)) == tokens
        assert tokenize(" ".join(tokens)) == tokens
        for token in tokens:
            assert tokenize(token) == [token]
        assert (Vocabulary.from_text(text).encode(text) != Vocabulary.unk_id).all()


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
        with pytest.raises(TypeError, match="ids must hold integers"):
            vocab.decode([2.0])
        with pytest.raises(ValueError, match="one-dimensional"):
            vocab.decode([[2]])
        with pytest.raises(ValueError, match=r"ids must lie in \[0, 4\), got -1"):
            vocab.decode([2, -1, 3])
        with pytest.raises(TypeError, match="ids must hold integers"):
            vocab.decode([True])
        assert vocab.decode([]) == ""
        assert vocab.decode(np.array([], dtype=str)) == ""

    def test_tokens_must_be_strings(self) -> None:
        with pytest.raises(TypeError, match=r"tokens\[1\] must be a str, got 3"):
            Vocabulary(["a", 3])
        with pytest.raises(TypeError, match="tokens must be an iterable of str, got int"):
            Vocabulary(3)

    def test_a_bare_string_is_an_error_not_a_list_of_characters(self) -> None:
        with pytest.raises(TypeError, match=r"not one str.*Vocabulary\.from_text"):
            Vocabulary("hello world")

    def test_constructor_and_encode_agree_on_case_and_normal_form(self) -> None:
        vocab = Vocabulary(["Hello", "hello", unicodedata.normalize("NFD", "Café")])
        assert vocab.tokens == [PAD, UNK, "hello", "café"]
        assert vocab.encode("Hello HELLO café").tolist() == [2, 2, 3]

    @pytest.mark.parametrize("token", ["new york", "", " a", "a.", "<bos>"])
    def test_a_token_that_encode_would_split_is_an_error(self, token: str) -> None:
        with pytest.raises(ValueError, match=r"tokens\[1\] = .* is not one token"):
            Vocabulary(["a", token])

    def test_pad_and_unk_may_be_listed(self) -> None:
        assert Vocabulary([PAD, "a", UNK]).tokens == [PAD, UNK, "a"]

    def test_from_text_checks_its_argument(self) -> None:
        with pytest.raises(TypeError, match="text must be a str or a sequence of str, got int"):
            Vocabulary.from_text(3)
        with pytest.raises(TypeError, match=r"text\[1\] must be a str, got 3"):
            Vocabulary.from_text(["a b", 3])
        assert Vocabulary.from_text(t for t in ["a b", "c"]).tokens == [PAD, UNK, "a", "b", "c"]

    def test_encode_batch_checks_its_argument(self) -> None:
        vocab = Vocabulary.from_text("a b")
        with pytest.raises(TypeError, match="texts must be a sequence of str"):
            vocab.encode_batch("a b")
        with pytest.raises(TypeError, match="texts must be a sequence of str, got int"):
            vocab.encode_batch(3)
        with pytest.raises(TypeError, match=r"texts\[1\] must be a str, got 3"):
            vocab.encode_batch(["a", 3])
        ids, keep = vocab.encode_batch([])
        assert ids.shape == keep.shape == (0, 0)

    def test_encode_checks_its_argument(self) -> None:
        with pytest.raises(TypeError, match="text must be a str, got list"):
            Vocabulary.from_text("a b").encode(["a"])


def test_text_to_ids_to_vectors_end_to_end() -> None:
    vocab = Vocabulary.from_text(SENTENCE)
    embed = Embedding(len(vocab), 3, rng=0)
    x = embed(vocab.encode(SENTENCE))
    assert x.shape == (6, 3)
    np.testing.assert_array_equal(x, embed.weight[2:8])
