"""What the models are trained on: a toy task with a known answer, and next-token prediction.

Reversing a sequence is a task whose ideal attention pattern is known in advance. To output the
reversed sequence, output position ``i`` must copy the token at input position ``n - 1 - i``. A
single attention layer can do that exactly by putting all of query ``i``'s weight on key
``n - 1 - i``: the ideal weights are the anti-diagonal. Training starts from random weights, so
watching the learned weights converge to that known pattern shows attention *learning where to
look*.

A language model is trained on a text instead: at every position, predict the next token.
:func:`next_token_pairs` cuts the text into windows, each with its targets shifted by one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .._validation import as_rng, check_positive_int
from ..text.chars import as_ids

__all__ = ["ReverseTask", "next_token_pairs", "reverse_pattern", "reverse_task"]


def reverse_pattern(length: int) -> np.ndarray:
    """The ideal attention weights for reversing a sequence of ``length`` tokens.

    Row ``i`` is one-hot on column ``length - 1 - i``.

    Examples
    --------
    >>> from simple_attention import reverse_pattern
    >>> reverse_pattern(3)
    array([[0., 0., 1.],
           [0., 1., 0.],
           [1., 0., 0.]])
    """
    length = check_positive_int(length, "length")
    return np.eye(length)[::-1].copy()


@dataclass(frozen=True)
class ReverseTask:
    """Training and held-out data for the reversal task, from :func:`reverse_task`.

    Attributes
    ----------
    train_inputs, train_targets : ndarray of int, shape (n_train, length)
    test_inputs, test_targets : ndarray of int, shape (n_test, length)
        ``targets`` is ``inputs`` reversed along the last axis. No held-out sequence occurs in
        the training data.
    vocab_size : int
    length : int

    Examples
    --------
    >>> from simple_attention import reverse_task
    >>> task = reverse_task(n_train=10, n_test=2, length=3, vocab_size=4, rng=0)
    >>> task.test_inputs
    array([[3, 0, 0],
           [3, 0, 2]])
    >>> task.test_targets
    array([[0, 0, 3],
           [2, 0, 3]])
    >>> task.ideal_weights
    array([[0., 0., 1.],
           [0., 1., 0.],
           [1., 0., 0.]])
    """

    train_inputs: np.ndarray
    train_targets: np.ndarray
    test_inputs: np.ndarray
    test_targets: np.ndarray
    vocab_size: int
    length: int

    @property
    def ideal_weights(self) -> np.ndarray:
        """The attention pattern that solves the task, see :func:`reverse_pattern`."""
        return reverse_pattern(self.length)


def reverse_task(
    n_train: int,
    n_test: int,
    *,
    length: int = 8,
    vocab_size: int = 10,
    rng: int | np.random.Generator | None = None,
) -> ReverseTask:
    """Random token sequences and their reversals, split into training and held-out sets.

    Parameters
    ----------
    n_train, n_test : int
        Number of training and held-out sequences; all of them are distinct.
    length : int, default 8
        Tokens per sequence.
    vocab_size : int, default 10
        Token ids are drawn uniformly from ``[0, vocab_size)``.
    rng : None, int or numpy.random.Generator, optional
        Source of randomness; the same ``rng`` gives the same data.

    Returns
    -------
    ReverseTask

    Raises
    ------
    ValueError
        If there are fewer distinct sequences (``vocab_size ** length``) than requested.

    Examples
    --------
    >>> from simple_attention import reverse_task
    >>> task = reverse_task(n_train=100, n_test=20, length=5, vocab_size=7, rng=0)
    >>> task.train_inputs.shape, task.test_inputs.shape
    ((100, 5), (20, 5))
    >>> task.train_inputs[0], task.train_targets[0]
    (array([5, 4, 3, 1, 2]), array([2, 1, 3, 4, 5]))
    """
    n_train = check_positive_int(n_train, "n_train")
    n_test = check_positive_int(n_test, "n_test", allow_zero=True)
    length = check_positive_int(length, "length")
    vocab_size = check_positive_int(vocab_size, "vocab_size")
    n_total = n_train + n_test
    # vocab_size**length can be astronomically large; it is only needed when it is small.
    few_sequences = vocab_size == 1 or length < (2 * n_total).bit_length()
    n_distinct = vocab_size**length if few_sequences else None
    if n_distinct is not None and n_distinct < n_total:
        raise ValueError(
            f"only {vocab_size}**{length} = {n_distinct} distinct sequences exist, "
            f"but {n_total} were requested"
        )
    generator = as_rng(rng)
    if n_distinct is not None and 2 * n_total > n_distinct:
        sequences = _sample_without_replacement(generator, n_total, length, vocab_size)
    else:
        sequences = _draw_until_distinct(generator, n_total, length, vocab_size)
    targets = sequences[:, ::-1].copy()
    return ReverseTask(
        train_inputs=sequences[:n_train],
        train_targets=targets[:n_train],
        test_inputs=sequences[n_train:],
        test_targets=targets[n_train:],
        vocab_size=vocab_size,
        length=length,
    )


def _draw_until_distinct(
    generator: np.random.Generator, n_total: int, length: int, vocab_size: int
) -> np.ndarray:
    """Draw the missing number of sequences until ``n_total`` distinct ones are kept.

    A drawn sequence is kept if it is new, in drawing order. When at most half of all sequences
    are requested, each round at least halves the number missing on average, so the rounds are
    few; each costs the size of its own draw, not of everything kept so far.
    """
    sequences = np.empty((n_total, length), dtype=np.int64)
    row = np.dtype((np.void, length * sequences.itemsize))
    seen: set[object] = set()
    n_kept = 0
    while n_kept < n_total:
        draw = generator.integers(vocab_size, size=(n_total - n_kept, length), dtype=np.int64)
        keep = []
        for i, key in enumerate(np.ascontiguousarray(draw).view(row).ravel().tolist()):
            if key not in seen:
                seen.add(key)
                keep.append(i)
        sequences[n_kept : n_kept + len(keep)] = draw[keep]
        n_kept += len(keep)
    return sequences


def _sample_without_replacement(
    generator: np.random.Generator, n_total: int, length: int, vocab_size: int
) -> np.ndarray:
    """``n_total`` distinct sequences when they are more than half of all that exist.

    Drawing until distinct would need about ``n log n`` draws to find the last few unseen
    sequences; instead, sample their numbers in base ``vocab_size`` without replacement.
    """
    codes = generator.choice(vocab_size**length, size=n_total, replace=False)
    powers = vocab_size ** np.arange(length - 1, -1, -1, dtype=np.int64)
    return (codes[:, None] // powers) % vocab_size


def next_token_pairs(ids: npt.ArrayLike, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Every window of ``length`` tokens of ``ids``, and the same window shifted by one.

    ``inputs[i] = ids[i : i + length]`` and ``targets[i] = ids[i + 1 : i + length + 1]``: at
    every position of a window, the target is the token that follows. Every position counts
    in the loss, so a window of ``length`` tokens gives ``length`` predictions, from a context
    of one token up to ``length``.

    The windows are read-only views of one copy of ``ids``
    (``numpy.lib.stride_tricks.sliding_window_view``), so a text of ``N`` tokens costs
    ``N`` ids of memory, not ``N * length``; drawing a batch (``inputs[batch]``) copies only
    that batch.

    Parameters
    ----------
    ids : array_like of int, shape (N,)
        The encoded text, non-negative integers.
    length : int
        Tokens per window, ``1 <= length < N``.

    Returns
    -------
    inputs, targets : ndarray of int64, shape (N - length, length)

    Raises
    ------
    TypeError
        If ``ids`` does not hold integers or ``length`` is not an integer.
    ValueError
        If ``ids`` is not one-dimensional, holds a negative id, or has no more than
        ``length`` tokens, or ``length`` is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import next_token_pairs
    >>> inputs, targets = next_token_pairs(np.arange(6), length=3)
    >>> inputs
    array([[0, 1, 2],
           [1, 2, 3],
           [2, 3, 4]])
    >>> targets
    array([[1, 2, 3],
           [2, 3, 4],
           [3, 4, 5]])
    """
    length = check_positive_int(length, "length")
    arr = np.asarray(ids)
    if arr.size and arr.ndim == 1 and np.issubdtype(arr.dtype, np.integer) and arr.min() < 0:
        raise ValueError(f"ids must not be negative, got values from {arr.min()}")
    text = as_ids(arr, "ids", np.iinfo(np.int64).max)  # a private copy, int64
    if text.size <= length:
        raise ValueError(
            f"ids must hold more than length={length} tokens (a window and its next token), "
            f"got {text.size}"
        )
    windows = np.lib.stride_tricks.sliding_window_view(text, length + 1)  # read-only view
    return windows[:, :-1], windows[:, 1:]
