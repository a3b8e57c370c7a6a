"""An independent textbook implementation of attention, for the tests to compare against."""

from __future__ import annotations

import math

import numpy as np


def reference_attention(q, k, v, mask=None, scale=None):
    """Float64 attention written from the formula; a fully blocked row gives zeros.

    ``mask`` is boolean (True = may attend). Returns ``(context, weights)``.
    """
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ np.swapaxes(k, -1, -2) * scale
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    row_max = scores.max(-1, keepdims=True, initial=-np.inf)
    row_max[np.isneginf(row_max)] = 0
    weights = np.exp(scores - row_max)
    totals = weights.sum(-1, keepdims=True)
    weights /= np.where(totals == 0, 1, totals)
    return weights @ v, weights
