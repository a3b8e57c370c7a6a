"""Memory-efficient attention: the softmax computed online, one block of keys at a time.

:func:`scaled_dot_product_attention` needs every score of a query before it can normalise them.
:func:`chunked_attention` gets the same result while holding only one block of scores at a time,
by keeping a running maximum and a running sum per query and correcting them as new keys
arrive: the "online softmax" behind FlashAttention. Its extra memory grows with the block size
and with ``n x d``, not with ``n x n``.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from .._validation import check_flag, check_positive_int, working_dtype
from . import blocks
from .blocks import (
    block_slices,
    clip_to_values_,
    exp_shifted_,
    hide_future_,
    mask_block,
    nonzero_,
    score_bounds,
    scores_block,
    underflow_floor,
    visible_keys,
    with_bound_column,
    zero_if_blocked,
)
from .masks import apply_mask_, resolve_mask
from .parallel import run_blocks
from .scaled import check_qkv, resolve_scale

__all__ = ["chunked_attention"]


def chunked_attention(
    query: npt.ArrayLike,
    key: npt.ArrayLike,
    value: npt.ArrayLike,
    *,
    mask: npt.ArrayLike | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    block_size: int = 256,
) -> np.ndarray:
    r"""Scaled dot-product attention in blocks, with an online softmax: :math:`O(n)` memory.

    The result is that of :func:`~simple_attention.scaled_dot_product_attention` (to rounding), but
    the ``(n_queries, n_keys)`` score matrix never exists: queries are taken ``block_size`` at a
    time, and each block of queries meets the keys ``block_size`` at a time. A running maximum and
    a running sum per query turn the scores of each key block into weights as they arrive (see
    Notes). With ``is_causal=True``, key blocks that lie entirely above the diagonal are skipped.

    Parameters
    ----------
    query : array_like, shape (..., n_queries, d_k)
        One row per query position.
    key : array_like, shape (..., n_keys, d_k)
        One row per key position; same number of features as ``query``.
    value : array_like, shape (..., n_keys, d_v)
        One row per key position.
    mask : array_like of bool or float, optional
        As in :func:`~simple_attention.scaled_dot_product_attention`: broadcasts against the scores
        ``(..., n_queries, n_keys)``; boolean ``True`` = may attend, float = added to the scores.
        The mask is read one block at a time, so a key-padding mask ``(n_keys,)`` costs no
        ``(n_queries, n_keys)`` memory; a full ``(n_queries, n_keys)`` mask of course already takes
        that much.
    is_causal : bool, default False
        Let query ``i`` attend to keys ``j <= i`` only (top-left aligned, see
        :func:`~simple_attention.causal_mask`). Cannot be combined with ``mask``.
    scale : float, optional
        Factor :math:`c` applied to the scores; defaults to :math:`1/\sqrt{d_k}`.
    block_size : int, default 256
        Number of queries, and of keys, per block. Any positive size gives the same result to
        rounding, also one that does not divide ``n_queries`` or ``n_keys``. The scores held at any
        moment are ``(..., block_size, block_size)``.

    Returns
    -------
    context : ndarray, shape (..., n_queries, d_v)
        The outputs, in the dtype of the inputs. A query that may attend to no key gets a row
        of zeros, as in :func:`~simple_attention.scaled_dot_product_attention`. The attention
        weights are never formed, so they cannot be returned: use that function when you need
        them.

    Raises
    ------
    ValueError
        On NaN or infinite inputs, mismatched sizes, a bad mask shape, a non-finite ``scale``,
        ``is_causal`` together with ``mask``, or a ``block_size`` below 1.
    TypeError
        On boolean, complex or mixed-dtype inputs, an integer mask, a ``block_size`` that is
        not an integer, or an ``is_causal`` that is not a bool.
    FloatingPointError
        If the scaled scores overflow the dtype.

    See Also
    --------
    simple_attention.scaled_dot_product_attention : the same result, all the scores at once.

    Notes
    -----
    Take one query and split its scores :math:`s_0, \dots, s_{n_k-1}` into blocks. After the first
    :math:`t` blocks, keep three things: the largest score seen so far :math:`m_t`, the sum of
    the shifted exponentials :math:`\ell_t = \sum_{j \le t} e^{s_j - m_t}` and the unnormalised
    output :math:`u_t = \sum_{j \le t} e^{s_j - m_t} v_j` (sums over the keys seen so far).
    A new block :math:`B` with maximum :math:`\tilde m` raises the maximum to
    :math:`m_{t+1} = \max(m_t, \tilde m)`, and every earlier term only needs its shift changed,
    which is one factor for all of them:

    .. math::

        r = e^{m_t - m_{t+1}}, \qquad
        \ell_{t+1} = r\, \ell_t + \sum_{j \in B} e^{s_j - m_{t+1}}, \qquad
        u_{t+1} = r\, u_t + \sum_{j \in B} e^{s_j - m_{t+1}}\, v_j .

    After the last block, :math:`m` is the maximum of all the scores and

    .. math::

        \frac{u}{\ell} = \frac{\sum_j e^{s_j - m} v_j}{\sum_j e^{s_j - m}}
                       = \sum_j a_j\, v_j ,

    exactly the attention output (:math:`a_j` are the weights). Every exponent is :math:`\le 0`, so
    no exponential overflows, and :math:`r \le 1`. A query whose keys so far are all blocked has
    :math:`m = -\infty`; it is shifted by 0 instead, so that :math:`r = e^{-\infty} = 0` wipes its
    (empty) history without ever computing :math:`-\infty - (-\infty)`. If no key at all is
    visible, :math:`\ell = 0` and the output stays 0.

    The unnormalised :math:`u` is a sum of up to ``n_keys`` values and can overflow for values near
    the largest number of the dtype, where the output itself does not. A block of queries whose
    output is not finite is therefore computed once more keeping :math:`z = u / \ell` instead,
    a weighted average at every step: :math:`z_{t+1} = (r\, \ell_t / \ell_{t+1})\, z_t +
    \sum_{j \in B} (e^{s_j - m_{t+1}} / \ell_{t+1})\, v_j`, with the values halved and the
    result clipped to their range and doubled (exact steps that keep rounding from stepping
    past the largest number). That costs one more pass over the scores, so it is done only
    where needed.

    Memory: per block of queries, the running values take ``block_size x (d_v + 2)`` numbers
    and the scores ``block_size x block_size``; the output takes ``n_queries x d_v``. Nothing grows
    like ``n_queries x n_keys``.

    float16 inputs are computed in float32 and the results cast back to float16.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import chunked_attention, scaled_dot_product_attention
    >>> query = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> key = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> value = np.array([[1.0], [2.0], [3.0]])
    >>> chunked_attention(query, key, value, block_size=2)
    array([[2.        ],
           [2.20333628]])
    >>> chunked_attention(query, key, value, is_causal=True, block_size=1)
    array([[1.        ],
           [1.66976155]])

    The block size changes the order of the sums, not the result:

    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.normal(size=(3, 2, 100, 8))
    >>> full = scaled_dot_product_attention(q, k, v, is_causal=True)
    >>> all(np.allclose(chunked_attention(q, k, v, is_causal=True, block_size=b), full,
    ...                 rtol=0, atol=1e-12) for b in (1, 7, 32, 100, 1000))
    True
    """
    is_causal = check_flag(is_causal, "is_causal")
    q, k, v = check_qkv(query, key, value)
    out_dtype = q.dtype
    work = working_dtype(out_dtype)
    q, k, v = (np.ascontiguousarray(a, dtype=work) for a in (q, k, v))
    scale = resolve_scale(scale, q.shape[-1])
    block_size = check_positive_int(block_size, "block_size")

    n_queries, n_keys = q.shape[-2], k.shape[-2]
    scores_shape = (*np.broadcast_shapes(q.shape[:-2], k.shape[:-2]), n_queries, n_keys)
    mask_arr = resolve_mask(mask, is_causal, scores_shape)
    mask_batch = () if mask_arr is None else mask_arr.shape[:-2]
    batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2], mask_batch)

    context = np.empty((*batch, n_queries, v.shape[-1]), dtype=work)
    # Overflow is detected where it matters (the scores, the outputs), not warned about on the way.
    with np.errstate(over="ignore", invalid="ignore"):
        q_scaled = q * scale  # n_queries*d multiplications instead of n_queries*n_keys
        bounds = None
        if mask_arr is None and n_keys >= blocks.BOUND_MIN_KEYS:
            bounds = score_bounds(q_scaled, k, is_causal)
        shifted = None if bounds is None else with_bound_column(q_scaled, k, bounds)

    def one_query_block(rows: slice) -> None:
        with np.errstate(over="ignore", invalid="ignore"):  # per thread
            q_block = q_scaled[..., rows, :]
            output = None
            if shifted is not None and (
                blocks.fewest_keys(rows, n_keys, is_causal) >= blocks.BOUND_MIN_KEYS
            ):
                output = _attend_with_fixed_shift(
                    shifted[0][..., rows, :], shifted[1], v, rows, is_causal, block_size
                )
            if output is None:
                output = _attend_one_query_block(
                    q_block, k, v, rows, mask_arr, is_causal, block_size, normalise_early=False
                )
            if not np.isfinite(output).all():  # a cheap check on (rows, d_v); rare
                half = v * 0.5  # halving and doubling are exact (see the Notes)
                output = _attend_one_query_block(
                    q_block, k, half, rows, mask_arr, is_causal, block_size, normalise_early=True
                )
                clip_to_values_(output, half)
                output *= 2
            context[..., rows, :] = output

    query_blocks = list(block_slices(n_queries, block_size))
    if math.prod(batch) * n_queries * n_keys < blocks.PARALLEL_ELEMENTS:
        for rows in query_blocks:  # too little work to share out
            one_query_block(rows)
    else:
        run_blocks(one_query_block, query_blocks)
    return context.astype(out_dtype, copy=False)


def _attend_with_fixed_shift(
    q_block: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    rows: slice,
    is_causal: bool,
    block_size: int,
) -> np.ndarray | None:
    """The outputs of the queries ``rows``, every score shifted by its row's bound.

    ``q_block`` and ``k`` carry the bound columns of
    :func:`~simple_attention.attention.blocks.with_bound_column`, so each product of a key block
    is already shifted. With one shift per row for all the key blocks, the online softmax needs
    no running maximum and no rescaling: the sums simply add up. Returns ``None`` if a row's sum
    falls below :func:`~simple_attention.attention.blocks.underflow_floor` (its scores lie far
    below the bound), for the caller to compute the block the exact way.
    """
    running_sum = np.zeros((*q_block.shape[:-1], 1), dtype=q_block.dtype)  # l
    output = np.zeros((*q_block.shape[:-1], v.shape[-1]), dtype=q_block.dtype)
    n_visible = visible_keys(rows, k.shape[-2], is_causal)
    for cols in block_slices(k.shape[-2], block_size, stop=n_visible):
        # s - b <= 0 up to rounding, and |s| <= b is finite: these scores cannot overflow.
        scores = np.swapaxes(k[..., cols, :] @ np.swapaxes(q_block, -1, -2), -1, -2)
        if is_causal:
            hide_future_(scores, rows, cols)
        np.exp(scores, out=scores)
        running_sum += scores.sum(axis=-1, keepdims=True)
        output += scores @ v[..., cols, :]
    if np.any(running_sum < underflow_floor(n_visible, q_block.dtype)):
        return None
    return output / running_sum


def _attend_one_query_block(
    q_block: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    rows: slice,
    mask: np.ndarray | None,
    is_causal: bool,
    block_size: int,
    *,
    normalise_early: bool,
) -> np.ndarray:
    """The outputs of the queries ``rows``, from their keys ``block_size`` at a time.

    ``normalise_early`` keeps the running output divided by the running sum at every step (the
    safe, slower way of the Notes); otherwise the division comes once, at the end.
    """
    rows_shape = (*q_block.shape[:-1], 1)
    running_max = np.full(rows_shape, -np.inf, dtype=q_block.dtype)  # m in the Notes
    running_sum = np.zeros(rows_shape, dtype=q_block.dtype)  # l
    output = np.zeros((*q_block.shape[:-1], v.shape[-1]), dtype=q_block.dtype)  # a
    n_visible = visible_keys(rows, k.shape[-2], is_causal)
    for cols in block_slices(k.shape[-2], block_size, stop=n_visible):
        scores = scores_block(q_block, k[..., cols, :])
        if is_causal:
            hide_future_(scores, rows, cols)
        if mask is not None:
            scores = apply_mask_(scores, mask_block(mask, rows, cols))
        new_max = np.maximum(running_max, scores.max(axis=-1, keepdims=True))
        shift = zero_if_blocked(new_max)  # 0 while every key so far is blocked
        alpha = np.exp(running_max - shift)  # rescales the history to the new maximum
        block_sum = exp_shifted_(scores, shift)  # the scores now hold exp(x - shift)
        new_sum = alpha * running_sum + block_sum
        if normalise_early:
            total = nonzero_(new_sum.copy())
            scores /= total
            output = (alpha * running_sum / total) * output + scores @ v[..., cols, :]
        else:
            output = alpha * output + scores @ v[..., cols, :]
        running_sum = new_sum
        running_max = new_max
    return output if normalise_early else output / nonzero_(running_sum)
