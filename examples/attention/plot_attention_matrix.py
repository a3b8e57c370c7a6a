r"""
Symmetric scores, asymmetric weights: the softmax normalises each row
=====================================================================

Without trainable projections, the score of token :math:`i` for token :math:`j` is the dot
product :math:`x^{(i)} \cdot x^{(j)}`, the same both ways: the score matrix :math:`S = X X^\top`
is symmetric. The attention weights are not. Each query spreads one unit of attention over
the keys, so the softmax normalises every *row* on its own, and a token can matter a lot to
another while that one matters little to it. This example shows the two matrices side by side.
"""

# %%
# All scores and all weights
# --------------------------
# One matrix product gives all the scores of the seed's four tokens, and a softmax along each
# row (``axis=-1``) the weights. :func:`~simple_attention.seed_numbers` holds the matrices the
# seed notebook printed.

import matplotlib.pyplot as plt
import numpy as np

from simple_attention import seed_inputs, seed_numbers, self_attention, softmax
from simple_attention.plotting import plot_attention_weights, plot_matrix

x = seed_inputs()
seed = seed_numbers()
labels = [f"$x^{{({i})}}$" for i in range(len(x))]

scores = x @ x.T  # S, shape (n, n)
weights = softmax(scores, axis=-1)  # A: row i is query i's distribution over the keys
np.testing.assert_allclose(scores, seed.scores, atol=1e-8)
np.testing.assert_allclose(weights, seed.weights, atol=1e-8)
np.testing.assert_allclose(weights, self_attention(x, return_weights=True)[1], rtol=1e-12)

print("row sums of A:   ", weights.sum(axis=1).round(12))
print("column sums of A:", weights.sum(axis=0).round(3))
assert np.allclose(weights.sum(axis=1), 1.0)
assert not np.allclose(weights.sum(axis=0), 1.0)

# %%
# The symmetry is gone
# --------------------
# Token 0 is the longest vector and token 1 the shortest. Their score is one number, shared.
# It is the largest score in token 1's row and the smallest in token 0's, so the softmax of
# each row makes of it a large weight for token 1 and a small one for token 0:

print(f"score   s_01 = s_10 = {scores[0, 1]:.3f}")
print(f"weight  a_01 = {weights[0, 1]:.3f}  (token 0 attending to token 1)")
print(f"weight  a_10 = {weights[1, 0]:.3f}  (token 1 attending to token 0)")
np.testing.assert_array_equal(scores, scores.T)
assert not np.allclose(weights, weights.T)
assert weights[1, 0] > 3 * weights[0, 1]
assert scores[1, 0] == scores[1].max()  # token 1's largest score
assert scores[0, 1] == scores[0].min()  # token 0's smallest

fig, (ax_scores, ax_weights) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
plot_matrix(scores, labels, labels, ax=ax_scores, title="Scores S = X Xᵀ", colorbar_label="score")
ax_scores.set_xlabel("key (attended to)")
ax_scores.set_ylabel("query (attending)")
ax = plot_attention_weights(weights, labels, ax=ax_weights, title="Weights A = softmax(S), by row")

# %%
# The left matrix is its own mirror image across the diagonal; the right one is not. Every row
# of the right one sums to one and its columns do not: a weight says how much a *query* takes
# from a key, not how much the two have in common. Trainable projections make even the scores
# asymmetric, since queries and keys then come from different matrices.

plt.show()
