"""Step 1 of the pipeline: turning text (or nothing at all) into token ids.

The seed notebook skipped tokenisation and drew random ids; :func:`sample_tokens` does the same.
:class:`Vocabulary` goes one step further and splits real text into words, so that a sentence
can travel through the whole pipeline.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import numpy.typing as npt

from .._validation import as_rng, check_positive_int
from .chars import as_ids

__all__ = ["PAD", "UNK", "Vocabulary", "sample_tokens", "tokenize"]

#: The token that stands for padding; it always has id 0.
PAD = "<pad>"
#: The token that stands for any word the vocabulary has not seen; it always has id 1.
UNK = "<unk>"

# Ids are int64, so the largest id is 2**63 - 1.
_MAX_VOCAB_SIZE = 2**63

# Zero-width joiner and non-joiner: they shape the letters on either side (Persian, Indic
# scripts) or glue an emoji sequence, so they stay inside a token, never alone.
_JOINERS = frozenset("\u200c\u200d")
_ZERO_WIDTH_JOINER = "\u200d"
# Invisible, but separates words in scripts written without spaces (Thai, Khmer).
_ZERO_WIDTH_SPACE = "\u200b"
# Between two letters these keep one word: isn't, isn’t, Hebrew geresh and gershayim.
_APOSTROPHES = frozenset("'\u2019\u05f3\u05f4")
# Between two digits these keep one number: 3.14, 1,000, Arabic ٣٫١٤.
_NUMBER_SEPARATORS = frozenset(".,\u066b\u066c")
# The rules of _split for ASCII text (no marks, joiners or ideographs), ten times faster.
_ASCII_TOKEN = re.compile(r"\w+(?:(?:'|(?<=\d)[.,](?=\d))\w+)*|[^\w\s]")
_IDEOGRAPH_NAMES = ("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH")
# Ideographs with other names: the iteration mark and the ideographic zero.
_OTHER_IDEOGRAPHS = frozenset("\u3005\u3007")


def _is_word_char(ch: str) -> bool:
    # Exactly what ``\w`` matches in a str pattern, so that English splits as it always did.
    return ch.isalnum() or ch == "_"


def _is_mark(ch: str) -> bool:
    # Combining marks (accents, vowel signs, viramas, variation selectors) modify the
    # character before them: splitting them off breaks the word.
    return unicodedata.category(ch)[0] == "M"


def _is_ideograph(ch: str) -> bool:
    # Chinese and Japanese write words without spaces and splitting them needs a dictionary;
    # one ideograph per token is the usual dictionary-free choice.
    return ch >= "\u2e80" and (
        ch in _OTHER_IDEOGRAPHS or unicodedata.name(ch, "").startswith(_IDEOGRAPH_NAMES)
    )


def _is_letter_char(ch: str) -> bool:
    """A character that continues a word: a word character other than an ideograph."""
    return _is_word_char(ch) and not _is_ideograph(ch)


def _is_regional_indicator(ch: str) -> bool:
    # Two regional indicators make one flag.
    return "\U0001f1e6" <= ch <= "\U0001f1ff"


def _is_symbol_modifier(ch: str) -> bool:
    # Marks, and the emoji skin tones, which are symbols of their own in Unicode.
    return _is_mark(ch) or "\U0001f3fb" <= ch <= "\U0001f3ff"


def _starts_symbol(ch: str) -> bool:
    return not (ch.isspace() or _is_word_char(ch) or _is_mark(ch) or ch in _JOINERS)


def _normalise(text: str) -> str:
    """``text`` as :func:`tokenize` reads it: visible characters only, composed, lower case."""
    if text.isascii():
        return text.lower()
    # Invisible formatting characters (byte-order mark, soft hyphen, direction marks) would
    # otherwise split words or become tokens; the joiners and the zero-width space matter.
    text = "".join(
        ch
        for ch in text
        if ch in _JOINERS or ch == _ZERO_WIDTH_SPACE or unicodedata.category(ch) != "Cf"
    )
    # NFC first, so that a decomposed "I" + combining dot is the "İ" replaced next. Python
    # lower-cases "İ" to "i" + combining dot; in Turkish and Azerbaijani, the only languages
    # that write it, it is a plain "i".
    text = unicodedata.normalize("NFC", text).replace("\u0130", "i").lower()
    return unicodedata.normalize("NFC", text)


def _split(text: str) -> list[str]:
    """Split normalised text into words, numbers, ideographs and symbols."""
    if text.isascii():
        return _ASCII_TOKEN.findall(text)
    tokens = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace() or ch == _ZERO_WIDTH_SPACE or ch in _JOINERS:
            i += 1  # a joiner with nothing to join on one side is dropped
            continue
        j = i + 1
        if _is_ideograph(ch):
            j = _skip(text, j, _is_mark)
        elif _is_word_char(ch):
            while j < n:
                if _is_letter_char(text[j]) or _is_mark(text[j]):
                    j += 1
                elif j + 1 < n and _is_letter_char(text[j + 1]) and _joins_word(text, j):
                    j += 2
                else:
                    break
        else:  # punctuation, a symbol or an emoji, with what modifies it
            if _is_regional_indicator(ch) and j < n and _is_regional_indicator(text[j]):
                j += 1
            j = _skip(text, j, _is_symbol_modifier)
            while j + 1 < n and text[j] == _ZERO_WIDTH_JOINER and _starts_symbol(text[j + 1]):
                j = _skip(text, j + 2, _is_symbol_modifier)
        tokens.append(text[i:j])
        i = j
    return tokens


def _skip(text: str, j: int, keep: Callable[[str], bool]) -> int:
    while j < len(text) and keep(text[j]):
        j += 1
    return j


def _joins_word(text: str, j: int) -> bool:
    """Whether ``text[j]``, between two letters or digits, keeps them in one token."""
    ch = text[j]
    if ch in _JOINERS or ch in _APOSTROPHES:
        return True
    return ch in _NUMBER_SEPARATORS and text[j - 1].isdecimal() and text[j + 1].isdecimal()


def sample_tokens(
    n_tokens: int, vocab_size: int = 100, *, rng: int | np.random.Generator | None = None
) -> np.ndarray:
    """Draw random token ids, standing in for a tokenised sentence.

    Parameters
    ----------
    n_tokens : int
        How many tokens to draw (``>= 0``).
    vocab_size : int, default 100
        Ids are drawn uniformly from ``[0, vocab_size)``; at most ``2**63``, since ids are
        int64.
    rng : None, int or numpy.random.Generator, optional
        Source of randomness; the same seed gives the same ids. A seed is a non-negative int.

    Returns
    -------
    ndarray of int64, shape (n_tokens,)
        The token ids.

    Raises
    ------
    TypeError
        If ``n_tokens`` or ``vocab_size`` is not an integer, or ``rng`` is not None, an int or
        a Generator (a bool is not a seed).
    ValueError
        If ``n_tokens`` is negative, ``vocab_size`` is not in ``[1, 2**63]``, or the seed is
        negative.

    Examples
    --------
    >>> from simple_attention import sample_tokens
    >>> sample_tokens(4, rng=0)
    array([85, 63, 51, 26])
    >>> sample_tokens(6, vocab_size=3, rng=1)
    array([1, 1, 2, 2, 0, 0])
    """
    n_tokens = check_positive_int(n_tokens, "n_tokens", allow_zero=True)
    vocab_size = check_positive_int(vocab_size, "vocab_size")
    if vocab_size > _MAX_VOCAB_SIZE:
        raise ValueError(f"vocab_size must be at most 2**63 (ids are int64), got {vocab_size}")
    return as_rng(rng).integers(0, vocab_size, size=n_tokens, dtype=np.int64)


def tokenize(text: str) -> list[str]:
    """Split ``text`` into lower-case words, numbers and punctuation marks.

    This is the simplest tokeniser that works on real sentences: no sub-words, no byte pairs.
    The rules, in order:

    * the text is read in Unicode normal form NFC and lower-cased, so that a decomposed
      ``"café"`` (``e`` + combining accent) gives the same token as a composed one. The
      Turkish dotted capital ``"İ"`` becomes a plain ``"i"`` (Python alone would give ``"i"``
      plus a combining dot); the plain capital ``"I"`` becomes ``"i"`` as in English, not the
      Turkish ``"ı"``, since the language of the text is not known. Invisible formatting
      characters (byte-order mark, soft hyphen, direction marks) are dropped;
    * a word is a run of letters, digits, underscores and combining marks (accents, vowel
      signs, viramas), in any script. An apostrophe (``'`` or ``’``, and the Hebrew geresh and
      gershayim) between two letters stays inside the word, and so does a zero-width joiner or
      non-joiner; a ``.`` or ``,`` between two digits stays inside the number (``"3.14"``);
    * every Chinese or Japanese ideograph is a token of its own: those scripts put no spaces
      between words, and finding the words needs a dictionary. For the same reason, runs of
      Japanese kana, Thai, Lao, Khmer or Burmese split only at spaces, zero-width spaces and
      punctuation;
    * every other character that is not a space is a token of its own (punctuation, symbols),
      together with what modifies it: combining marks, emoji skin tones and variation
      selectors, the second half of a flag, emoji joined by a zero-width joiner.

    Each token splits into itself again, so ``Vocabulary.from_text(text).encode(text)`` knows
    every token of ``text``.

    Parameters
    ----------
    text : str
        The text to split.

    Returns
    -------
    list of str
        The tokens, in order.

    Raises
    ------
    TypeError
        If ``text`` is not a ``str``.

    Examples
    --------
    >>> from simple_attention import tokenize
    >>> tokenize("Your journey starts with one step.")
    ['your', 'journey', 'starts', 'with', 'one', 'step', '.']
    >>> tokenize("It's   two  words, isn't it?")
    ["it's", 'two', 'words', ',', "isn't", 'it', '?']
    >>> tokenize("नमस्ते, İstanbul! 東京")
    ['नमस्ते', ',', 'istanbul', '!', '東', '京']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _split(_normalise(text))


class Vocabulary:
    """A word-level vocabulary: maps tokens to integer ids and back.

    Id 0 is reserved for padding (:data:`PAD`) and id 1 for unknown words (:data:`UNK`); the
    words follow in the order they were given, each once.

    Parameters
    ----------
    tokens : iterable of str
        The words to know, each one token as :func:`tokenize` splits text. They are normalised
        as :func:`tokenize` normalises text (NFC, lower case), so that :meth:`encode` finds
        them: ``Vocabulary(["Hello"])`` knows ``"hello"``. Repeats are ignored, and so are
        :data:`PAD` and :data:`UNK`, which every vocabulary has. To split a text into its
        tokens, use :meth:`from_text`.

    Attributes
    ----------
    tokens : list of str
        Every token, indexed by its id.
    token_to_id : dict of str to int
        The inverse of ``tokens``.
    pad_id : int
        The id of :data:`PAD`, always 0.
    unk_id : int
        The id of :data:`UNK`, always 1; :meth:`encode` gives it to every unknown word.

    Raises
    ------
    TypeError
        If ``tokens`` is a single ``str`` (it would be a vocabulary of its characters) or not
        an iterable of ``str``.
    ValueError
        If a token is not one token: :func:`tokenize` would split it (``"new york"``,
        ``"<bos>"``, ``" a"``) or drop it (``""``), so :meth:`encode` could never give its id.

    See Also
    --------
    tokenize : how text is split into tokens.

    Examples
    --------
    >>> from simple_attention import Vocabulary
    >>> vocab = Vocabulary.from_text("Your journey starts with one step")
    >>> len(vocab)
    8
    >>> ids = vocab.encode("your first step")
    >>> ids
    array([2, 1, 7])
    >>> vocab.decode(ids)
    'your <unk> step'
    """

    pad_id: int = 0
    unk_id: int = 1

    def __init__(self, tokens: Iterable[str]) -> None:
        if isinstance(tokens, str):
            raise TypeError(
                "tokens must be an iterable of str, not one str (that would make a vocabulary "
                "of its characters); to split a text into tokens use Vocabulary.from_text(text)"
            )
        if not isinstance(tokens, Iterable):
            raise TypeError(f"tokens must be an iterable of str, got {type(tokens).__name__}")
        words: list[str] = [PAD, UNK]
        token_to_id: dict[str, int] = {PAD: 0, UNK: 1}
        for position, token in enumerate(tokens):
            if not isinstance(token, str):
                raise TypeError(f"tokens[{position}] must be a str, got {token!r}")
            if token in (PAD, UNK):
                continue
            word = _normalise(token)
            split = _split(word)
            if split != [word]:
                raise ValueError(
                    f"tokens[{position}] = {token!r} is not one token: tokenize() splits it "
                    f"into {split}, so encode() could never give its id"
                )
            if word not in token_to_id:
                token_to_id[word] = len(words)
                words.append(word)
        self.tokens: list[str] = words
        self.token_to_id: dict[str, int] = token_to_id

    @classmethod
    def from_text(cls, text: str | Sequence[str]) -> Vocabulary:
        """Build a vocabulary from one text, or a sequence of texts, split by :func:`tokenize`.

        Raises
        ------
        TypeError
            If ``text`` is neither a ``str`` nor a sequence of ``str``.

        Examples
        --------
        >>> from simple_attention import Vocabulary
        >>> Vocabulary.from_text(["a cat", "a dog"]).tokens
        ['<pad>', '<unk>', 'a', 'cat', 'dog']
        """
        if isinstance(text, str):
            return cls(tokenize(text))
        if not isinstance(text, Iterable):
            raise TypeError(f"text must be a str or a sequence of str, got {type(text).__name__}")
        texts = _check_texts(text, "text")
        return cls(token for t in texts for token in tokenize(t))

    def __len__(self) -> int:
        return len(self.tokens)

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)})"

    def encode(self, text: str) -> np.ndarray:
        """Turn ``text`` into an array of token ids; unknown words get :attr:`unk_id`.

        The text is split by :func:`tokenize`, so case and Unicode normal form do not matter.

        Returns
        -------
        ndarray of int64, shape (n_tokens,)

        Raises
        ------
        TypeError
            If ``text`` is not a ``str``.

        Examples
        --------
        >>> from simple_attention import Vocabulary
        >>> Vocabulary.from_text("one step").encode("One more step")
        array([2, 1, 3])
        """
        ids = [self.token_to_id.get(token, self.unk_id) for token in tokenize(text)]
        return np.array(ids, dtype=np.int64)

    def encode_batch(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Encode several texts into one padded id array and the mask of real tokens.

        Short texts are filled up with ``pad_id`` (the id of ``<pad>``, 0) to the length of the
        longest; see :func:`~simple_attention.pad_batch`.

        Returns
        -------
        ids : ndarray of int64, shape (B, T)
        keep : ndarray of bool, shape (B, T)
            ``True`` at the real tokens.

        Raises
        ------
        TypeError
            If ``texts`` is a single ``str`` (use :meth:`encode`) or not a sequence of ``str``.

        Examples
        --------
        >>> from simple_attention import Vocabulary
        >>> vocab = Vocabulary.from_text("one small step")
        >>> ids, keep = vocab.encode_batch(["one step", "one small step"])
        >>> ids
        array([[2, 4, 0],
               [2, 3, 4]])
        >>> keep
        array([[ True,  True, False],
               [ True,  True,  True]])
        """
        from .padding import pad_batch  # padding builds on tokens, not the other way round

        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of str; for one text use encode()")
        if not isinstance(texts, Iterable):
            raise TypeError(f"texts must be a sequence of str, got {type(texts).__name__}")
        return pad_batch(
            [self.encode(text) for text in _check_texts(texts, "texts")], pad_id=self.pad_id
        )

    def decode(self, ids: npt.ArrayLike) -> str:
        """Turn token ids back into text (tokens joined by spaces, padding dropped).

        Parameters
        ----------
        ids : array_like of int, shape (n_tokens,)
            Ids in ``[0, len(self))``.

        Raises
        ------
        TypeError
            If ``ids`` does not hold integers (booleans are not ids).
        ValueError
            If ``ids`` is not one-dimensional or holds an id outside ``[0, len(self))``.

        Examples
        --------
        >>> from simple_attention import Vocabulary
        >>> Vocabulary.from_text("one step").decode([3, 2, 0, 0])
        'step one'
        """
        arr = as_ids(ids, "ids", len(self))
        return " ".join(self.tokens[i] for i in arr.tolist() if i != self.pad_id)


def _check_texts(texts: Iterable[object], name: str) -> list[str]:
    """``texts`` as a list, after checking that each one is a ``str``."""
    checked = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{name}[{i}] must be a str, got {text!r}")
        checked.append(text)
    return checked
