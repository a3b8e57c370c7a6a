"""The corpus: the Python help topics, joined, split into training and held-out text."""

from __future__ import annotations

import sys
import types

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simple_attention.text.chars import CharVocabulary
from simple_attention.training.corpus import (
    CORPUS_SEPARATOR,
    CorpusNotFoundError,
    load_corpus,
    plain_punctuation,
    split_corpus,
)

# A tiny stand-in for pydoc_data.topics, so that these tests never depend on the real one.
TOPICS = {
    "while": "The while statement\n*******************\n\nRepeats while true.\n",
    "assert": "The assert statement\n********************\n\nChecks “a” — or fails…\n",
    "for": "The for statement\n*****************\n\nIterates.\n",
}


@pytest.fixture
def fake_topics(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    module = types.ModuleType("pydoc_data.topics")
    module.topics = dict(TOPICS)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pydoc_data.topics", module)
    return TOPICS


class TestLoadCorpus:
    def test_topics_joined_in_sorted_order(self, fake_topics: dict[str, str]) -> None:
        text = load_corpus()
        assert text == CORPUS_SEPARATOR.join(
            [fake_topics["assert"], fake_topics["for"], fake_topics["while"]]
        )
        assert load_corpus() == text

    def test_plain_punctuation(self, fake_topics: dict[str, str]) -> None:
        text = load_corpus(plain=True)
        assert 'Checks "a" -- or fails...' in text
        assert text.isascii()

    def test_plain_must_be_a_flag(self, fake_topics: dict[str, str]) -> None:
        with pytest.raises(TypeError, match="plain must be True or False, got 'yes'"):
            load_corpus(plain="yes")  # type: ignore[arg-type]

    def test_missing_topics_say_what_to_install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # None in sys.modules makes the import fail, as on a Python without pydoc_data.
        monkeypatch.setitem(sys.modules, "pydoc_data.topics", None)
        with pytest.raises(CorpusNotFoundError, match="pydoc_data.topics") as info:
            load_corpus()
        assert "install the full CPython standard library" in str(info.value)
        assert isinstance(info.value, ImportError)
        assert isinstance(info.value.__cause__, ImportError)

    def test_topics_of_the_wrong_kind(self, monkeypatch: pytest.MonkeyPatch) -> None:
        module = types.ModuleType("pydoc_data.topics")
        module.topics = {"assert": 1}  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "pydoc_data.topics", module)
        with pytest.raises(CorpusNotFoundError, match="not a dict of topic names to texts"):
            load_corpus()

    def test_the_real_corpus_loads(self) -> None:
        pytest.importorskip("pydoc_data.topics", reason="this Python has no pydoc_data")
        text = load_corpus()
        assert len(text) > 100_000
        assert text.startswith('The "assert" statement')
        vocab = CharVocabulary.from_text(text)
        assert vocab.decode(vocab.encode(text)) == text


class TestPlainPunctuation:
    def test_replacements(self) -> None:
        assert (
            plain_punctuation("\u2018a\u2019 \u201cb\u201d c\u2013d e\u2014f g\u2026")
            == "'a' \"b\" c-d e--f g..."
        )

    def test_other_characters_kept(self) -> None:
        assert plain_punctuation("naïve ß °\n\t") == "naïve ß °\n\t"

    def test_needs_a_str(self) -> None:
        with pytest.raises(TypeError, match="text must be a str, got list"):
            plain_punctuation(["a"])  # type: ignore[arg-type]


class TestSplitCorpus:
    def test_held_out_tail_starts_a_line(self) -> None:
        text = "".join(f"line {i}\n" for i in range(10))  # 70 characters
        train, held_out = split_corpus(text, held_out=0.1)
        assert (train, held_out) == (text[:63], "line 9\n")
        train, held_out = split_corpus(text, held_out=0.15)  # 11 characters: back to 56
        assert held_out == "line 8\nline 9\n"

    def test_no_line_break_cuts_at_the_character(self) -> None:
        assert split_corpus("abcdefghij", held_out=0.3) == ("abcdefg", "hij")

    def test_long_last_line_is_not_all_held_out(self) -> None:
        text = "a\n" + "b" * 98
        _train, held_out = split_corpus(text, held_out=0.1)
        assert len(held_out) == 10

    def test_tiny_texts(self) -> None:
        assert split_corpus("ab", held_out=0.01) == ("a", "b")
        assert split_corpus("ab", held_out=0.99) == ("a", "b")

    @given(st.text(min_size=2), st.floats(0.01, 0.99))
    def test_parts_make_the_text(self, text: str, held_out: float) -> None:
        train, rest = split_corpus(text, held_out=held_out)
        assert train + rest == text
        assert train
        assert rest
        assert split_corpus(text, held_out=held_out) == (train, rest)

    @pytest.mark.parametrize("held_out", [0, 1, -0.1, 1.5, float("nan")])
    def test_held_out_must_be_a_fraction(self, held_out: float) -> None:
        with pytest.raises(ValueError, match=r"held_out must lie in \(0, 1\)"):
            split_corpus("abcdef", held_out=held_out)

    def test_held_out_must_be_a_number(self) -> None:
        with pytest.raises(TypeError, match="held_out must be a real number, got True"):
            split_corpus("abcdef", held_out=True)
        with pytest.raises(TypeError, match="held_out must be a real number, got '0.1'"):
            split_corpus("abcdef", held_out="0.1")

    def test_text_too_short(self) -> None:
        with pytest.raises(
            ValueError,
            match=r"at least two characters \(one to train on, one to hold out\), got 1",
        ):
            split_corpus("a")

    def test_text_must_be_a_str(self) -> None:
        with pytest.raises(TypeError, match="text must be a str, got list"):
            split_corpus(["a", "b"])  # type: ignore[arg-type]
