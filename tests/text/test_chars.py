"""Characters as tokens: CharVocabulary round-trips any text made of its characters."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from simple_attention.text.chars import CharVocabulary, as_ids


class TestBuild:
    def test_ids_follow_code_points(self) -> None:
        vocab = CharVocabulary.from_text("the cat\n")
        assert vocab.chars == "\n aceht"
        assert [vocab.char_to_id[ch] for ch in vocab.chars] == list(range(len(vocab)))
        assert len(vocab) == 7

    def test_order_of_the_text_does_not_matter(self) -> None:
        assert CharVocabulary.from_text("zyx").chars == CharVocabulary.from_text("xyz").chars
        assert CharVocabulary.from_text(["ba", "", "cab"]).chars == "abc"

    def test_from_chars(self) -> None:
        vocab = CharVocabulary(["é", "a", "a", "\t"])
        assert vocab.chars == "\taé"
        assert "é" in vocab
        assert "b" not in vocab
        assert repr(vocab) == "CharVocabulary(size=3)"

    def test_empty_text_raises(self) -> None:
        with pytest.raises(ValueError, match="text must hold at least one character"):
            CharVocabulary.from_text("")
        with pytest.raises(ValueError, match="chars must hold at least one character"):
            CharVocabulary([])

    def test_bad_chars_raise(self) -> None:
        with pytest.raises(ValueError, match=r"chars\[1\] must be one character, got 'ab'"):
            CharVocabulary(["a", "ab"])
        with pytest.raises(TypeError, match=r"chars\[0\] must be a str, got 1"):
            CharVocabulary([1])  # type: ignore[list-item]
        with pytest.raises(TypeError, match="chars must be an iterable of str, got int"):
            CharVocabulary(3)  # type: ignore[arg-type]

    def test_bad_text_raises(self) -> None:
        with pytest.raises(TypeError, match=r"text\[1\] must be a str, got 2"):
            CharVocabulary.from_text(["a", 2])  # type: ignore[list-item]
        with pytest.raises(TypeError, match="text must be a str or a sequence of str, got int"):
            CharVocabulary.from_text(5)  # type: ignore[arg-type]


class TestRoundTrip:
    @given(st.text(min_size=1))
    @example("line one\n\tindented\r\nend")
    @example("naïve café — “quoted” … ß")
    @example("東京 नमस्ते 👩‍👩‍👧 \U0001f1eb\U0001f1f7")
    @example("\ud800 lone surrogate")
    def test_decode_inverts_encode(self, text: str) -> None:
        vocab = CharVocabulary.from_text(text)
        ids = vocab.encode(text)
        assert ids.dtype == np.int64
        assert ids.shape == (len(text),)
        assert vocab.decode(ids) == text

    def test_encode_matches_the_dictionary(self) -> None:
        text = "abracadabra, ¡olé!\n"
        vocab = CharVocabulary.from_text(text)
        expected = [vocab.char_to_id[ch] for ch in text]
        np.testing.assert_array_equal(vocab.encode(text), expected)

    def test_empty_text_and_ids(self) -> None:
        vocab = CharVocabulary("ab")
        assert vocab.encode("").shape == (0,)
        assert vocab.encode("").dtype == np.int64
        assert vocab.decode([]) == ""
        assert vocab.decode(np.array([], dtype=np.int64)) == ""


class TestErrors:
    def test_unknown_character_named_with_its_position(self) -> None:
        vocab = CharVocabulary("abc")
        with pytest.raises(ValueError, match=r"text\[3\] = 'é' \(U\+00E9\) is not in the"):
            vocab.encode("abcé")
        # Below the first, between two and past the last known code point.
        for text, position in (("\n", 0), ("ab b", 2), ("az", 1)):
            with pytest.raises(ValueError, match=rf"text\[{position}\]"):
                vocab.encode(text)

    def test_encode_needs_a_str(self) -> None:
        vocab = CharVocabulary("ab")
        with pytest.raises(TypeError, match="text must be a str, got list"):
            vocab.encode(["a", "b"])  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="text must be a str, got bytes"):
            vocab.encode(b"ab")  # type: ignore[arg-type]

    def test_ids_out_of_range(self) -> None:
        vocab = CharVocabulary("ab")
        with pytest.raises(ValueError, match=r"ids must lie in \[0, 2\), got 2 at position 1"):
            vocab.decode([0, 2])
        with pytest.raises(ValueError, match=r"ids must lie in \[0, 2\), got -1"):
            vocab.decode([-1])

    def test_ids_must_be_integers(self) -> None:
        vocab = CharVocabulary("ab")
        with pytest.raises(TypeError, match="ids must hold integers, got dtype float64"):
            vocab.decode([0.0, 1.0])
        with pytest.raises(TypeError, match="ids must hold integers, got dtype bool"):
            vocab.decode([True, False])
        with pytest.raises(TypeError, match="ids must hold integers"):
            vocab.decode("ab")

    def test_ids_must_be_one_dimensional(self) -> None:
        with pytest.raises(ValueError, match=r"ids must be one-dimensional, got shape \(1, 2\)"):
            CharVocabulary("ab").decode([[0, 1]])


class TestAsIds:
    def test_returns_int64(self) -> None:
        ids = as_ids(np.array([0, 2], dtype=np.uint8), "ids", 3)
        assert ids.dtype == np.int64
        np.testing.assert_array_equal(ids, [0, 2])

    def test_names_the_argument(self) -> None:
        with pytest.raises(ValueError, match=r"train_ids must lie in \[0, 3\), got 5"):
            as_ids([5], "train_ids", 3)
