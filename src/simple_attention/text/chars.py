"""Characters as tokens: the vocabulary of a character-level language model.

A word vocabulary (:class:`~simple_attention.Vocabulary`) lower-cases text and maps unknown
words to ``<unk>``, so it cannot give the text back. A character vocabulary can: every distinct
character of the text gets an id, and ``decode(encode(text)) == text`` exactly, newlines, tabs
and non-ASCII characters included. There is no ``<unk>``: a character the vocabulary has not
seen raises, naming it and its position, rather than being silently replaced. There is no
``<pad>`` either: a character model reads fixed-length windows of one long text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

# as_ids is shared with training.baselines but internal: not in __all__, no API page.
__all__ = ["CharVocabulary"]


def _code_points(text: str) -> np.ndarray:
    """The code points of ``text``, shape (len(text),), as uint32."""
    # UTF-32 is one 4-byte unit per character; surrogatepass keeps lone surrogates, which a
    # Python str may hold, instead of failing on them.
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def as_ids(ids: npt.ArrayLike, name: str, size: int) -> np.ndarray:
    """``ids`` as a one-dimensional int64 array of ids in ``[0, size)``, or raise.

    Shared by both vocabularies and the character baselines; not part of the public
    API of :mod:`simple_attention`.

    Raises
    ------
    TypeError
        If ``ids`` does not hold integers (booleans are not ids).
    ValueError
        If ``ids`` is not one-dimensional or holds an id outside ``[0, size)``.

    Examples
    --------
    >>> from simple_attention.text.chars import as_ids
    >>> as_ids([2, 0], "ids", 3)
    array([2, 0])
    >>> as_ids([0, 3], "ids", 3)
    Traceback (most recent call last):
    ...
    ValueError: ids must lie in [0, 3), got 3 at position 1
    """
    arr = np.asarray(ids)
    # An empty list is float64 to NumPy; it holds no non-integer.
    if arr.dtype == np.bool_ or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size:
        outside = (arr < 0) | (arr >= size)
        if outside.any():
            position = int(np.flatnonzero(outside)[0])
            raise ValueError(
                f"{name} must lie in [0, {size}), got {arr[position]} at position {position}"
            )
    return arr.astype(np.int64)


class CharVocabulary:
    """A character-level vocabulary: every distinct character gets an id.

    The ids follow the characters sorted by code point, so the same set of characters always
    gives the same ids, whatever order they came in.

    Parameters
    ----------
    chars : iterable of str
        The characters to know, each a ``str`` of length one; repeats are ignored. A ``str`` is
        an iterable of its characters, so ``CharVocabulary("hello")`` knows ``"ehlo"``.

    Attributes
    ----------
    chars : str
        Every character, indexed by its id (sorted by code point).
    char_to_id : dict of str to int
        The inverse of ``chars``.

    Raises
    ------
    TypeError
        If ``chars`` is not an iterable of ``str``.
    ValueError
        If an item is not exactly one character, or there are no characters at all.

    Examples
    --------
    >>> from simple_attention.text.chars import CharVocabulary
    >>> vocab = CharVocabulary.from_text("hello, world\\n")
    >>> len(vocab)
    10
    >>> vocab.chars
    '\\n ,dehlorw'
    >>> ids = vocab.encode("hold")
    >>> ids
    array([5, 7, 6, 3])
    >>> vocab.decode(ids)
    'hold'
    """

    def __init__(self, chars: Iterable[str]) -> None:
        if not isinstance(chars, Iterable):
            raise TypeError(f"chars must be an iterable of str, got {type(chars).__name__}")
        seen: set[str] = set()
        for position, ch in enumerate(chars):
            if not isinstance(ch, str):
                raise TypeError(f"chars[{position}] must be a str, got {ch!r}")
            if len(ch) != 1:
                raise ValueError(f"chars[{position}] must be one character, got {ch!r}")
            seen.add(ch)
        if not seen:
            raise ValueError("chars must hold at least one character")
        self.chars: str = "".join(sorted(seen))
        self.char_to_id: dict[str, int] = {ch: i for i, ch in enumerate(self.chars)}
        # Sorted code points: encode finds ids by binary search, decode indexes them.
        self._codes = _code_points(self.chars)

    @classmethod
    def from_text(cls, text: str | Sequence[str]) -> CharVocabulary:
        """Build the vocabulary of every character in one text, or in a sequence of texts.

        Raises
        ------
        TypeError
            If ``text`` is neither a ``str`` nor a sequence of ``str``.
        ValueError
            If the text is empty (a vocabulary needs at least one character).

        Examples
        --------
        >>> from simple_attention.text.chars import CharVocabulary
        >>> CharVocabulary.from_text(["ba", "cab"]).chars
        'abc'
        """
        chars: set[str] = set()
        if isinstance(text, str):
            chars.update(text)
        elif isinstance(text, Iterable):
            for i, t in enumerate(text):
                if not isinstance(t, str):
                    raise TypeError(f"text[{i}] must be a str, got {t!r}")
                chars.update(t)
        else:
            raise TypeError(f"text must be a str or a sequence of str, got {type(text).__name__}")
        if not chars:
            raise ValueError("text must hold at least one character")
        return cls(chars)

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, ch: object) -> bool:
        return ch in self.char_to_id

    def __repr__(self) -> str:
        return f"CharVocabulary(size={len(self)})"

    def encode(self, text: str) -> np.ndarray:
        """Turn ``text`` into the ids of its characters, one id per character.

        Parameters
        ----------
        text : str
            Text made of characters the vocabulary knows.

        Returns
        -------
        ndarray of int64, shape (len(text),)

        Raises
        ------
        TypeError
            If ``text`` is not a ``str``.
        ValueError
            If ``text`` holds a character the vocabulary does not know; the message names the
            first one and its position.

        Examples
        --------
        >>> from simple_attention.text.chars import CharVocabulary
        >>> vocab = CharVocabulary("ab")
        >>> vocab.encode("abba")
        array([0, 1, 1, 0])
        >>> vocab.encode("abc")
        Traceback (most recent call last):
        ...
        ValueError: text[2] = 'c' (U+0063) is not in the vocabulary of 2 characters
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        codes = _code_points(text)
        ids = np.searchsorted(self._codes, codes)
        # An unknown code point lands between two known ones (or past the last).
        found = self._codes[np.minimum(ids, len(self) - 1)] == codes
        if not found.all():
            position = int(np.flatnonzero(~found)[0])
            ch = text[position]
            raise ValueError(
                f"text[{position}] = {ch!r} (U+{ord(ch):04X}) is not in the vocabulary of "
                f"{len(self)} characters"
            )
        return ids.astype(np.int64)

    def decode(self, ids: npt.ArrayLike) -> str:
        """Turn character ids back into text; ``decode(encode(text)) == text``.

        Parameters
        ----------
        ids : array_like of int, shape (n_chars,)
            Ids in ``[0, len(self))``.

        Raises
        ------
        TypeError
            If ``ids`` does not hold integers (booleans are not ids).
        ValueError
            If ``ids`` is not one-dimensional or holds an id outside ``[0, len(self))``.

        Examples
        --------
        >>> from simple_attention.text.chars import CharVocabulary
        >>> CharVocabulary("ab").decode([1, 0, 1])
        'bab'
        """
        arr = as_ids(ids, "ids", len(self))
        return self._codes[arr].astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")
