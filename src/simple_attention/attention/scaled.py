"""Attention for all queries at once, with matrix multiplication.

:func:`self_attention` is exactly the seed notebook's computation: the inputs serve as queries,
keys and values, and the scores are not scaled. :func:`scaled_dot_product_attention` is the
general form used by every transformer, with separate queries, keys and values, a scale, masks
and any number of leading (batch, head) dimensions.
:func:`scaled_dot_product_attention_backward` runs the same computation backwards, from the
gradient of a loss with respect to the context to its gradients with respect to the queries,
keys and values.

Each public function validates its inputs once and then calls a kernel that checks nothing:
:func:`attend` (the formula as it reads, with the weights), ``attend_blocked`` (the same
context, a block of queries at a time) and ``attend_backward``. The layers call these
kernels directly on arrays they have already checked.
"""

from __future__ import annotations

import itertools
import math
from typing import Literal, overload

import numpy as np
import numpy.typing as npt

from .._validation import (
    as_float_array,
    check_finite_scores,
    check_flag,
    check_same_dtype,
    check_scale,
    working_dtype,
)
from .blocks import BLOCK_ELEMENTS, attend_by_query_blocks, weighted_average_
from .masks import apply_mask_, causal_mask, resolve_mask
from .parallel import n_threads, run_blocks
from .softmax import stable_softmax_, stable_softmax_backward

__all__ = [
    "attend",
    "scaled_dot_product_attention",
    "scaled_dot_product_attention_backward",
    "self_attention",
]


def check_qkv(
    query: npt.ArrayLike, key: npt.ArrayLike, value: npt.ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate queries, keys and values and return them as arrays.

    Checks that all three are finite real arrays of one dtype, at least 2-D, that queries and
    keys have the same number of features, that keys and values have the same length, and that
    the leading dimensions broadcast. Every error names the argument and the sizes.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention.attention.scaled import check_qkv
    >>> check_qkv(np.ones((2, 5)), np.ones((3, 4)), np.ones((3, 4)))
    Traceback (most recent call last):
        ...
    ValueError: query has 5 features but key has 4; they must match
    """
    q = as_float_array(query, "query")
    k = as_float_array(key, "key")
    v = as_float_array(value, "value")
    check_same_dtype(query=q, key=k, value=v)
    for name, arr in (("query", q), ("key", k), ("value", v)):
        if arr.ndim < 2:
            raise ValueError(
                f"{name} must be at least 2-D (..., n_tokens, n_features), got shape {arr.shape}"
            )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"query has {q.shape[-1]} features but key has {k.shape[-1]}; they must match"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"key has {k.shape[-2]} positions but value has {v.shape[-2]}; they must match"
        )
    try:
        np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(
            f"the leading (batch, head) dimensions of query {q.shape}, key {k.shape} and "
            f"value {v.shape} do not broadcast"
        ) from None
    return q, k, v


def resolve_scale(scale: float | None, d_k: int) -> float:
    """Return ``scale`` checked, or the default ``1/sqrt(d_k)`` as a Python float."""
    if scale is None:
        if d_k == 0:
            raise ValueError(
                "query and key have 0 features, so the default scale 1/sqrt(0) is undefined"
            )
        return 1.0 / math.sqrt(d_k)  # a Python float, so float32 stays float32
    return check_scale(scale)


def attention_weights(
    q: np.ndarray,
    k: np.ndarray,
    *,
    scale: float,
    mask: np.ndarray | None = None,
    is_causal: bool = False,
) -> np.ndarray:
    r"""The first half of :func:`attend`: :math:`\operatorname{softmax}(c\,QK^\top + M)`.

    Unchecked, with the same conventions as :func:`attend`; returns the weights
    ``(..., n_queries, n_keys)``. A layer that drops weights out before the value product starts
    here.
    """
    n_queries, n_keys = q.shape[-2], k.shape[-2]
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported just below
        scores = (q * scale) @ np.swapaxes(k, -1, -2)  # (..., n_queries, n_keys)
    check_finite_scores(scores)
    if is_causal:
        mask = causal_mask(n_queries, n_keys)  # query i sees keys j <= i
    if mask is not None:
        scores = apply_mask_(scores, mask)  # -inf where blocked
    return stable_softmax_(scores)  # in place; a fully blocked row gives zeros


def attend(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    *,
    scale: float,
    mask: np.ndarray | None = None,
    is_causal: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Attention as the formula reads, returning the context and the weights.

    .. math:: \text{scores} = c\,QK^\top + M, \qquad
              \text{weights} = \operatorname{softmax}(\text{scores}), \qquad
              \text{context} = \text{weights}\; V.

    This is the kernel to read: :func:`~simple_attention.scaled_dot_product_attention` runs it when
    the weights are wanted (``return_weights=True``), and the blocked kernel behind it otherwise
    gives the same numbers without holding the ``(n_queries, n_keys)`` weights. Nothing is checked
    here: ``q`` ``(..., n_queries, d_k)``, ``k`` ``(..., n_keys, d_k)`` and ``v``
    ``(..., n_keys, d_v)`` are arrays of one working dtype (float32 or float64), ``mask`` (or
    ``None``) has passed ``check_mask``, and ``scale`` is a finite float; ``is_causal`` comes
    without a ``mask`` (the public functions refuse the two together). Returns ``context``
    ``(..., n_queries, d_v)`` and ``weights`` ``(..., n_queries, n_keys)`` in that dtype.

    A query that may attend to no key has a row of zero weights and a zero context, never NaN.
    The weights are normalised before they meet the values, so the context is a weighted
    average of finite values: where its rounded sum steps past the largest number of the dtype
    (values near that number), it is recomputed safely and is never ``inf``.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention.attention.scaled import attend
    >>> q = k = np.eye(2)
    >>> context, weights = attend(q, k, np.array([[1.0], [3.0]]), scale=1.0, is_causal=True)
    >>> weights.round(4)
    array([[1.    , 0.    ],
           [0.2689, 0.7311]])
    """
    groups = slice_groups(q, k, v, mask=mask)
    if groups:
        # Large and one slice per (batch, head): groups of slices run on one thread per core.
        batch = q.shape[:-2]
        context = np.empty((*batch, q.shape[-2], v.shape[-1]), q.dtype)
        weights = np.empty((*batch, q.shape[-2], k.shape[-2]), q.dtype)
        flat = [flat_slices(a) for a in (q, k, v, context, weights)]
        masks = flat_slices(mask) if mask is not None and mask.ndim > 2 else None

        def one_group(i: slice) -> None:
            q_i, k_i, v_i, context_i, weights_i = (a[i] for a in flat)
            mask_i = mask if masks is None else masks[i]
            if q.shape[-2] * k.shape[-2] >= BLOCK_ELEMENTS:
                # Large slices: the blocked kernel, whose blocks of scores stay in the cache
                # while they become weights (the same numbers, to rounding).
                context_i[...], weights_i[...] = attend_by_query_blocks(
                    q_i, k_i, v_i, scale, mask_i, is_causal=is_causal, return_weights=True
                )
                return
            context_i[...], weights_i[...] = attend(
                q_i, k_i, v_i, scale=scale, mask=mask_i, is_causal=is_causal
            )

        run_blocks(one_group, groups)
        return context, weights
    weights = attention_weights(q, k, scale=scale, mask=mask, is_causal=is_causal)
    with np.errstate(over="ignore", invalid="ignore"):
        context = weights @ v  # (..., n_queries, d_v)
    if not np.isfinite(context).all():
        weighted_average_(weights, v, context)  # values near the largest number of the dtype
    return context, weights


# Below this many scores in all, (batch, head) slices are computed in one vectorised call, not in
# threads: a TinyGPT training step (128 slices of 64 x 64 scores) measured no faster with them.
PARALLEL_ELEMENTS = 1 << 21


def slice_groups(
    q: np.ndarray, k: np.ndarray, *others: np.ndarray, mask: np.ndarray | None = None
) -> list[slice]:
    """Groups of (batch, head) slices to compute on one thread per core, or ``[]`` for one call.

    ``q`` and ``k`` are the queries and the keys, ``others`` more arrays to split along with
    them. Only where the work is large and all of them have the same leading dimensions (the
    ``mask`` may also have none): broadcast inputs go through in one vectorised call.
    Each group is a run of slices that one vectorised call computes; there are at least two per
    thread, so that the threads finish together.
    """
    batch = q.shape[:-2]
    n_slices = math.prod(batch)
    scores = n_slices * q.shape[-2] * k.shape[-2]
    threads = n_threads()
    if n_slices < 2 or scores == 0 or scores < PARALLEL_ELEMENTS or threads < 2:
        return []
    if any(a.shape[:-2] != batch for a in (k, *others)):
        return []
    if mask is not None and mask.ndim > 2 and mask.shape[:-2] != batch:
        return []
    n_groups = min(n_slices, max(2 * threads, scores // BLOCK_ELEMENTS))
    edges = np.linspace(0, n_slices, n_groups + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(edges)]


def flat_slices(a: np.ndarray) -> np.ndarray:
    """``a`` as ``(n_slices, rows, columns)``: a view where the memory allows, else a copy.

    The results are written through such views, so they must be C-contiguous arrays.
    """
    return a.reshape(math.prod(a.shape[:-2]), *a.shape[-2:])


def attend_blocked(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    *,
    scale: float,
    mask: np.ndarray | None = None,
    is_causal: bool = False,
) -> np.ndarray:
    """The context of :func:`attend`, computed a block of queries at a time.

    Takes what :func:`attend` takes and returns its ``context`` (to rounding), but never holds
    the ``(n_queries, n_keys)`` weights: see
    :func:`~simple_attention.attention.blocks.attend_by_query_blocks`. Nothing is checked here.
    """
    context, _ = attend_by_query_blocks(
        q, k, v, scale, mask, is_causal=is_causal, return_weights=False
    )
    return context


@overload
def scaled_dot_product_attention(
    query: npt.ArrayLike,
    key: npt.ArrayLike,
    value: npt.ArrayLike,
    *,
    mask: npt.ArrayLike | None = ...,
    is_causal: bool = ...,
    scale: float | None = ...,
    return_weights: Literal[False] = ...,
) -> np.ndarray: ...
@overload
def scaled_dot_product_attention(
    query: npt.ArrayLike,
    key: npt.ArrayLike,
    value: npt.ArrayLike,
    *,
    mask: npt.ArrayLike | None = ...,
    is_causal: bool = ...,
    scale: float | None = ...,
    return_weights: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...
def scaled_dot_product_attention(
    query: npt.ArrayLike,
    key: npt.ArrayLike,
    value: npt.ArrayLike,
    *,
    mask: npt.ArrayLike | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    return_weights: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""Scaled dot-product attention: softmax(c·QKᵀ + M) V.

    Every query is compared with every key (``scores``), the scores of each query are turned
    into ``weights`` by a softmax over the keys, and each output (``context``) is the weighted
    average of the values.

    Parameters
    ----------
    query : array_like, shape (..., n_queries, d_k)
        One row per query position.
    key : array_like, shape (..., n_keys, d_k)
        One row per key position; same number of features as ``query``.
    value : array_like, shape (..., n_keys, d_v)
        One row per key position.
    mask : array_like of bool or float, optional
        Broadcasts against the scores ``(..., n_queries, n_keys)``; a key-padding mask
        ``(n_keys,)`` works too. Boolean: ``True`` = may attend, ``False`` = blocked. Float: added
        to the scores, so ``-inf`` blocks and ``0`` changes nothing. Integer masks raise
        ``TypeError``.
    is_causal : bool, default False
        Let query ``i`` attend to keys ``j <= i`` only (see :func:`causal_mask`, top-left aligned).
        Cannot be combined with ``mask``: pass ``causal_mask(n_queries, n_keys) & mask`` instead.
    scale : float, optional
        Factor :math:`c` applied to the scores. Defaults to :math:`1/\sqrt{d_k}`, with
        :math:`d_k` the number of key features (per head). ``0.0`` averages the values uniformly.
    return_weights : bool, default False
        Also return the attention weights.

    Returns
    -------
    context : ndarray, shape (..., n_queries, d_v)
        The outputs, in the dtype of the inputs.
    weights : ndarray, shape (..., n_queries, n_keys)
        The attention weights, only if ``return_weights``. Each row sums to 1, except the row of
        a query that may attend to no key at all, which is all zeros (as is its output).

    Raises
    ------
    ValueError
        On NaN or infinite inputs, mismatched sizes, a bad mask shape, a non-finite ``scale``,
        or ``is_causal`` together with ``mask``.
    TypeError
        On boolean, complex or mixed-dtype inputs, an integer mask, or an ``is_causal`` or
        ``return_weights`` that is not a bool.
    FloatingPointError
        If the scaled scores overflow the dtype.

    See Also
    --------
    simple_attention.attention.scaled.attend : the computation itself, as the formula reads.
    self_attention : the seed's unscaled version, with the inputs as queries, keys and values.
    causal_mask : the mask behind ``is_causal``.
    simple_attention.chunked_attention : the same result in O(n) memory, keys in blocks too.

    Notes
    -----
    After the checks, the weights are computed by
    :func:`~simple_attention.attention.scaled.attend`, which reads like the formula (the
    validated arrays in, nothing checked again):

    .. code-block:: python

        scores = (q * scale) @ np.swapaxes(k, -1, -2)  # (..., n_queries, n_keys)
        if is_causal:
            mask = causal_mask(n_queries, n_keys)  # query i sees keys j <= i
        if mask is not None:
            scores = apply_mask_(scores, mask)  # -inf where blocked
        weights = stable_softmax_(scores)  # a fully blocked row gives zeros
        context = weights @ v  # (..., n_queries, d_v)

    That is the kernel to read, and the one that runs when ``return_weights`` asks for the weights.
    Without ``return_weights``, the same numbers (to rounding) come from a kernel that never holds
    the ``(n_queries, n_keys)`` weights: the scores are computed for a block of queries at a time
    (about half a million scores per block, one (batch, head) slice at a time for large inputs),
    turned into exponentials in place, multiplied by the values, and only then divided by their
    row sums, which gives the same numbers as normalising the weights first. With ``is_causal``,
    the keys a block of queries cannot see are skipped. For rows of many keys without a mask, the
    scores are shifted by a Cauchy-Schwarz bound of each row instead of its maximum, which the
    matrix product subtracts itself (see
    :func:`~simple_attention.attention.blocks.attend_by_query_blocks`). The blocks of a large
    input run on one thread per core where ``threadpoolctl`` is installed (the ``fast`` extra;
    see :mod:`simple_attention.attention.parallel`).
    :func:`~simple_attention.chunked_attention` also splits the keys into blocks, for memory that
    does not grow with ``n_keys``.

    Where the product with the values overflows (values near the largest number of the dtype,
    whose average is still finite), it is recomputed safely with the weights normalised first
    (for a block alone, in the blocked kernel): the context is never ``inf`` for finite inputs.

    float16 inputs are computed in float32 and the results cast back to float16.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import scaled_dot_product_attention
    >>> query = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> key = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> value = np.array([[1.0], [2.0], [3.0]])
    >>> context, weights = scaled_dot_product_attention(query, key, value, return_weights=True)
    >>> weights.round(4)
    array([[0.4011, 0.1978, 0.4011],
           [0.1978, 0.4011, 0.4011]])
    >>> context
    array([[2.        ],
           [2.20333628]])

    With a causal mask, the first query sees only the first key:

    >>> scaled_dot_product_attention(query, key, value, is_causal=True)
    array([[1.        ],
           [1.66976155]])
    """
    is_causal = check_flag(is_causal, "is_causal")
    return_weights = check_flag(return_weights, "return_weights")
    q, k, v = check_qkv(query, key, value)
    out_dtype = q.dtype
    work = working_dtype(out_dtype)
    # Contiguous copies make every memory layout (views, transposes) give identical results.
    q, k, v = (np.ascontiguousarray(a, dtype=work) for a in (q, k, v))
    scale = resolve_scale(scale, q.shape[-1])

    n_queries, n_keys = q.shape[-2], k.shape[-2]
    scores_shape = (*np.broadcast_shapes(q.shape[:-2], k.shape[:-2]), n_queries, n_keys)
    mask_arr = resolve_mask(mask, is_causal, scores_shape)

    if return_weights:
        context, weights = attend(q, k, v, scale=scale, mask=mask_arr, is_causal=is_causal)
        return context.astype(out_dtype, copy=False), weights.astype(out_dtype, copy=False)
    # Blocks of queries against the keys they may see: no (n_queries, n_keys) temporary, and causal
    # attention skips the keys above the diagonal instead of computing and then masking them.
    context = attend_blocked(q, k, v, scale=scale, mask=mask_arr, is_causal=is_causal)
    return context.astype(out_dtype, copy=False)


@overload
def self_attention(
    inputs: npt.ArrayLike, *, return_weights: Literal[False] = ...
) -> np.ndarray: ...
@overload
def self_attention(
    inputs: npt.ArrayLike, *, return_weights: Literal[True]
) -> tuple[np.ndarray, np.ndarray]: ...
def self_attention(
    inputs: npt.ArrayLike, *, return_weights: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""The seed notebook's self-attention: every input attends to every input, unscaled.

    With the inputs :math:`X` as queries, keys and values at once, this computes

    .. math:: \text{scores} = X X^\top, \qquad
              \text{weights} = \operatorname{softmax}(\text{scores}), \qquad
              \text{context} = \text{weights}\; X,

    the softmax running along each row. No weights are learned and the scores are not divided
    by :math:`\sqrt{d}`; this equals :func:`scaled_dot_product_attention` with ``scale=1.0``.

    Parameters
    ----------
    inputs : array_like, shape (..., n_tokens, dim)
        The embedding vectors :math:`x^{(i)}`, one per row.
    return_weights : bool, default False
        Also return the attention weights.

    Returns
    -------
    context : ndarray, shape (..., n_tokens, dim)
        One context vector per input.
    weights : ndarray, shape (..., n_tokens, n_tokens)
        Row ``i`` holds the weights of query ``i``; only if ``return_weights``.

    Raises
    ------
    ValueError
        If ``inputs`` is not at least 2-D or not finite.
    TypeError
        If ``inputs`` is not real, or ``return_weights`` is not a bool.
    FloatingPointError
        If the scores overflow the dtype.

    See Also
    --------
    self_attention_loop : the same with explicit loops, one query at a time.
    scaled_dot_product_attention : the general, scaled version.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import self_attention
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> context, weights = self_attention(x, return_weights=True)
    >>> weights.round(4)
    array([[0.4223, 0.1554, 0.4223],
           [0.1554, 0.4223, 0.4223],
           [0.2119, 0.2119, 0.5761]])
    >>> context.round(4)
    array([[0.8446, 0.5777],
           [0.5777, 0.8446],
           [0.7881, 0.7881]])
    """
    return_weights = check_flag(return_weights, "return_weights")
    x = as_float_array(inputs, "inputs")
    if x.ndim < 2:
        raise ValueError(f"inputs must be at least 2-D (..., n_tokens, dim), got shape {x.shape}")
    return scaled_dot_product_attention(  # type: ignore[call-overload]
        x, x, x, scale=1.0, return_weights=return_weights
    )


def scaled_dot_product_attention_backward(
    grad_context: npt.ArrayLike,
    query: npt.ArrayLike,
    key: npt.ArrayLike,
    value: npt.ArrayLike,
    weights: npt.ArrayLike,
    *,
    scale: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Gradients of a loss through :func:`scaled_dot_product_attention`.

    The forward pass computes the scores :math:`S = c\,QK^\top + M` (with the scale
    :math:`c`, by default :math:`1/\sqrt{d_k}`), the weights :math:`A = \operatorname{softmax}(S)`
    and the context :math:`Z = AV`. Given :math:`\mathrm{d}Z = \partial \mathcal{L} / \partial Z`,
    the chain rule run backwards gives

    .. math:: \mathrm{d}V = A^\top \mathrm{d}Z, \qquad
              \mathrm{d}A = \mathrm{d}Z\, V^\top, \qquad
              \mathrm{d}S = A \odot \bigl(\mathrm{d}A
              - \operatorname{rowsum}(\mathrm{d}A \odot A)\bigr),

    .. math:: \mathrm{d}Q = c\,\mathrm{d}S\,K, \qquad
              \mathrm{d}K = c\,\mathrm{d}S^{\top} Q.

    The mask needs no argument of its own: it is already in ``weights``. A blocked key has weight
    0, so its score gets gradient 0; a float mask is added to the scores, which passes the gradient
    through unchanged; a query that may attend to no key has a row of zero weights and gets a zero
    gradient, never NaN. With a single key (``n_keys = 1``) every weight is exactly 1, and the
    gradients of the queries and keys are exactly zero.

    Parameters
    ----------
    grad_context : array_like, shape (..., n_queries, d_v)
        Gradient of the loss with respect to the output of the forward call.
    query : array_like, shape (..., n_queries, d_k)
    key : array_like, shape (..., n_keys, d_k)
    value : array_like, shape (..., n_keys, d_v)
        The inputs of the forward call.
    weights : array_like, shape (..., n_queries, n_keys)
        The attention weights the forward call returned (``return_weights=True``).
    scale : float, optional
        The scale of the forward call; defaults to :math:`1/\sqrt{d_k}` as there.

    Returns
    -------
    grad_query : ndarray, shape of ``query``
    grad_key : ndarray, shape of ``key``
    grad_value : ndarray, shape of ``value``
        Where the leading (batch, head) dimensions of an input were broadcast in the forward
        pass, its gradient is summed over them, so that every gradient has the shape of its
        input. All three have the dtype of the inputs.

    Raises
    ------
    ValueError
        If ``grad_context`` or ``weights`` does not have the shape of the forward call's output,
        on non-finite values, or anything :func:`scaled_dot_product_attention` would refuse.
    TypeError
        On mixed dtypes, or a ``grad_context`` or ``weights`` that is boolean or complex (the
        imaginary part is never dropped).
    FloatingPointError
        If a gradient overflows the dtype. An intermediate product that overflows where the
        gradient does not (such as :math:`\mathrm{d}S\,K` before the scale) is
        recomputed in a safe order instead.

    See Also
    --------
    scaled_dot_product_attention : the forward pass.
    simple_attention.softmax_backward : the softmax step of the backward pass.
    simple_attention.gradcheck : checks these gradients against finite differences.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import (
    ...     scaled_dot_product_attention, scaled_dot_product_attention_backward)
    >>> query = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> key = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> value = np.array([[1.0], [2.0], [3.0]])
    >>> context, weights = scaled_dot_product_attention(query, key, value, return_weights=True)
    >>> grad_query, grad_key, grad_value = scaled_dot_product_attention_backward(
    ...     np.ones_like(context), query, key, value, weights)
    >>> grad_value  # how much weight each value received in total
    array([[0.59888791],
           [0.59888791],
           [0.80222419]])
    >>> grad_query.round(4)
    array([[0.    , 0.2836],
           [0.0577, 0.1683]])

    With a single key there is nothing to choose between, so the queries and keys get no
    gradient at all:

    >>> _, w = scaled_dot_product_attention(query, key[:1], value[:1], return_weights=True)
    >>> scaled_dot_product_attention_backward(
    ...     np.ones((2, 1)), query, key[:1], value[:1], w)[:2]
    (array([[0., 0.],
           [0., 0.]]), array([[0., 0.]]))
    """
    q, k, v = check_qkv(query, key, value)
    out_dtype = q.dtype
    g = as_float_array(grad_context, "grad_context")
    w = as_float_array(weights, "weights")
    check_same_dtype(query=q, grad_context=g, weights=w)
    n_queries, n_keys = q.shape[-2], k.shape[-2]
    if w.ndim < 2 or w.shape[-2:] != (n_queries, n_keys):
        raise ValueError(
            f"weights has shape {w.shape} but must be (..., {n_queries}, {n_keys}): "
            "one row per query, one column per key"
        )
    # A mask can add leading dimensions of its own, so the weights join the broadcast.
    try:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2], w.shape[:-2])
    except ValueError:
        raise ValueError(
            f"weights of shape {w.shape} do not broadcast against query {q.shape}, "
            f"key {k.shape} and value {v.shape}"
        ) from None
    context_shape = (*batch, n_queries, v.shape[-1])
    if g.shape != context_shape:
        raise ValueError(
            f"grad_context has shape {g.shape} but the context has shape {context_shape}"
        )
    scale = resolve_scale(scale, q.shape[-1])
    work = working_dtype(out_dtype)
    q, k, v, g, w = (a.astype(work, copy=False) for a in (q, k, v, g, w))

    grads = attend_backward(g, q, k, v, w, scale=scale)
    if out_dtype == work:
        return grads
    # float16: the gradients computed in float32 may not fit.
    with np.errstate(over="ignore"):
        grad_query, grad_key, grad_value = (grad.astype(out_dtype) for grad in grads)
    for name, grad in (
        ("grad_query", grad_query),
        ("grad_key", grad_key),
        ("grad_value", grad_value),
    ):
        _check_finite_gradient(grad, name)
    return grad_query, grad_key, grad_value


def attend_backward(
    grad_context: np.ndarray,
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    weights: np.ndarray,
    *,
    scale: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The gradients of :func:`scaled_dot_product_attention_backward`, without its checks.

    ``grad_context`` ``(..., n_queries, d_v)``, ``q``, ``k``, ``v`` and the ``weights``
    ``(..., n_queries, n_keys)`` of the forward call are arrays of one working dtype (float32 or
    float64) whose leading dimensions broadcast; ``weights`` are trusted, not checked for
    finiteness. Returns ``(grad_query, grad_key, grad_value)``, each summed over the dimensions its
    input was broadcast along, so that it has the shape of that input. Raises
    ``FloatingPointError`` if a gradient overflows.
    """
    batch = grad_context.shape[:-2]
    n_queries, n_keys = q.shape[-2], k.shape[-2]
    groups = slice_groups(q, k, v, weights, grad_context)
    if groups:
        # Large and one slice per (batch, head): groups of slices run on one thread per core.
        grads = tuple(np.empty(a.shape, a.dtype) for a in (q, k, v))  # C order: see flat_slices
        flat = [flat_slices(a) for a in (grad_context, q, k, v, weights, *grads)]

        def one_group(i: slice) -> None:
            g_i, q_i, k_i, v_i, w_i, grad_q, grad_k, grad_v = (a[i] for a in flat)
            if n_queries * n_keys >= BLOCK_ELEMENTS:  # large slices: one at a time, in blocks
                for j in range(len(g_i)):
                    arrays = (g_i[j], q_i[j], k_i[j], v_i[j], w_i[j])
                    out = (grad_q[j], grad_k[j], grad_v[j])
                    if not backward_by_query_blocks(*arrays, scale, *out):
                        out[0][...], out[1][...], out[2][...] = attend_backward(
                            *arrays, scale=scale
                        )
                return
            grad_q[...], grad_k[...], grad_v[...] = attend_backward(
                g_i, q_i, k_i, v_i, w_i, scale=scale
            )

        run_blocks(one_group, groups)
        return grads  # type: ignore[return-value]
    w = np.broadcast_to(weights, (*batch, n_queries, n_keys))
    g = grad_context
    # Overflow is detected in the results below, not warned about on the way.
    with np.errstate(over="ignore", invalid="ignore"):
        grad_value = np.swapaxes(w, -1, -2) @ g
        grad_query, grad_key = backward_through_scores(g @ np.swapaxes(v, -1, -2), w, q, k, scale)
        grads = (
            sum_to_shape(grad_query, q.shape),
            sum_to_shape(grad_key, k.shape),
            sum_to_shape(grad_value, v.shape),
        )
    for name, grad in zip(("grad_query", "grad_key", "grad_value"), grads, strict=True):
        _check_finite_gradient(grad, name)
    return grads


def backward_by_query_blocks(
    g: np.ndarray,
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    weights: np.ndarray,
    scale: float,
    grad_query: np.ndarray,
    grad_key: np.ndarray,
    grad_value: np.ndarray,
) -> bool:
    r"""The backward pass of one (batch, head) slice, a block of queries at a time.

    The formulas of :func:`scaled_dot_product_attention_backward`, for the rows of one block:
    :math:`\mathrm{d}A` and :math:`\mathrm{d}S` exist only for that block, which stays in the
    processor's cache through the four passes of the softmax's backward step, while
    :math:`\mathrm{d}V = A^\top \mathrm{d}Z` and :math:`\mathrm{d}K = c\,\mathrm{d}S^\top Q`
    add up over the blocks. All arrays are 2-D, of one dtype; the results are written into
    ``grad_query``, ``grad_key`` and ``grad_value``. Returns ``False`` if a result is not finite,
    for the caller to compute the slice again in the safe order of :func:`attend_backward`.
    """
    grad_key[...] = 0
    grad_value[...] = 0
    rows_per = max(1, BLOCK_ELEMENTS // max(k.shape[-2], 1))
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, q.shape[-2], rows_per):
            rows = slice(start, start + rows_per)
            w, g_rows = weights[rows], g[rows]
            grad_value += w.T @ g_rows
            grad_scores = g_rows @ v.T  # dA of these rows, then dS in place
            row_sums = np.multiply(grad_scores, w).sum(axis=-1, keepdims=True)
            np.subtract(grad_scores, row_sums, out=grad_scores)
            np.multiply(grad_scores, w, out=grad_scores)  # dS = A * (dA - rowsum(dA * A))
            np.matmul(grad_scores, k, out=grad_query[rows])
            grad_key += grad_scores.T @ q[rows]
        grad_query *= scale
        grad_key *= scale
    return bool(
        np.isfinite(grad_query).all()
        and np.isfinite(grad_key).all()
        and np.isfinite(grad_value).all()
    )


def backward_through_scores(
    grad_weights: np.ndarray, weights: np.ndarray, q: np.ndarray, k: np.ndarray, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    r"""dQ and dK from dA, through :math:`A = \operatorname{softmax}(c\,QK^\top + M)`.

    The part of the backward pass shared by every variant of attention (with or without
    dropout applied to :math:`A` afterwards). Nothing is validated or summed over broadcast
    dimensions here; the callers do both. Raises ``FloatingPointError`` if a gradient
    overflows even when computed in the safe order.
    """
    grad_scores = stable_softmax_backward(weights, grad_weights)
    grad_query = _scaled_product(grad_scores, k, scale, "grad_query")
    grad_key = _scaled_product(np.swapaxes(grad_scores, -1, -2), q, scale, "grad_key")
    return grad_query, grad_key


def _scaled_product(a: np.ndarray, b: np.ndarray, scale: float, name: str) -> np.ndarray:
    """``(a @ b) * scale``, or ``a @ (b * scale)`` where the product alone overflowed."""
    with np.errstate(over="ignore", invalid="ignore"):
        product = (a @ b) * scale
        if np.isfinite(product).all():
            return product
        # With scale < 1, a @ b can overflow where the scaled product does not (a cheap check
        # on an (n_queries, d) result; the recomputation happens only then).
        product = a @ (b * scale)
    _check_finite_gradient(product, name)
    return product


def _check_finite_gradient(grad: np.ndarray, name: str) -> None:
    if not np.isfinite(grad).all():
        raise FloatingPointError(
            f"{name} overflowed {grad.dtype}: the gradient is beyond the range of the dtype; "
            "use smaller gradients or a wider dtype"
        )


def sum_to_shape(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Undo broadcasting: sum ``grad`` over the dimensions that ``shape`` was stretched along.

    An input used for many (batch, head) slices receives the sum of their gradients.
    """
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad
