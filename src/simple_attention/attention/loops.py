"""Attention one query at a time, with explicit Python loops.

These functions follow the formulas term by term, with nothing hidden in a matrix product. They
are slow on purpose: the vectorised versions in :mod:`simple_attention.attention.scaled` must
give the same numbers (the tests hold them to it) and are what you use in practice.
"""

from __future__ import annotations

from typing import Literal, overload

import numpy as np
import numpy.typing as npt

from .._validation import as_float_array, check_finite_scores, check_flag, working_dtype
from .softmax import stable_softmax

__all__ = ["attention_scores_loop", "context_vector_loop", "self_attention_loop"]


def _as_matrix(x: npt.ArrayLike, name: str) -> np.ndarray:
    arr = as_float_array(x, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_tokens, dim), got shape {arr.shape}")
    return arr


def _as_vector(x: npt.ArrayLike, name: str) -> np.ndarray:
    arr = as_float_array(x, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


def attention_scores_loop(inputs: npt.ArrayLike, query: npt.ArrayLike) -> np.ndarray:
    r"""Attention scores of one query against every input, with explicit loops.

    The score of input :math:`x^{(j)}` is its dot product with the query :math:`q`,

    .. math:: s_j = x^{(j)} \cdot q = \sum_{f} x^{(j)}_f\, q_f,

    computed here one product at a time.

    Parameters
    ----------
    inputs : array_like, shape (n_tokens, dim)
        The vectors :math:`x^{(j)}`, one per row.
    query : array_like, shape (dim,)
        The query vector :math:`q`.

    Returns
    -------
    ndarray, shape (n_tokens,)
        The scores :math:`s_j`, in the dtype of ``inputs``.

    Raises
    ------
    ValueError
        If the shapes do not fit or a value is not finite.
    TypeError
        If an input is not real or the dtypes differ.
    FloatingPointError
        If a score overflows the dtype.

    See Also
    --------
    self_attention : all queries at once, with matrix products.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import attention_scores_loop
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> attention_scores_loop(x, x[2])
    array([1., 1., 2.])
    """
    x = _as_matrix(inputs, "inputs")
    q = _as_vector(query, "query")
    if q.dtype != x.dtype:
        raise TypeError(f"inputs has dtype {x.dtype} but query has dtype {q.dtype}")
    n_tokens, dim = x.shape
    if q.shape[0] != dim:
        raise ValueError(f"query has {q.shape[0]} features but inputs have {dim}; they must match")
    scores = np.empty(n_tokens, dtype=x.dtype)
    # Python floats overflow to inf silently, and so does storing one beyond float32 or
    # float16: the check below is what reports it.
    with np.errstate(over="ignore"):
        for j in range(n_tokens):
            total = 0.0
            for f in range(dim):  # f: one feature of the vectors
                total += float(x[j, f]) * float(q[f])
            scores[j] = total
    check_finite_scores(scores)
    return scores


def context_vector_loop(inputs: npt.ArrayLike, weights: npt.ArrayLike) -> np.ndarray:
    r"""The context vector of one query: the weighted sum of the inputs, with explicit loops.

    .. math:: z = \sum_j a_j\, x^{(j)}

    Parameters
    ----------
    inputs : array_like, shape (n_tokens, dim)
        The vectors :math:`x^{(j)}` (the values), one per row.
    weights : array_like, shape (n_tokens,)
        The attention weights :math:`a_j` of the query.

    Returns
    -------
    ndarray, shape (dim,)
        The context vector :math:`z`, in the dtype of ``inputs``.

    Raises
    ------
    ValueError
        If the shapes do not fit or a value is not finite.
    TypeError
        If an input is not real or the dtypes differ.
    FloatingPointError
        If the weighted sum overflows the dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import context_vector_loop
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> context_vector_loop(x, [0.5, 0.25, 0.25])
    array([0.75, 0.5 ])
    """
    x = _as_matrix(inputs, "inputs")
    w = _as_vector(weights, "weights")
    if w.dtype != x.dtype:
        raise TypeError(f"inputs has dtype {x.dtype} but weights has dtype {w.dtype}")
    n_tokens, dim = x.shape
    if w.shape[0] != n_tokens:
        raise ValueError(
            f"weights has {w.shape[0]} entries but inputs has {n_tokens} rows; they must match"
        )
    context = [0.0] * dim
    for j in range(n_tokens):
        for f in range(dim):
            context[f] += float(w[j]) * float(x[j, f])
    with np.errstate(over="ignore"):
        result = np.array(context, dtype=x.dtype)
    if not np.isfinite(result).all():
        raise FloatingPointError(
            f"the context vector overflowed {x.dtype} (inf or NaN in the weighted sum of the "
            "inputs); use smaller weights or inputs, or float64"
        )
    return result


@overload
def self_attention_loop(
    inputs: npt.ArrayLike, *, return_weights: Literal[False] = ...
) -> np.ndarray: ...
@overload
def self_attention_loop(
    inputs: npt.ArrayLike, *, return_weights: Literal[True]
) -> tuple[np.ndarray, np.ndarray]: ...
def self_attention_loop(
    inputs: npt.ArrayLike, *, return_weights: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """The seed's self-attention for every query in turn: scores, softmax, context.

    Calls :func:`attention_scores_loop` and :func:`context_vector_loop` once per query. Gives
    the same result as :func:`self_attention`, only much more slowly.

    Parameters
    ----------
    inputs : array_like, shape (n_tokens, dim)
        The embedding vectors, one per row; each serves as query, key and value.
    return_weights : bool, default False
        Also return the attention weights.

    Returns
    -------
    context : ndarray, shape (n_tokens, dim)
        One context vector per query.
    weights : ndarray, shape (n_tokens, n_tokens)
        Row ``i`` holds the weights of query ``i``; only if ``return_weights``.

    Raises
    ------
    ValueError
        If ``inputs`` is not 2-D or not finite.
    TypeError
        If ``inputs`` is not real, or ``return_weights`` is not a bool.
    FloatingPointError
        If a score overflows the dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import self_attention, self_attention_loop
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> self_attention_loop(x).round(4)
    array([[0.8446, 0.5777],
           [0.5777, 0.8446],
           [0.7881, 0.7881]])
    >>> np.allclose(self_attention_loop(x), self_attention(x))
    True
    """
    return_weights = check_flag(return_weights, "return_weights")
    x = _as_matrix(inputs, "inputs")
    work = working_dtype(x.dtype)
    n_tokens, dim = x.shape
    context = np.empty((n_tokens, dim), dtype=x.dtype)
    weights = np.empty((n_tokens, n_tokens), dtype=x.dtype)
    for i in range(n_tokens):
        scores = attention_scores_loop(x, x[i])  # raises if a score overflowed
        weights[i] = stable_softmax(scores.astype(work))
        context[i] = context_vector_loop(x, weights[i])
    if return_weights:
        return context, weights
    return context
