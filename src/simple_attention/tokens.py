"""Step 1 of the pipeline: turning text (or nothing at all) into token ids.

The seed notebook skipped tokenisation and drew random ids; :func:`sample_tokens` does the same.
:class:`Vocabulary` goes one step further and splits real text into words, so that a sentence
can travel through the whole pipeline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from ._validation import as_rng, check_positive_int

__all__ = ["PAD", "UNK", "Vocabulary", "sample_tokens", "tokenize"]

#: The token that stands for padding; it always has id 0.
PAD = "<pad>"
#: The token that stands for any word the vocabulary has not seen; it always has id 1.
UNK = "<unk>"

# Words (letters, digits, apostrophes inside words) or single punctuation marks.
_TOKEN_PATTERN = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


def sample_tokens(
    n_tokens: int, vocab_size: int = 100, *, rng: int | np.random.Generator | None = None
) -> np.ndarray:
    """Draw random token ids, standing in for a tokenised sentence.

    Parameters
    ----------
    n_tokens : int
        How many tokens to draw (``>= 0``).
    vocab_size : int, default 100
        Ids are drawn uniformly from ``[0, vocab_size)``.
    rng : None, int or numpy.random.Generator, optional
        Source of randomness; the same seed gives the same ids.

    Returns
    -------
    ndarray of int64, shape (n_tokens,)
        The token ids.

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
    return as_rng(rng).integers(0, vocab_size, size=n_tokens, dtype=np.int64)


def tokenize(text: str) -> list[str]:
    """Split ``text`` into lower-case words and punctuation marks.

    This is the simplest tokeniser that works on real sentences: no sub-words, no byte pairs.

    Parameters
    ----------
    text : str
        The text to split.

    Returns
    -------
    list of str
        The tokens, in order.

    Examples
    --------
    >>> from simple_attention import tokenize
    >>> tokenize("Your journey starts with one step.")
    ['your', 'journey', 'starts', 'with', 'one', 'step', '.']
    >>> tokenize("It's   two  words, isn't it?")
    ["it's", 'two', 'words', ',', "isn't", 'it', '?']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _TOKEN_PATTERN.findall(text.lower())


class Vocabulary:
    """A word-level vocabulary: maps tokens to integer ids and back.

    Id 0 is reserved for padding (:data:`PAD`) and id 1 for unknown words (:data:`UNK`); the
    words follow in the order they were given, each once.

    Parameters
    ----------
    tokens : iterable of str
        The words to know. Repeats are ignored.

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
        self.tokens: list[str] = [PAD, UNK]
        self.token_to_id: dict[str, int] = {PAD: 0, UNK: 1}
        for token in tokens:
            if not isinstance(token, str):
                raise TypeError(f"tokens must be strings, got {token!r}")
            if token not in self.token_to_id:
                self.token_to_id[token] = len(self.tokens)
                self.tokens.append(token)

    @classmethod
    def from_text(cls, text: str | Sequence[str]) -> Vocabulary:
        """Build a vocabulary from one text, or a sequence of texts, split by :func:`tokenize`.

        Examples
        --------
        >>> from simple_attention import Vocabulary
        >>> Vocabulary.from_text(["a cat", "a dog"]).tokens
        ['<pad>', '<unk>', 'a', 'cat', 'dog']
        """
        texts = [text] if isinstance(text, str) else list(text)
        return cls(token for t in texts for token in tokenize(t))

    def __len__(self) -> int:
        return len(self.tokens)

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)})"

    def encode(self, text: str) -> np.ndarray:
        """Turn ``text`` into an array of token ids; unknown words get :attr:`unk_id`.

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
        return pad_batch([self.encode(text) for text in texts], pad_id=self.pad_id)

    def decode(self, ids: npt.ArrayLike) -> str:
        """Turn token ids back into text (tokens joined by spaces, padding dropped).

        Examples
        --------
        >>> from simple_attention import Vocabulary
        >>> Vocabulary.from_text("one step").decode([3, 2, 0, 0])
        'step one'
        """
        arr = np.asarray(ids)
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"ids must be integers, got dtype {arr.dtype}")
        if arr.ndim != 1:
            raise ValueError(f"ids must be one-dimensional, got shape {arr.shape}")
        if arr.size and (arr.min() < 0 or arr.max() >= len(self)):
            raise ValueError(f"ids must lie in [0, {len(self)}), got values up to {arr.max()}")
        return " ".join(self.tokens[i] for i in arr.tolist() if i != self.pad_id)
