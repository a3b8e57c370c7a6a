"""
One query: scores, weights and a context vector
===============================================

Self-attention answers one question for every token: *which other tokens matter to me, and
what do I take from them?* This example answers it for a single token, the *query*, in three
small steps, with the numbers of the seed notebook: four tokens, three dimensions, and the
token at index 1 as the query.
"""

# %%
# The inputs
# ----------
# Here is the seed's input matrix, one embedding vector :math:`x^{(j)}` per row. The tokens
# behind the rows had ids 72, 3, 64 and 69; we use them as labels.

import matplotlib.pyplot as plt
import numpy as np

from simple_attention import attention_scores_loop, context_vector_loop, seed_inputs, softmax
from simple_attention.plotting import plot_embeddings, plot_query_attention

x = seed_inputs()
labels = ["id 72", "id 3", "id 64", "id 69"]
query_index = 1
query = x[query_index]

ax = plot_embeddings(x, labels, title="The seed's four input vectors")
assert (x.argmin(axis=0) == query_index).all()

# %%
# The query's row is the smallest of the four in every feature. Keep that in mind: it will
# decide how the query's attention is spread.
#
# Step 1: scores
# --------------
# The score of input :math:`j` is its dot product with the query, :math:`\omega_j = x^{(j)}
# \cdot q`: large when the two vectors are long and point the same way.
# :func:`~simple_attention.attention_scores_loop` computes it one product at a time.

scores = attention_scores_loop(x, query)
print("scores: ", scores)

# %%
# Step 2: weights
# ---------------
# Scores can be any real numbers. A softmax turns them into weights :math:`\alpha_j =
# e^{\omega_j} / \sum_k e^{\omega_k}` that are positive and sum to one, while keeping their
# order: a higher score always gets a higher weight.

weights = softmax(scores)
print("weights:", weights)
assert np.isclose(weights.sum(), 1.0)
assert (np.argsort(weights) == np.argsort(scores)).all()

# %%
# Step 3: the context vector
# --------------------------
# The query's new representation is the weighted average of all inputs,
# :math:`z = \sum_j \alpha_j x^{(j)}` (:func:`~simple_attention.context_vector_loop`). Because
# the weights are positive and sum to one, every feature of :math:`z` lies between the smallest
# and the largest value of that feature among the inputs.

context = context_vector_loop(x, weights)
print("context:", context)
assert ((x.min(axis=0) <= context) & (context <= x.max(axis=0))).all()

# %%
# These are the seed notebook's numbers, to the digits it printed:

np.testing.assert_allclose(scores, [0.53041613, 0.13610384, 0.3418364, 0.36677499], atol=1e-8)
np.testing.assert_allclose(weights, [0.29838948, 0.20115732, 0.24710661, 0.25334659], atol=1e-8)
np.testing.assert_allclose(context, [0.62688845, 0.65962472, 0.52651137], atol=1e-8)

# %%
# All three steps in one picture
# ------------------------------
# The query is drawn in red. Notice that it gives itself the *lowest* score and weight: its
# vector is short, so its dot product with itself is small, while the long vector of token 72
# scores highest. Plain dot-product attention rewards long vectors as much as similar
# directions; trainable projections (example 5) are what lets a model learn better questions.
# Also notice how flat the weights are compared to the scores: the scores differ by less than
# 0.4, and :math:`e^{0.4} \approx 1.5`, so no token gets much more than a quarter of the
# attention.

assert scores.argmin() == weights.argmin() == query_index
assert scores.argmax() == 0
assert np.ptp(scores) < 0.4
assert weights.max() < 0.3

fig = plot_query_attention(
    scores,
    weights,
    context,
    labels,
    query_index=query_index,
    title=f"Attention of the query (token at index {query_index})",
)

# %%
# Where the context comes from
# ----------------------------
# Each bar of the context vector is a sum of four pieces, :math:`\alpha_j x^{(j)}_k`, one per
# input. Stacking those pieces shows how much each input contributed to each feature; the
# query's own piece is red again.

pieces = weights[:, None] * x  # (n_tokens, dim): input j's share of each feature
blues = iter(plt.get_cmap("Blues")(np.linspace(0.35, 0.85, len(labels) - 1)))
colours = ["tab:red" if j == query_index else next(blues) for j in range(len(labels))]
fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
bottom = np.zeros(x.shape[1])
for label, piece, colour in zip(labels, pieces, colours, strict=True):
    ax.bar(np.arange(x.shape[1]), piece, bottom=bottom, label=label, color=colour, ec="white")
    bottom += piece
assert np.allclose(bottom, context)
ax.set_xticks(np.arange(x.shape[1]), labels=[f"feature {k}" for k in range(x.shape[1])])
ax.set_ylabel(r"$\alpha_j\, x^{(j)}_k$, stacked")
ax.set_title("The context vector, split by input")
ax.legend(title="input", loc="upper left", bbox_to_anchor=(1.0, 1.0))

# sphinx_gallery_thumbnail_number = 2
plt.show()
