"""Figures for attention, drawn with matplotlib (the optional ``plot`` extra).

Every function draws one picture of one step of the pipeline and returns the matplotlib
``Axes`` (or ``Figure``) it drew on, so that a caller can adjust titles, limits or sizes
afterwards. Pass ``ax=`` to draw into an existing subplot.

* :func:`plot_tokens`: token ids as a strip of boxes;
* :func:`plot_embeddings` and :func:`plot_matrix`: vectors and weight matrices as heatmaps;
* :func:`plot_query_attention`: scores, weights and context of one query, side by side;
* :func:`plot_attention_weights`: the full ``(n_queries, n_keys)`` attention-weight matrix;
* :func:`plot_softmax_comparison`: what overflow does to a softmax;
* :func:`plot_timings`: run times against sequence length, on log-log axes.
* :func:`plot_bars`: one number per implementation (speed ratios, peak memory).
* :func:`plot_loss_curve`: a training loss, step by step, with its running mean.

Diagrams, drawn from sizes alone, in one visual language (matrices as rectangles to scale, one
colour per role):

* :func:`plot_matmul_shapes`: the shapes of one matrix product, such as ``X W_q`` or ``Q K^T``;
* :func:`plot_softmax_row`: one row of the softmax, from scores to weights;
* :func:`plot_head_split`: splitting into heads and merging them back;
* :func:`plot_kv_cache`: the key/value cache, one row more at each generated token;
* :func:`plot_online_softmax_blocks`: the running max and sum of the online softmax;
* :func:`plot_transformer_block`: a pre-norm transformer block with its residual paths.

Every function checks all of its arguments before it draws anything: bad input raises a
``TypeError`` or ``ValueError`` naming the argument, and a failed call creates no figure and
leaves a given ``ax`` or ``fig`` as it was. NaN and infinite data are drawn where a figure has a
meaning for them and refused elsewhere: heatmaps show NaN as a blank cell and ``±inf`` at the
ends of the colour scale; a NaN loss, score, weight, context entry or time leaves a gap (an
infinite loss too); offsets, sizes and scalar arguments must be finite, and values on a
logarithmic axis positive.

``import simple_attention`` never imports matplotlib; only this subpackage does.
"""

from __future__ import annotations

try:
    import matplotlib as _matplotlib  # noqa: F401  (only to fail early with a clear message)
except ImportError as err:
    raise ImportError(
        "simple_attention.plotting needs matplotlib, which is not installed. Install the "
        'optional plotting extra with: pip install "simple-attention[plot]"'
    ) from err

from .bars import plot_bars
from .curves import plot_loss_curve, plot_softmax_comparison, plot_timings
from .diagrams import (
    plot_head_split,
    plot_kv_cache,
    plot_matmul_shapes,
    plot_online_softmax_blocks,
    plot_softmax_row,
    plot_transformer_block,
)
from .explorer import AttentionExplorer, attention_explorer
from .heatmaps import plot_attention_weights, plot_embeddings, plot_matrix
from .vectors import plot_query_attention, plot_tokens

__all__ = [
    "AttentionExplorer",
    "attention_explorer",
    "plot_attention_weights",
    "plot_bars",
    "plot_embeddings",
    "plot_head_split",
    "plot_kv_cache",
    "plot_loss_curve",
    "plot_matmul_shapes",
    "plot_matrix",
    "plot_online_softmax_blocks",
    "plot_query_attention",
    "plot_softmax_comparison",
    "plot_softmax_row",
    "plot_timings",
    "plot_tokens",
    "plot_transformer_block",
]
