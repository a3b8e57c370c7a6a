"""Attention computed one block of the score matrix at a time.

The score matrix of ``n_queries`` queries against ``n_keys`` keys has ``n_queries x n_keys``
entries: 64 MiB for 4096 tokens in float32, per head. Computing it for a block of queries at a time
keeps the memory bounded and the block in the processor's cache, and lets causal attention skip the
keys a block of queries cannot see. The functions here are the pieces that
:func:`~simple_attention.scaled_dot_product_attention` and
:func:`~simple_attention.chunked_attention` share; none of them checks its input, their callers do.

Every function that ends in ``_`` works in place on the block it is given, so that a block of
scores is allocated once and then turned into weights without a new temporary at each step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .._validation import check_finite_scores
from .masks import apply_mask_
from .parallel import run_blocks

# Only the kernel itself is published: the pieces below are its steps, documented here for the
# reader of this file, not API of their own.
__all__ = ["attend_by_query_blocks"]

# About half a million scores per block (2 MiB in float32): 128 queries against 4096 keys. Large
# enough for matrix products near full speed, small enough for the passes of the softmax to
# read from cache, and one block per core at a time. With two threads, measured faster than
# blocks of 64, 256 and 512 queries.
BLOCK_ELEMENTS = 1 << 19

# Rows of fewer keys are shifted by their exact maximum. The bound's shift rounds each score to
# within eps * (b - s) instead of eps * (m - s); over many keys these errors average out in the
# context, over few keys one weight's error shows. Measured against float64: from 2048 keys on,
# the bound is as accurate as the maximum; at 64 keys up to 2.5 times less.
BOUND_MIN_KEYS = 2048

# Below this many scores in all, starting the threads costs more than they save.
PARALLEL_ELEMENTS = 1 << 18

Timer = Callable[[str], None]
"""Called with the name of each step of :func:`attend_by_query_blocks` as soon as it is done."""

# The steps of attend_by_query_blocks, in order, as a Timer sees them: the first once,
# the others once per block. benchmarks/bench_attention.py times the kernel through them.
STEPS = (
    "scale queries, bounds",
    "scores q k^T",
    "mask",
    "shift, exp, row sum",
    "weights v",
    "divide",
    "check overflow",
)


def block_slices(n: int, size: int, stop: int | None = None) -> Iterator[slice]:
    """Slices ``[0, size), [size, 2 size), ...`` covering ``range(stop)`` (``stop=n`` default)."""
    stop = n if stop is None else min(stop, n)
    for start in range(0, stop, size):
        yield slice(start, min(start + size, stop))


def rows_per_block(n_rows: int, row_elements: int) -> int:
    """How many query rows of ``row_elements`` scores each fit in one block (at least one)."""
    return max(1, min(n_rows, BLOCK_ELEMENTS // max(row_elements, 1)))


def visible_keys(rows: slice, n_keys: int, is_causal: bool) -> int:
    """The number of leading keys that the queries ``rows`` may see (all without a mask)."""
    # Top-left alignment: query i sees keys 0..i, so the last row of the block sees the most.
    return min(rows.stop, n_keys) if is_causal else n_keys


def fewest_keys(rows: slice, n_keys: int, is_causal: bool) -> int:
    """The number of keys that the first of the queries ``rows`` may see, the fewest of any."""
    return min(rows.start + 1, n_keys) if is_causal else n_keys


def scores_block(q_scaled: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``q_scaled @ k.T``, raising ``FloatingPointError`` if a score overflowed.

    Computed as the transpose of ``k @ q_scaled.T``: for a thin block of queries against many
    keys, BLAS is faster at that shape (measured about 10% on the whole attention), and the
    transpose is a free view. The element-wise steps that follow work on it as they are.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        scores = np.swapaxes(k @ np.swapaxes(q_scaled, -1, -2), -1, -2)
    check_finite_scores(scores)
    return scores


def mask_block(mask: np.ndarray, rows: slice, cols: slice) -> np.ndarray:
    """The part of ``mask`` (broadcasting against ``(..., n_queries, n_keys)``) for these blocks.

    A view: a key-padding mask of shape ``(n_keys,)`` is never expanded to ``(n_queries, n_keys)``.
    """
    as_2d = mask.reshape((1,) * max(2 - mask.ndim, 0) + mask.shape)
    # A dimension of length 1 broadcasts: keep it whole rather than slice past its end.
    row_part = rows if as_2d.shape[-2] > 1 else slice(None)
    col_part = cols if as_2d.shape[-1] > 1 else slice(None)
    return as_2d[..., row_part, col_part]


def hide_future_(scores: np.ndarray, rows: slice, cols: slice) -> None:
    """Causal mask in place: ``-inf`` where key ``j`` comes after query ``i`` (top-left aligned).

    Only the columns that some query of the block may not see are touched: for a block of
    queries against all earlier keys, that is a square at the diagonal, not the whole block.
    """
    offset = rows.start - cols.start  # query r of the block sees the columns c <= r + offset
    first = max(offset + 1, 0)  # the columns before this one are visible to every query
    if first >= scores.shape[-1]:
        return
    tail = scores[..., first:]
    visible = np.tri(tail.shape[-2], tail.shape[-1], k=offset - first, dtype=bool)
    np.copyto(tail, -np.inf, where=~visible)


def zero_if_blocked(row_max: np.ndarray) -> np.ndarray:
    """The shift for each row: its maximum, or ``0`` where the row is entirely ``-inf``.

    Shifting a blocked row by ``0`` instead of ``-inf`` avoids ``-inf - (-inf) = NaN`` before
    the exponential: its exponentials are then all ``0``, and so is its output.
    """
    return np.where(np.isneginf(row_max), 0, row_max).astype(row_max.dtype, copy=False)


def safe_row_max(scores: np.ndarray) -> np.ndarray:
    """The shift of each row: its maximum, or ``0`` if no key of the row is visible."""
    return zero_if_blocked(scores.max(axis=-1, keepdims=True, initial=-np.inf))


def exp_shifted_(scores: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Turn ``scores`` into ``exp(scores - shift)`` in place, and return the row sums."""
    np.subtract(scores, shift, out=scores)
    np.exp(scores, out=scores)
    return scores.sum(axis=-1, keepdims=True)


def nonzero_(totals: np.ndarray) -> np.ndarray:
    """Row sums with ``0`` replaced by ``1``, in place: a blocked row divides to zeros, not NaN."""
    totals[totals == 0] = 1
    return totals


def clip_to_values_(context: np.ndarray, values: np.ndarray) -> None:
    """Clip weighted averages of ``values`` to the range of the values (and 0), in place.

    An average lies between the smallest and the largest value (a query with no key gets 0), but
    its rounded sum can step past the largest number of the dtype when the values are near it.
    ``values`` is ``(..., n_keys, d_v)`` with ``n_keys >= 1``; ``context`` broadcasts against it.
    """
    low = np.minimum(values.min(axis=-2, keepdims=True), 0)
    high = np.maximum(values.max(axis=-2, keepdims=True), 0)
    np.clip(context, low, high, out=context)


def weighted_average_(weights: np.ndarray, values: np.ndarray, context: np.ndarray) -> None:
    r"""``context = weights @ values`` for normalised ``weights``, never ``inf`` for finite values.

    Computed as :math:`2\,(W (V / 2))`, clipped to the range of the values, into ``context``
    in place: halving and doubling are exact, and keep the rounded sums of the average from
    stepping past the largest number of the dtype. The safe (and slower) way, for values near
    that number, where ``weights @ values`` overflowed.
    """
    half = values * 0.5
    np.matmul(weights, half, out=context)
    clip_to_values_(context, half)
    context *= 2


def score_bounds(q_scaled: np.ndarray, k: np.ndarray, is_causal: bool) -> np.ndarray | None:
    r"""An upper bound of every score of each query: :math:`b_i = |c\,q_i|\,\max_j |k_j|`.

    By the Cauchy-Schwarz inequality, :math:`c\,q_i \cdot k_j \le |c\,q_i|\,|k_j|`, so
    :math:`b_i` bounds every score of query :math:`i` from above, and :math:`e^{s_{ij} - b_i}`
    never overflows, just as :math:`e^{s_{ij} - m_i}` with the row maximum :math:`m_i`. It costs
    two norms per token instead of a pass over the :math:`n_q \times n_k` scores. With
    ``is_causal`` the maximum runs over the keys :math:`j \le i` that query :math:`i` may see,
    which gives a tighter bound. Returns ``(..., n_queries, 1)`` in the dtype of the inputs, or
    ``None`` where a bound does not fit in the dtype (the exact maximum is then used).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        q_norms = np.sqrt(np.einsum("...f,...f->...", q_scaled, q_scaled))  # (..., n_queries)
        k_norms = np.sqrt(np.einsum("...f,...f->...", k, k))  # (..., n_keys)
        if is_causal:
            n_queries, n_keys = q_scaled.shape[-2], k.shape[-2]
            seen = np.minimum(np.arange(n_queries), n_keys - 1)  # the last key query i sees
            k_max = np.maximum.accumulate(k_norms, axis=-1)[..., seen]
        else:
            k_max = k_norms.max(axis=-1, keepdims=True, initial=0)
        bounds = (q_norms * k_max)[..., None]
    # Half the largest number leaves room for the rounding of the scores under the bound.
    if not np.all(bounds < np.finfo(bounds.dtype).max / 2):
        return None
    return bounds


def with_bound_column(
    q_scaled: np.ndarray, k: np.ndarray, bounds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    r"""``[c q | -b]`` and ``[k | 1]``: their product is the shifted scores :math:`s_{ij} - b_i`.

    One more column on each side makes the matrix product subtract the bound, so that no pass
    over the scores is needed for it.
    """
    batch = np.broadcast_shapes(q_scaled.shape[:-2], bounds.shape[:-2])
    q_aug = np.empty((*batch, q_scaled.shape[-2], q_scaled.shape[-1] + 1), q_scaled.dtype)
    q_aug[..., :-1] = q_scaled
    np.negative(bounds, out=q_aug[..., -1:])
    k_aug = np.empty((*k.shape[:-1], k.shape[-1] + 1), k.dtype)
    k_aug[..., :-1] = k
    k_aug[..., -1] = 1
    return q_aug, k_aug


def underflow_floor(n_keys: int, dtype: np.dtype[Any]) -> float:
    r"""The smallest row sum :math:`\sum_j e^{s_{ij} - b_i}` that the bound may leave.

    A row whose largest score lies far below its bound has exponentials that all underflow
    towards 0. If its sum is at least ``n_keys`` times :math:`\sqrt{\text{tiny}}`, its largest
    exponential is at least :math:`\sqrt{\text{tiny}}` (about ``1e-19`` in float32), which leaves
    every exponential that matters far above the smallest normal number: the weights are then
    as accurate as with the exact maximum. Rows below this floor are computed again with the
    exact maximum.
    """
    return float(max(n_keys, 1) * np.sqrt(np.finfo(dtype).tiny))


def attend_by_query_blocks(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    scale: float,
    mask: np.ndarray | None,
    *,
    is_causal: bool,
    return_weights: bool,
    timer: Timer | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    r"""Attention of blocks of queries against all the keys they may see.

    For each block of queries: the scores, shifted by a bound of each row (see below), their
    exponentials (in place, on that one buffer), the row sums, and the product with the values.
    The division by the row sums comes last and touches only the ``(rows, d_v)`` result:
    :math:`(P / r)\,V = (P V) / r` for a row sum :math:`r`. Only a block whose :math:`P V`
    overflowed (values near the largest number of the dtype) is recomputed as a weighted
    average, :math:`(P / r)\,V`, which is finite: see ``attend_block``.

    **The shift.** Any number at least as large as every score of a row keeps its exponentials
    from overflowing; the row maximum is only the smallest such number. The kernel shifts each
    row by the bound :math:`b_i` of ``score_bounds`` instead, which costs no pass over the
    scores: with one more column on the queries (:math:`-b_i`) and on the keys (``1``), the
    matrix product itself returns :math:`s_{ij} - b_i`. A row whose sum falls below
    ``underflow_floor`` (its scores lie far below the bound) is computed again, with its
    block, shifted by the exact maximum. The bound is used without a mask (causal or not) and for
    rows of at least ``BOUND_MIN_KEYS`` keys: a float mask can raise a score above any bound of
    :math:`q_i \cdot k_j`, and with a boolean mask the exact maximum keeps a blocked key exactly
    the same as a deleted one.

    Blocks are cut per (batch, head) slice once a slice alone fills a block, so that a block
    stays small enough for the cache while its matrix products stay large enough for BLAS. The
    blocks are independent, and run on one thread per core
    (``simple_attention.attention.parallel.run_blocks``).

    ``q``, ``k``, ``v`` are validated, contiguous arrays of one working dtype; ``mask`` is
    validated (or ``None``). Returns the context ``(..., n_queries, d_v)`` and, if
    ``return_weights``, the weights ``(..., n_queries, n_keys)`` (else ``None``), both in the
    working dtype. ``timer``, if given, is called after each step with its name (see ``STEPS``), to
    time the steps of the kernel itself rather than a copy of them; the blocks then run one after
    the other, on the calling thread.
    """
    n_queries, n_keys = q.shape[-2], k.shape[-2]
    mask_batch = () if mask is None else mask.shape[:-2]
    scores_batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], mask_batch)
    batch = np.broadcast_shapes(scores_batch, v.shape[:-2])
    context = np.empty((*batch, n_queries, v.shape[-1]), dtype=q.dtype)
    weights = np.zeros((*scores_batch, n_queries, n_keys), q.dtype) if return_weights else None
    # Overflow is detected where it matters (the scores, the outputs), not warned about on the way.
    with np.errstate(over="ignore", invalid="ignore"):
        q_scaled = q * scale  # n_queries*d multiplications instead of n_queries*n_keys
        bounds = None
        if mask is None and n_keys >= BOUND_MIN_KEYS:
            bounds = score_bounds(q_scaled, k, is_causal)
        shifted = None if bounds is None else with_bound_column(q_scaled, k, bounds)
    if timer:
        timer("scale queries, bounds")
    blocks = [
        (item, rows)
        for item in batch_items(batch, scores_batch, n_queries * n_keys)
        for rows in block_slices(n_queries, rows_per_block(n_queries, item.size * n_keys))
    ]

    def work(block: tuple[BatchItem, slice]) -> None:
        item, rows = block
        keys = slice(0, visible_keys(rows, n_keys, is_causal))
        with np.errstate(over="ignore", invalid="ignore"):  # per thread
            attend_block(
                item.of(q_scaled)[..., rows, :],
                item.of(k)[..., keys, :],
                item.of(v)[..., keys, :],
                None if mask is None else mask_block(item.of(mask), rows, keys),
                (rows, keys) if is_causal else None,
                item.of(context)[..., rows, :],
                None if weights is None else item.of(weights)[..., rows, keys],
                None
                if shifted is None or fewest_keys(rows, n_keys, is_causal) < BOUND_MIN_KEYS
                else (item.of(shifted[0])[..., rows, :], item.of(shifted[1])[..., keys, :]),
                timer,
            )

    if timer or math.prod(scores_batch) * n_queries * n_keys < PARALLEL_ELEMENTS:
        for block in blocks:  # too little work to share out, or steps to time one by one
            work(block)
    else:
        run_blocks(work, blocks)
    return context, weights


def attend_block(
    q_block: np.ndarray,
    k_block: np.ndarray,
    v_block: np.ndarray,
    mask: np.ndarray | None,
    causal: tuple[slice, slice] | None,
    context: np.ndarray,
    weights: np.ndarray | None,
    shifted: tuple[np.ndarray, np.ndarray] | None = None,
    timer: Timer | None = None,
) -> None:
    r"""Attention of one block of queries, written into the views ``context`` and ``weights``.

    ``mask`` is the block of a validated mask; ``causal`` the (queries, keys) position of the
    block for causal attention; ``shifted`` the block's queries and keys with their bound
    columns (:func:`with_bound_column`), or ``None`` to shift by the exact row maximum. The
    block of scores is the only large array, and it dies when the function returns, before the
    next block is allocated.

    :math:`P V` sums up to ``n_keys`` values and overflows for values near the largest number of
    the dtype, where the output, their weighted average, does not. Such a block (found by a cheap
    check of its ``(rows, d_v)`` output) is recomputed as :math:`2\,((P / r)(V / 2))`, clipped to
    the range of the values: halving and doubling are exact, and keep the rounded sums of the
    average from stepping past the largest number. ``timer``, if given, is called after each step
    with its name (``STEPS``).
    """
    if shifted is not None:
        # s - b <= 0 up to rounding, and |s| <= b is finite: these scores cannot overflow.
        scores = np.swapaxes(shifted[1] @ np.swapaxes(shifted[0], -1, -2), -1, -2)
    else:
        scores = scores_block(q_block, k_block)
    if timer:
        timer("scores q k^T")
    if mask is not None:
        scores = apply_mask_(scores, mask)
    if causal is not None:
        hide_future_(scores, *causal)
    if timer:
        timer("mask")
    if shifted is not None:
        np.exp(scores, out=scores)
        totals = scores.sum(axis=-1, keepdims=True)
        if np.any(totals < underflow_floor(k_block.shape[-2], scores.dtype)):
            # Some row lies far below its bound (or is blocked entirely): the exact way.
            attend_block(q_block, k_block, v_block, mask, causal, context, weights, None, timer)
            return
    else:
        totals = exp_shifted_(scores, safe_row_max(scores))  # scores now hold exp(x - max)
    nonzero_(totals)
    if timer:
        timer("shift, exp, row sum")
    np.matmul(scores, v_block, out=context)
    if timer:
        timer("weights v")
    context /= totals
    if timer:
        timer("divide")
    overflowed = not np.isfinite(context).all()
    if timer:
        timer("check overflow")
    if overflowed:
        scores /= totals  # one more pass over the scores, for this block only
        weighted_average_(scores, v_block, context)
        if weights is not None:
            np.copyto(weights, scores)
    elif weights is not None:
        np.divide(scores, totals, out=weights)


class BatchItem:
    """One (batch, head) slice of the leading dimensions, or all of them at once.

    ``of(a)`` is the part of ``a`` that belongs to the item, a view: ``a`` itself for the whole
    batch, and for one slice the index with the axes that ``a`` broadcasts along pinned to 0.
    """

    def __init__(self, index: tuple[int, ...] | None, size: int) -> None:
        self.index = index
        self.size = size  # how many slices the item holds

    def of(self, a: np.ndarray) -> np.ndarray:
        if self.index is None:
            return a
        n_batch = a.ndim - 2
        if n_batch <= 0:
            return a
        own = self.index[len(self.index) - n_batch :]
        return a[tuple(i if n > 1 else 0 for i, n in zip(own, a.shape[:n_batch], strict=True))]


def batch_items(
    batch: tuple[int, ...], scores_batch: tuple[int, ...], slice_elements: int
) -> Iterator[BatchItem]:
    """The whole batch as one item, or one item per slice once a slice alone is large.

    Small problems go through in one vectorised pass (a Python loop over thousands of tiny
    slices would cost more than the arithmetic); large ones one slice at a time, so that a
    block of rows of one slice fits in the cache.
    """
    n_slices = math.prod(scores_batch)
    if n_slices <= 1 or slice_elements < BLOCK_ELEMENTS // 16:
        yield BatchItem(None, n_slices)
        return
    for index in np.ndindex(batch):
        yield BatchItem(index, 1)
