"""Step 2 of the pipeline: giving every token a vector.

The seed notebook used :func:`naive_embeddings`, one random vector per position. A real model
looks vectors up in a table instead (:class:`Embedding`), so that the same token always gets the
same vector wherever it appears. The table is trained like any other parameter: the gradient
of a row is the sum of the gradients of every position where its token appeared.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .._validation import as_rng, check_positive_int
from ..layers.base import Layer

__all__ = ["Embedding", "naive_embeddings", "seed_inputs"]

# Up to this many entries (16 MiB in float32), the backward pass of Embedding builds a one-hot
# matrix of the batch's ids and multiplies; beyond, it scatters the rows with np.add.at.
ONE_HOT_LIMIT = 2**22


def naive_embeddings(
    n_tokens: int, dim: int, *, rng: int | np.random.Generator | None = None
) -> np.ndarray:
    """One random vector in ``[0, 1)`` per token, as the seed notebook did.

    These vectors do not depend on *which* token stands at a position, only on how many there
    are: enough to study attention, not to model language.

    Parameters
    ----------
    n_tokens : int
        Number of vectors (rows), ``>= 0``.
    dim : int
        Size of each vector, ``>= 1``.
    rng : None, int or numpy.random.Generator, optional
        Source of randomness.

    Returns
    -------
    ndarray of float64, shape (n_tokens, dim)
        The embedding vectors :math:`x^{(i)}`, one per row.

    Examples
    --------
    >>> from simple_attention import naive_embeddings
    >>> x = naive_embeddings(4, 3, rng=0)
    >>> x.shape
    (4, 3)
    >>> x.round(3)
    array([[0.637, 0.27 , 0.041],
           [0.017, 0.813, 0.913],
           [0.607, 0.729, 0.544],
           [0.935, 0.816, 0.003]])
    """
    n_tokens = check_positive_int(n_tokens, "n_tokens", allow_zero=True)
    dim = check_positive_int(dim, "dim")
    return as_rng(rng).random((n_tokens, dim))


def seed_inputs() -> np.ndarray:
    r"""The four embedding vectors of the notebook this project grew from.

    The notebook "A simple attention mechanism" drew these with naive embeddings (uniform in
    :math:`[0, 1)`) for four sampled token ids, and printed every step of its attention
    computation. Every tutorial page starts from them, so that its numbers can be checked
    against that notebook: with query 1, the scores are ``[0.5304, 0.1361, 0.3418, 0.3668]``.

    Returns
    -------
    ndarray of float64, shape (4, 3)
        A fresh copy each time (changing it changes nothing else).

    Examples
    --------
    >>> from simple_attention import attention_scores_loop, seed_inputs
    >>> x = seed_inputs()
    >>> x
    array([[0.86379499, 0.93042748, 0.82149658],
           [0.11288872, 0.23407153, 0.26185969],
           [0.79451453, 0.63626262, 0.39415654],
           [0.59248056, 0.70135167, 0.51830873]])
    >>> attention_scores_loop(x, x[1])
    array([0.53041613, 0.13610384, 0.3418364 , 0.36677499])
    """
    return np.array(
        [
            [0.86379499, 0.93042748, 0.82149658],
            [0.11288872, 0.23407153, 0.26185969],
            [0.79451453, 0.63626262, 0.39415654],
            [0.59248056, 0.70135167, 0.51830873],
        ]
    )


class Embedding(Layer):
    """A lookup table of learnable vectors, one row per token id.

    Parameters
    ----------
    vocab_size : int
        Number of rows (distinct token ids).
    dim : int
        Size of each vector.
    rng : None, int or numpy.random.Generator, optional
        Source of randomness for the initial table, drawn from a standard normal distribution.

    Attributes
    ----------
    weight : ndarray, shape (vocab_size, dim)
        The table. Row ``i`` is the vector of token id ``i``.
    params, grads : dict of str to ndarray
        ``{"weight": weight}`` and its gradient after :meth:`backward` (see
        :class:`~simple_attention.Layer`).

    Examples
    --------
    >>> from simple_attention import Embedding, Vocabulary
    >>> vocab = Vocabulary.from_text("Your journey starts with one step")
    >>> embed = Embedding(len(vocab), 3, rng=123)
    >>> ids = vocab.encode("one step, one step")
    >>> ids
    array([6, 7, 1, 6, 7])
    >>> x = embed(ids)
    >>> x.shape
    (5, 3)
    >>> bool((x[0] == x[3]).all())  # the same token always gets the same vector
    True

    Backward, each row's gradient collects the gradients of every position of its token:

    >>> import numpy as np
    >>> embed.backward(np.ones((5, 3)))
    >>> embed.grads["weight"][[1, 6, 7, 0]]
    array([[1., 1., 1.],
           [2., 2., 2.],
           [2., 2., 2.],
           [0., 0., 0.]])
    """

    param_names = ("weight",)

    def __init__(
        self, vocab_size: int, dim: int, *, rng: int | np.random.Generator | None = None
    ) -> None:
        super().__init__()
        self.vocab_size = check_positive_int(vocab_size, "vocab_size")
        self.dim = check_positive_int(dim, "dim")
        self.weight = as_rng(rng).standard_normal((self.vocab_size, self.dim))

    def __repr__(self) -> str:
        return f"Embedding(vocab_size={self.vocab_size}, dim={self.dim})"

    def __call__(self, ids: npt.ArrayLike) -> np.ndarray:
        """Look up the vectors of ``ids`` (any shape); returns shape ``ids.shape + (dim,)``.

        The result is a new array (writing to it leaves the table alone), in the dtype of
        :attr:`weight`.

        Raises
        ------
        TypeError
            If ``ids`` are not integers (booleans and integral floats are refused too).
        ValueError
            If an id lies outside ``[0, vocab_size)``, or :attr:`weight` holds NaN or inf.
        """
        # A private copy: the caller may refill its buffer before the backward pass.
        arr = np.array(ids)
        if arr.size == 0 and arr.dtype != np.bool_:
            arr = arr.astype(np.int64)
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"ids must be integers, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() >= self.vocab_size):
            raise ValueError(
                f"ids must lie in [0, {self.vocab_size}), got values from {arr.min()} "
                f"to {arr.max()}"
            )
        self._check_params()
        self._cache = {"ids": arr, "out_shape": (*arr.shape, self.dim)}
        return self.weight[arr]

    def backward(self, grad_out: npt.ArrayLike) -> None:
        """Fill ``grads["weight"]`` from ``grad_out`` = dL/d(vectors) of the last call.

        Row ``i`` of the gradient is the sum of ``grad_out`` over every position that held token
        ``i``; rows of tokens that did not appear are zero. It is computed as a matrix product,
        the transposed one-hot matrix of the ids times ``grad_out``, or for large batches and
        vocabularies with ``np.add.at``, which adds repeated ids up where plain fancy-index
        assignment would keep only one of them. Token ids are not differentiable, so nothing is
        returned.

        Raises
        ------
        RuntimeError
            If the layer has not been called yet, or its last call raised.
        ValueError
            If ``grad_out`` does not have the shape ``ids.shape + (dim,)`` of the last output,
            or holds NaN or inf.
        TypeError
            If ``grad_out`` is not real (complex gradients are refused).
        """
        saved = self._saved()
        g = self._grad_out(grad_out, saved["out_shape"])
        ids = saved["ids"].reshape(-1)  # (n,)
        g = g.astype(self.weight.dtype, copy=False).reshape(ids.size, self.dim)  # (n, dim)
        if ids.size * self.vocab_size <= ONE_HOT_LIMIT:
            # The same sums as a matrix product, one_hot^T g: several times faster than
            # np.add.at, whose scattered updates do not vectorise.
            one_hot = np.zeros((ids.size, self.vocab_size), dtype=g.dtype)  # (n, vocab_size)
            one_hot[np.arange(ids.size), ids] = 1.0
            grad_weight = one_hot.T @ g
        else:
            grad_weight = np.zeros_like(self.weight)
            np.add.at(grad_weight, ids, g)
        self._store_grads({"weight": self._finite(grad_weight, "the gradient of weight")})
