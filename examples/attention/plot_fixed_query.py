r"""
A context vector, split into the share of each input
====================================================

The context vector of one query is a weighted average of all the inputs,
:math:`z = \sum_j a_j x^{(j)}`. This example takes it apart: each feature of :math:`z` is a
stack of pieces :math:`a_j x^{(j)}_f`, one per input, and drawing the stack shows at a glance
which inputs the query drew on, and why the query itself, a short vector, contributes least.
"""

# %%
# One query of the seed's example
# -------------------------------
# The seed notebook's four input vectors, with row 1 as the query. Three lines give its
# scores, weights and context vector, and :func:`~simple_attention.seed_numbers` holds what the
# seed notebook printed for them, to compare with.

import matplotlib.pyplot as plt
import numpy as np

from simple_attention import (
    attention_scores_loop,
    context_vector_loop,
    seed_inputs,
    seed_numbers,
    softmax,
)

x = seed_inputs()
seed = seed_numbers()
query_index = seed.query_index
labels = [f"$x^{{({j})}}$" for j in range(len(x))]

scores = attention_scores_loop(x, x[query_index])  # s_j = q . x^(j)
weights = softmax(scores)  # a_j
context = context_vector_loop(x, weights)  # z = sum_j a_j x^(j)
print("weights:", weights.round(3))
print("context:", context.round(3))
np.testing.assert_allclose(weights, seed.query_weights, atol=1e-8)
np.testing.assert_allclose(context, seed.query_context, atol=1e-8)

# %%
# The pieces of the average
# -------------------------
# Input :math:`j` adds :math:`a_j x^{(j)}_f` to feature :math:`f`. Stacking the four pieces of
# each feature rebuilds the context vector exactly. The query's own piece is drawn in red.

pieces = weights[:, None] * x  # (n, d_in): input j's share of each feature
assert np.allclose(pieces.sum(axis=0), context)

blues = iter(plt.get_cmap("Blues")(np.linspace(0.35, 0.85, len(x) - 1)))
colours = ["tab:red" if j == query_index else next(blues) for j in range(len(x))]
features = np.arange(x.shape[1])
fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
bottom = np.zeros(x.shape[1])
for label, piece, colour in zip(labels, pieces, colours, strict=True):
    ax.bar(features, piece, bottom=bottom, label=label, color=colour, ec="white")
    bottom += piece
ax.set_xticks(features, labels=[f"feature {f}" for f in features])
ax.set_ylabel(r"$a_j\, x^{(j)}_f$, stacked")
ax.set_title(f"The context vector of query {query_index}, split by input")
legend = ax.legend(title="input", loc="upper left", bbox_to_anchor=(1.0, 1.0))

# %%
# Reading the stack
# -----------------
# The query's own piece is the smallest in every feature, for two reasons that multiply: its
# weight is the smallest (a short vector has small dot products, itself included), and its
# entries are the smallest. The long input :math:`x^{(0)}` gets the largest weight and has the
# largest entries, so it contributes the most. The shares of each input, summed over the
# features:

share = pieces.sum(axis=1) / pieces.sum()
for j, value in enumerate(share):
    print(f"input {j}: {value:.0%} of the context vector's total")
assert weights.argmin() == query_index
assert (x.argmin(axis=0) == query_index).all()
assert share.argmin() == query_index
assert share.argmax() == 0

plt.show()
