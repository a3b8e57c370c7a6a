"""Step 2 of the pipeline: giving every token a vector.

The seed notebook used :func:`naive_embeddings`, one random vector per position. A real model
looks vectors up in a table instead (:class:`Embedding`), so that the same token always gets the
same vector wherever it appears. The table is trained like any other parameter: the gradient
of a row is the sum of the gradients of every position where its token appeared.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from .._validation import as_rng, check_positive_int
from ..layers.base import Layer

__all__ = ["Embedding", "naive_embeddings", "seed_inputs", "seed_numbers"]

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


# What the seed notebook printed, digit for digit (8 decimals; its last cell printed the first
# weight at full precision). These are its published values, not recomputed ones: the tests and
# the tutorial compare the library's results against them.
_SEED_PRINTED: dict[str, npt.ArrayLike] = {
    "inputs": [
        [0.86379499, 0.93042748, 0.82149658],
        [0.11288872, 0.23407153, 0.26185969],
        [0.79451453, 0.63626262, 0.39415654],
        [0.59248056, 0.70135167, 0.51830873],
    ],
    "query_scores": [0.53041613, 0.13610384, 0.3418364, 0.36677499],
    "query_weights": [0.29838948, 0.20115732, 0.24710661, 0.25334659],
    "query_context": [0.62688845, 0.65962472, 0.52651137],
    "scores": [
        [2.28669371, 0.53041613, 1.60209215, 1.59012746],
        [0.53041613, 0.13610384, 0.3418364, 0.36677499],
        [1.60209215, 0.3418364, 1.19144284, 1.12127305],
        [1.59012746, 0.36677499, 1.12127305, 1.11157133],
    ],
    "weights": [
        [0.45971284, 0.07938619, 0.2318291, 0.22907187],
        [0.29838948, 0.20115732, 0.24710661, 0.25334659],
        [0.38985174, 0.11055474, 0.25855726, 0.24103626],
        [0.39375687, 0.11585984, 0.24638103, 0.24400226],
    ],
    "context": [
        [0.72597167, 0.75447563, 0.60854748],
        [0.62688845, 0.65962472, 0.52651137],
        [0.69746917, 0.72216799, 0.57605494],
        [0.69352439, 0.72137613, 0.57739014],
    ],
}
_SEED_QUERY_INDEX = 1
_SEED_FIRST_WEIGHT = 0.29838947615945444


def seed_inputs() -> np.ndarray:
    r"""The four embedding vectors of the notebook this project grew from.

    The notebook "A simple attention mechanism" drew these with naive embeddings (uniform in
    :math:`[0, 1)`) for four sampled token ids, and printed every step of its attention
    computation. Every tutorial page starts from them, so that its numbers can be checked
    against that notebook (:func:`seed_numbers` holds everything it printed).

    Returns
    -------
    ndarray of float64, shape (4, 3)
        A fresh, writeable copy each time (changing it changes nothing else).

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
    return np.array(_SEED_PRINTED["inputs"])


class SeedNumbers(NamedTuple):
    """What the seed notebook printed; see :func:`seed_numbers` for the fields."""

    inputs: np.ndarray
    query_index: int
    query_scores: np.ndarray
    query_weights: np.ndarray
    query_context: np.ndarray
    scores: np.ndarray
    weights: np.ndarray
    context: np.ndarray
    first_weight: float


def _read_only(values: npt.ArrayLike) -> np.ndarray:
    arr = np.array(values)
    arr.flags.writeable = False
    return arr


def seed_numbers() -> SeedNumbers:
    r"""Every number the seed notebook printed, as printed: the one source to check against.

    The notebook this project grew from took the four vectors of :func:`seed_inputs`, chose
    query 1 ("journey"), and printed each step of attention with 8 decimals. Its inputs were
    themselves printed rounded to 8 decimals, so results computed from :func:`seed_inputs`
    agree with these numbers to about ``1e-8``, not to the last digit.

    Returns
    -------
    SeedNumbers
        A named tuple; every array is read-only (assigning to it raises ``ValueError``):

        inputs : ndarray of float64, shape (4, 3)
            The input vectors :math:`x^{(0)}, \dots, x^{(3)}` as rows of :math:`X`.
        query_index : int
            The row of :math:`X` used as the one query, ``1``.
        query_scores : ndarray of float64, shape (4,)
            The scores :math:`s_j = q \cdot x^{(j)}` of that query.
        query_weights : ndarray of float64, shape (4,)
            Its attention weights :math:`a_j`, the softmax of the scores.
        query_context : ndarray of float64, shape (3,)
            Its context vector :math:`z = \sum_j a_j x^{(j)}`.
        scores : ndarray of float64, shape (4, 4)
            The score matrix :math:`S = X X^\top` of all queries.
        weights : ndarray of float64, shape (4, 4)
            The weight matrix :math:`A`, the softmax of each row of :math:`S`.
        context : ndarray of float64, shape (4, 3)
            The context vectors :math:`Z = A X`, one row per query.
        first_weight : float
            The notebook's last cell: :math:`a_0` of the one query computed by hand, printed
            at full precision.

    See Also
    --------
    seed_inputs : the inputs as a fresh, writeable array.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import seed_numbers, self_attention
    >>> seed = seed_numbers()
    >>> seed.query_index
    1
    >>> seed.query_weights
    array([0.29838948, 0.20115732, 0.24710661, 0.25334659])
    >>> context = self_attention(seed.inputs)
    >>> bool(np.allclose(context, seed.context, rtol=0, atol=1e-8))
    True
    >>> seed.weights[0, 0] = 0.5
    Traceback (most recent call last):
    ...
    ValueError: assignment destination is read-only
    """
    return SeedNumbers(
        inputs=_read_only(_SEED_PRINTED["inputs"]),
        query_index=_SEED_QUERY_INDEX,
        query_scores=_read_only(_SEED_PRINTED["query_scores"]),
        query_weights=_read_only(_SEED_PRINTED["query_weights"]),
        query_context=_read_only(_SEED_PRINTED["query_context"]),
        scores=_read_only(_SEED_PRINTED["scores"]),
        weights=_read_only(_SEED_PRINTED["weights"]),
        context=_read_only(_SEED_PRINTED["context"]),
        first_weight=_SEED_FIRST_WEIGHT,
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
