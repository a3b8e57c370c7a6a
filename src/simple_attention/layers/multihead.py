r"""Multi-head attention: several small attentions side by side, each with its own view.

One attention head computes one set of weights per query, so it can follow only one kind of
relation at a time. Multi-head attention cuts the ``d_model`` features of the queries, keys and
values into ``n_heads`` slices of ``d_head = d_model / n_heads`` features, runs scaled
dot-product attention on every slice independently, glues the results back together and mixes
them with one more projection, ``W_out``.

The cutting and gluing are only reshapes:

.. code-block:: text

    (..., n, d_model) --reshape--> (..., n, n_heads, d_head) --swap--> (..., n_heads, n, d_head)

and the same steps backwards to merge the heads, so every head is simply one more leading
dimension for :func:`~simple_attention.scaled_dot_product_attention`. This module holds the
two reshapes; the layer, :class:`~simple_attention.MultiHeadAttention`, is one configuration of
:class:`~simple_attention.Attention` (several heads and ``W_out``).
"""

from __future__ import annotations

import numpy as np

from .._validation import check_positive_int

__all__ = ["merge_heads", "split_heads"]


def split_heads(x: np.ndarray, n_heads: int) -> np.ndarray:
    """Cut the last axis into heads: ``(..., n, d_model) -> (..., n_heads, n, d_head)``.

    Head ``h`` gets the features ``h * d_head`` to ``(h + 1) * d_head - 1``.

    Raises
    ------
    ValueError
        If ``x`` is not at least 2-D, or ``n_heads`` is not positive or does not divide the
        size of the last axis.
    TypeError
        If ``n_heads`` is not an integer.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention.layers.multihead import split_heads
    >>> x = np.arange(12.0).reshape(3, 4)  # 3 tokens, d_model = 4
    >>> split_heads(x, 2)  # head 0 gets features 0-1, head 1 features 2-3
    array([[[ 0.,  1.],
            [ 4.,  5.],
            [ 8.,  9.]],
    <BLANKLINE>
           [[ 2.,  3.],
            [ 6.,  7.],
            [10., 11.]]])
    """
    n_heads = check_positive_int(n_heads, "n_heads")
    if x.ndim < 2:
        raise ValueError(f"x must be at least 2-D (..., n, d_model), got shape {x.shape}")
    *lead, n, d_model = x.shape
    if d_model % n_heads:
        raise ValueError(f"x has d_model={d_model} features, not divisible by n_heads={n_heads}")
    return np.swapaxes(x.reshape(*lead, n, n_heads, d_model // n_heads), -2, -3)


def merge_heads(x: np.ndarray) -> np.ndarray:
    """Glue the heads back together: ``(..., n_heads, n, d_head) -> (..., n, d_model)``.

    The inverse of :func:`split_heads`.

    Raises
    ------
    ValueError
        If ``x`` is not at least 3-D.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention.layers.multihead import merge_heads, split_heads
    >>> x = np.arange(12.0).reshape(3, 4)
    >>> np.array_equal(merge_heads(split_heads(x, 2)), x)
    True
    """
    if x.ndim < 3:
        raise ValueError(f"x must be at least 3-D (..., n_heads, n, d_head), got shape {x.shape}")
    swapped = np.swapaxes(x, -2, -3)
    # The size spelled out, not -1, which is ambiguous for an empty sequence or batch.
    return swapped.reshape(*swapped.shape[:-2], swapped.shape[-2] * swapped.shape[-1])
