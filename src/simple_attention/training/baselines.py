"""Counting baselines for a character-level language model: unigram and bigram.

Before a model with attention is worth its training, it has to beat counting. Both baselines
are fitted by counting the ids of a training text and scored on held-out ids in **nats per
character**: the mean negative log-likelihood, with the natural logarithm,

.. math::

    \\text{nats} = -\\frac{1}{n} \\sum_{t=0}^{n-1} \\log p(x_t \\mid x_{<t}).

Uniform guessing among ``n_vocab`` characters scores :math:`\\log n_\\text{vocab}`; dividing by
:math:`\\log 2` gives bits per character.

Counts are smoothed by adding :math:`\\alpha > 0` to every count (Laplace smoothing for
:math:`\\alpha = 1`), so that a character or a pair never seen in training keeps a positive
probability and the held-out score stays finite. With ``N`` training characters, ``c(a)`` the
count of character ``a`` and ``c(a, b)`` the count of ``a`` followed by ``b``:

.. math::

    p(a) = \\frac{c(a) + \\alpha}{N + \\alpha\\, n_\\text{vocab}}, \\qquad
    p(b \\mid a) = \\frac{c(a, b) + \\alpha}{\\sum_{b'} c(a, b') + \\alpha\\, n_\\text{vocab}}.

The bigram model has no previous character for the first one of a text; it scores that one with its
unigram probability :math:`p(x_0)`, so that both models score the same ``n`` characters. The bigram
table has ``n_vocab * n_vocab`` entries: it is meant for characters (``n_vocab`` in the hundreds),
not for word vocabularies.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .._validation import as_rng, check_positive_int, check_real
from ..text.chars import as_ids

__all__ = ["BigramModel", "UnigramModel", "bigram_nats", "unigram_nats"]


def _check_alpha(alpha: Any) -> float:
    return check_real(alpha, "alpha", low=0.0, low_open=True)


def _nonempty_ids(ids: npt.ArrayLike, name: str, vocab_size: int) -> np.ndarray:
    arr = as_ids(ids, name, vocab_size)
    if arr.size == 0:
        raise ValueError(f"{name} must hold at least one id, got none")
    return arr


def _draw(cdf: np.ndarray, u: float | np.ndarray) -> Any:
    # Inverse-CDF sampling; the clip guards against u above a last cumsum a hair below 1.
    return np.minimum(np.searchsorted(cdf, u, side="right"), cdf.shape[-1] - 1)


class UnigramModel:
    """Character frequencies: p(a) = (c(a) + α) / (N + αV).

    Build one with :meth:`fit`.

    Attributes
    ----------
    log_probs : ndarray of float64, shape (vocab_size,)
        :math:`\\log p(a)` for every id ``a``.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention.training.baselines import UnigramModel
    >>> model = UnigramModel.fit([0, 0, 0, 1], vocab_size=2, alpha=1.0)
    >>> np.exp(model.log_probs)
    array([0.66666667, 0.33333333])
    >>> round(model.nll([0, 1]), 4)  # -(log 2/3 + log 1/3) / 2
    0.752
    """

    def __init__(self, log_probs: np.ndarray) -> None:
        self.log_probs = log_probs  # (n_vocab,)

    @property
    def vocab_size(self) -> int:
        return int(self.log_probs.shape[0])

    @classmethod
    def fit(cls, ids: npt.ArrayLike, vocab_size: int, *, alpha: float = 1.0) -> UnigramModel:
        """Count the ids of a training text, smoothed by ``alpha``.

        Parameters
        ----------
        ids : array_like of int, shape (N,)
            The training text as ids in ``[0, vocab_size)``; at least one.
        vocab_size : int
            ``n_vocab``, the number of distinct ids.
        alpha : float, default 1.0
            Added to every count; positive.

        Raises
        ------
        TypeError
            If ``ids`` does not hold integers, or ``vocab_size`` or ``alpha`` is not a number.
        ValueError
            If ``ids`` is empty, not one-dimensional or outside ``[0, vocab_size)``, or
            ``alpha`` is not positive and finite.
        """
        vocab_size = check_positive_int(vocab_size, "vocab_size")
        alpha = _check_alpha(alpha)
        x = _nonempty_ids(ids, "ids", vocab_size)
        counts = np.bincount(x, minlength=vocab_size).astype(np.float64)
        return cls(np.log(counts + alpha) - np.log(x.size + alpha * vocab_size))

    def nll(self, ids: npt.ArrayLike) -> float:
        """Mean negative log-likelihood of ``ids``, in nats per character.

        Raises
        ------
        TypeError
            If ``ids`` does not hold integers.
        ValueError
            If ``ids`` is empty, not one-dimensional or outside ``[0, vocab_size)``.
        """
        x = _nonempty_ids(ids, "ids", self.vocab_size)
        return float(-self.log_probs[x].mean())

    def sample(self, n: int, *, rng: int | np.random.Generator | None = None) -> np.ndarray:
        """Draw ``n`` independent ids from :math:`p`.

        Returns
        -------
        ndarray of int64, shape (n,)

        Examples
        --------
        >>> from simple_attention.training.baselines import UnigramModel
        >>> UnigramModel.fit([1, 1, 1], vocab_size=2, alpha=1e-9).sample(5, rng=0)
        array([1, 1, 1, 1, 1])
        """
        n = check_positive_int(n, "n", allow_zero=True)
        generator = as_rng(rng)
        cdf = np.cumsum(np.exp(self.log_probs))
        return np.asarray(_draw(cdf, generator.random(n)), dtype=np.int64)


class BigramModel:
    """Next-character frequencies given the previous character, smoothed by ``alpha``.

    :math:`p(b \\mid a) = (c(a, b) + \\alpha) / (\\sum_{b'} c(a, b') + \\alpha n_\\text{vocab})`;
    the first character of a text is scored (and drawn) by the unigram model of the same text.

    Build one with :meth:`fit`.

    Attributes
    ----------
    log_probs : ndarray of float64, shape (vocab_size, vocab_size)
        ``log_probs[a, b]`` is :math:`\\log p(b \\mid a)`; every row sums to one in
        probability.
    unigram : UnigramModel
        The model of the first character.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention.training.baselines import BigramModel
    >>> model = BigramModel.fit([0, 1, 0, 1, 0], vocab_size=2, alpha=1.0)
    >>> np.exp(model.log_probs)  # 0 -> 1 twice, 1 -> 0 twice
    array([[0.25, 0.75],
           [0.75, 0.25]])
    >>> strict = BigramModel.fit([0, 1] * 5, vocab_size=2, alpha=1e-9)  # 0 -> 1 -> 0 ...
    >>> strict.sample(6, start=1, rng=0)
    array([1, 0, 1, 0, 1, 0])
    """

    def __init__(self, log_probs: np.ndarray, unigram: UnigramModel) -> None:
        self.log_probs = log_probs  # (n_vocab, n_vocab): previous id, next id
        self.unigram = unigram

    @property
    def vocab_size(self) -> int:
        return int(self.log_probs.shape[0])

    @classmethod
    def fit(cls, ids: npt.ArrayLike, vocab_size: int, *, alpha: float = 1.0) -> BigramModel:
        """Count the pairs of neighbouring ids of a training text, smoothed by ``alpha``.

        Parameters and errors are those of :meth:`UnigramModel.fit`. A text of one id has no
        pairs: every row is then uniform.
        """
        vocab_size = check_positive_int(vocab_size, "vocab_size")
        alpha = _check_alpha(alpha)
        x = _nonempty_ids(ids, "ids", vocab_size)
        # c(a, b) for every pair: count the flat index a * vocab_size + b.
        pairs = np.bincount(x[:-1] * vocab_size + x[1:], minlength=vocab_size * vocab_size)
        counts = pairs.reshape(vocab_size, vocab_size).astype(np.float64)  # (n_vocab, n_vocab)
        totals = counts.sum(axis=1, keepdims=True)  # (n_vocab, 1): c(a, ·)
        log_probs = np.log(counts + alpha) - np.log(totals + alpha * vocab_size)
        return cls(log_probs, UnigramModel.fit(x, vocab_size, alpha=alpha))

    def nll(self, ids: npt.ArrayLike) -> float:
        """Mean negative log-likelihood of ``ids``, in nats per character.

        The first id is scored by :attr:`unigram`, every other one given the id before it.

        Raises
        ------
        TypeError
            If ``ids`` does not hold integers.
        ValueError
            If ``ids`` is empty, not one-dimensional or outside ``[0, vocab_size)``.
        """
        x = _nonempty_ids(ids, "ids", self.vocab_size)
        total = self.unigram.log_probs[x[0]] + self.log_probs[x[:-1], x[1:]].sum()
        return float(-total / x.size)

    def sample(
        self, n: int, *, start: int | None = None, rng: int | np.random.Generator | None = None
    ) -> np.ndarray:
        """Draw a text of ``n`` ids, each given the one before.

        Parameters
        ----------
        n : int
            How many ids to draw (``>= 0``).
        start : int, optional
            The first id; by default drawn from :attr:`unigram`.
        rng : None, int or numpy.random.Generator, optional
            Source of randomness; the same seed gives the same text.

        Returns
        -------
        ndarray of int64, shape (n,)

        Raises
        ------
        TypeError
            If ``n`` or ``start`` is not an integer, or ``rng`` is not a valid source.
        ValueError
            If ``n`` is negative or ``start`` is outside ``[0, vocab_size)``.
        """
        n = check_positive_int(n, "n", allow_zero=True)
        if start is not None:
            start = check_positive_int(start, "start", allow_zero=True)
            if start >= self.vocab_size:
                raise ValueError(f"start must lie in [0, {self.vocab_size}), got {start}")
        generator = as_rng(rng)
        u = generator.random(n)
        cdf = np.cumsum(np.exp(self.log_probs), axis=1)  # (n_vocab, n_vocab)
        ids = np.empty(n, dtype=np.int64)
        if n == 0:
            return ids
        ids[0] = (
            start if start is not None else _draw(np.cumsum(np.exp(self.unigram.log_probs)), u[0])
        )
        for t in range(1, n):
            ids[t] = _draw(cdf[ids[t - 1]], u[t])
        return ids


def unigram_nats(
    train_ids: npt.ArrayLike, test_ids: npt.ArrayLike, vocab_size: int, *, alpha: float = 1.0
) -> float:
    """Held-out nats per character of the unigram model of ``train_ids``.

    ``UnigramModel.fit(train_ids, vocab_size, alpha=alpha).nll(test_ids)``, with errors that
    name ``train_ids`` and ``test_ids``.

    Examples
    --------
    >>> import math
    >>> from simple_attention.training.baselines import unigram_nats
    >>> math.isclose(unigram_nats([0, 1, 2], [2, 1], vocab_size=3), math.log(3))
    True
    """
    vocab_size = check_positive_int(vocab_size, "vocab_size")
    train = _nonempty_ids(train_ids, "train_ids", vocab_size)
    test = _nonempty_ids(test_ids, "test_ids", vocab_size)
    return UnigramModel.fit(train, vocab_size, alpha=alpha).nll(test)


def bigram_nats(
    train_ids: npt.ArrayLike, test_ids: npt.ArrayLike, vocab_size: int, *, alpha: float = 1.0
) -> float:
    """Held-out nats per character of the bigram model of ``train_ids``.

    ``BigramModel.fit(train_ids, vocab_size, alpha=alpha).nll(test_ids)``, with errors that
    name ``train_ids`` and ``test_ids``.

    Examples
    --------
    >>> from simple_attention.training.baselines import bigram_nats
    >>> round(bigram_nats([0, 1] * 50, [0, 1, 0, 1], vocab_size=2, alpha=1e-6), 3)  # log 2 / 4
    0.173
    """
    vocab_size = check_positive_int(vocab_size, "vocab_size")
    train = _nonempty_ids(train_ids, "train_ids", vocab_size)
    test = _nonempty_ids(test_ids, "test_ids", vocab_size)
    return BigramModel.fit(train, vocab_size, alpha=alpha).nll(test)
