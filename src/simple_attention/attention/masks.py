"""Masks: which query may look at which key.

One convention throughout the library, the same as PyTorch's ``scaled_dot_product_attention``
and JAX:

* a **boolean** mask says ``True`` = *may attend*, ``False`` = *blocked*;
* a **float** mask is *added* to the scores: ``0`` changes nothing, ``-inf`` blocks.

Integer masks are refused, because ``0``/``1`` could be read either way.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .._validation import as_float_array, check_flag, check_positive_int

__all__ = [
    "apply_mask_",
    "causal_mask",
    "causal_mask_bottom_right",
    "key_padding_mask",
]


def causal_mask(n_queries: int, n_keys: int | None = None) -> np.ndarray:
    """Boolean mask that lets query ``i`` attend to keys ``0..i`` only.

    The mask is the lower triangle of an ``n_queries x n_keys`` matrix of ones, aligned at the
    **top left** (as in PyTorch and JAX): query ``i`` sees keys ``j <= i`` whatever the number of
    keys. When there are more keys than queries, the last keys are therefore hidden from every
    query; slice the mask yourself if you want bottom-right alignment (as when decoding with a
    cache).

    Parameters
    ----------
    n_queries : int
        Number of rows ``n_queries``.
    n_keys : int, optional
        Number of columns ``n_keys``; defaults to ``n_queries``.

    Returns
    -------
    ndarray of bool, shape (n_queries, n_keys)
        ``True`` where the query may attend to the key.

    Examples
    --------
    >>> from simple_attention import causal_mask
    >>> causal_mask(3)
    array([[ True, False, False],
           [ True,  True, False],
           [ True,  True,  True]])
    >>> causal_mask(2, 4)
    array([[ True, False, False, False],
           [ True,  True, False, False]])
    """
    n_queries = check_positive_int(n_queries, "n_queries", allow_zero=True)
    n_keys = n_queries if n_keys is None else check_positive_int(n_keys, "n_keys", allow_zero=True)
    return np.tri(n_queries, n_keys, dtype=bool)


def causal_mask_bottom_right(n_queries: int, n_keys: int) -> np.ndarray:
    """Causal mask for queries that are the *last* ``n_queries`` of ``n_keys`` positions.

    Query ``i`` may attend to keys ``j <= n_keys - n_queries + i``: the lower triangle aligned
    at the bottom-right corner, which is what decoding with a
    :class:`~simple_attention.KVCache` needs. For ``n_queries == n_keys`` it equals
    :func:`~simple_attention.causal_mask`. With more queries
    than keys, the first ``n_queries - n_keys`` queries see no key at all (their outputs are
    zeros).

    Parameters
    ----------
    n_queries : int
        Number of rows ``n_queries`` (the new positions).
    n_keys : int
        Number of columns ``n_keys`` (all positions so far, the new ones included).

    Returns
    -------
    ndarray of bool, shape (n_queries, n_keys)
        ``True`` where the query may attend to the key.

    Examples
    --------
    >>> from simple_attention import causal_mask, causal_mask_bottom_right
    >>> causal_mask_bottom_right(2, 4)  # the two newest of four positions
    array([[ True,  True,  True, False],
           [ True,  True,  True,  True]])
    >>> causal_mask(2, 4)  # top-left: wrong for decoding
    array([[ True, False, False, False],
           [ True,  True, False, False]])
    """
    n_queries = check_positive_int(n_queries, "n_queries", allow_zero=True)
    n_keys = check_positive_int(n_keys, "n_keys", allow_zero=True)
    return np.tri(n_queries, n_keys, k=n_keys - n_queries, dtype=bool)


def key_padding_mask(keep: npt.ArrayLike, *, is_causal: bool = False) -> np.ndarray:
    """Turn the real-token mask ``keep`` of shape ``(B, n_keys)`` into an attention mask.

    The scores of multi-head attention have shape ``(B, n_heads, n_queries, n_keys)``, so a mask
    that depends only on the sentence ``b`` and the key ``j`` must be shaped ``(B, 1, 1, n_keys)``:
    the two ones broadcast over the heads and the queries. (Passing ``keep`` itself,
    ``(B, n_keys)``, would line ``B`` up with the *queries* axis: wrong, or a shape error.)

    Parameters
    ----------
    keep : array_like of bool, shape (B, n_keys)
        ``True`` at the real tokens, as returned by :func:`pad_batch`.
    is_causal : bool, default False
        Also block the future: combine with :func:`~simple_attention.causal_mask`
        ``(n_keys, n_keys)``.

    Returns
    -------
    ndarray of bool, shape (B, 1, 1, n_keys), or (B, 1, n_keys, n_keys) if ``is_causal``
        ``True`` = may attend. For single-head attention, whose scores are
        ``(B, n_queries, n_keys)``, take ``mask[:, 0]``.

    Raises
    ------
    TypeError
        If ``keep`` is not boolean, or ``is_causal`` is not a bool.
    ValueError
        If ``keep`` is not 2-D.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import key_padding_mask
    >>> keep = np.array([[True, True, False], [True, True, True]])
    >>> key_padding_mask(keep).shape
    (2, 1, 1, 3)
    >>> key_padding_mask(keep, is_causal=True)[0, 0]  # sentence 0: causal, and key 2 blocked
    array([[ True, False, False],
           [ True,  True, False],
           [ True,  True, False]])
    """
    is_causal = check_flag(is_causal, "is_causal")
    arr = np.asarray(keep)
    if arr.dtype != np.bool_:
        raise TypeError(f"keep must be boolean (True = real token), got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"keep must have shape (batch, n_keys), got shape {arr.shape}")
    mask = arr[:, None, None, :]
    if is_causal:
        mask = causal_mask(arr.shape[1]) & mask
    return mask


def check_mask(mask: npt.ArrayLike, scores_shape: tuple[int, ...]) -> np.ndarray:
    """Validate ``mask`` against scores ``(..., n_queries, n_keys)``; return it as an array.

    Raises ``TypeError`` for masks that are neither boolean nor floating point, and
    ``ValueError`` for a float mask holding NaN or ``+inf`` or a mask whose shape does not
    broadcast against the scores.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention.attention.masks import check_mask
    >>> check_mask([True, True, False], (2, 3)).dtype
    dtype('bool')
    >>> check_mask(np.array([1, 0]), (2, 2))
    Traceback (most recent call last):
        ...
    TypeError: mask must be bool (True = may attend) or float (added to scores), got int64
    """
    arr = np.asarray(mask)
    if arr.dtype != np.bool_:
        if not np.issubdtype(arr.dtype, np.floating):
            raise TypeError(
                "mask must be bool (True = may attend) or float (added to scores), "
                f"got {arr.dtype}"
            )
        arr = as_float_array(arr, "mask", allow_neg_inf=True)
    try:
        np.broadcast_shapes(arr.shape, scores_shape)
    except ValueError:
        raise ValueError(
            f"mask of shape {arr.shape} does not broadcast against the scores of shape "
            f"{scores_shape} (..., n_queries, n_keys)"
        ) from None
    return arr


def resolve_mask(
    mask: npt.ArrayLike | None, is_causal: bool, scores_shape: tuple[int, ...]
) -> np.ndarray | None:
    """Check ``mask`` against scores ``(..., n_queries, n_keys)``; refuse it with ``is_causal``.

    The one place where every attention function and layer applies the rule "pass either
    ``mask=`` or ``is_causal=True``": combining the two is the caller's choice to make
    explicitly, ``causal_mask(n_queries, n_keys) & mask``. Returns the validated mask, or ``None``.
    """
    if is_causal and mask is not None:
        raise ValueError(
            "pass either mask= or is_causal=True, not both; combine them yourself with "
            "causal_mask(n_queries, n_keys) & mask"
        )
    return None if mask is None else check_mask(mask, scores_shape)


def apply_mask_(scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Apply ``mask`` to ``scores``, in place where the shapes allow, and return the result.

    Boolean: ``False`` becomes ``-inf``. Float: added to the scores, after casting it to their
    dtype. ``mask`` must already be validated by ``check_mask``. The result has the
    broadcast shape of the two and the dtype of ``scores``: ``scores`` itself, or a new array
    only if the mask adds (batch) dimensions of its own. A float mask that takes a score to
    ``+inf`` raises ``FloatingPointError``, as in
    :func:`~simple_attention.scaled_dot_product_attention`; one that takes it below the dtype's
    range gives ``-inf``, which blocks the key as the mask means to.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention.attention.masks import apply_mask_
    >>> apply_mask_(np.zeros((2, 2)), np.array([[True, False], [True, True]]))
    array([[  0., -inf],
           [  0.,   0.]])
    """
    shape = np.broadcast_shapes(scores.shape, mask.shape)
    if shape != scores.shape:
        scores = np.broadcast_to(scores, shape).copy()
    if mask.dtype == np.bool_:
        np.copyto(scores, -np.inf, where=~mask)
        return scores
    with np.errstate(over="ignore"):
        scores += mask.astype(scores.dtype, copy=False)
    if np.isposinf(scores).any():
        raise FloatingPointError(
            f"adding the float mask overflowed the scores ({scores.dtype}); use smaller values"
        )
    return scores
