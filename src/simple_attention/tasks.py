"""A toy task whose ideal attention pattern is known in advance: reversing a sequence.

To output the reversed sequence, output position ``i`` must copy the token at input position
``n - 1 - i``. A single attention layer can do that exactly by putting all of query ``i``'s
weight on key ``n - 1 - i``: the ideal weights are the anti-diagonal. Training starts from
random weights, so watching the learned weights converge to that known pattern shows attention
*learning where to look*.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import as_rng, check_positive_int

__all__ = ["ReverseTask", "reverse_pattern", "reverse_task"]


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
    if vocab_size**length < n_total:
        raise ValueError(
            f"only {vocab_size}**{length} = {vocab_size**length} distinct sequences exist, "
            f"but {n_total} were requested"
        )
    generator = as_rng(rng)
    sequences = np.empty((0, length), dtype=np.int64)
    while len(sequences) < n_total:
        draw = generator.integers(vocab_size, size=(n_total - len(sequences), length))
        sequences = np.concatenate([sequences, draw])
        # Keep the first occurrence of each sequence, in drawing order.
        _, first = np.unique(sequences, axis=0, return_index=True)
        sequences = sequences[np.sort(first)]
    targets = sequences[:, ::-1].copy()
    return ReverseTask(
        train_inputs=sequences[:n_train],
        train_targets=targets[:n_train],
        test_inputs=sequences[n_train:],
        test_targets=targets[n_train:],
        vocab_size=vocab_size,
        length=length,
    )
