"""
Every query at once: the attention matrix
=========================================

Example 3 computed attention for one query with loops. Every token is a query in turn, so we
could simply run that loop four times. Stacking the results instead turns the whole computation
into two matrix products and one softmax, and gives a picture worth looking at: the matrix of
attention weights, with one row per query and one column per key.
"""

# %%
# Scores for all pairs
# --------------------
# Put the input vectors in the rows of a matrix :math:`X`. Then the entry :math:`(i, j)` of
# :math:`X X^\top` is the dot product of input :math:`i` with input :math:`j`: the score of key
# :math:`j` for query :math:`i`. One product gives all sixteen scores of the seed's example.

import matplotlib.pyplot as plt
import numpy as np

from simple_attention import (
    Embedding,
    Vocabulary,
    seed_inputs,
    self_attention,
    self_attention_loop,
    softmax,
    tokenize,
)
from simple_attention.plotting import plot_attention_weights, plot_embeddings, plot_matrix

x = seed_inputs()
labels = ["id 72", "id 3", "id 64", "id 69"]

scores = x @ x.T
print(scores)

# %%
# Weights, row by row
# -------------------
# Each query needs its own weights over the keys, so the softmax runs along each *row*
# (``axis=-1``). Multiplying the weights by :math:`X` then forms every context vector in one
# go: row :math:`i` of :math:`\text{weights}\, X` is :math:`\sum_j \alpha_{ij} x^{(j)}`.

weights = softmax(scores, axis=-1)
contexts = weights @ x
print(weights)
print(contexts)
assert np.allclose(weights.sum(axis=1), 1.0)

# %%
# :func:`~simple_attention.self_attention` does exactly these three lines.
# :func:`~simple_attention.self_attention_loop` does the same work one query and one product at
# a time, as in example 3. Both give the same numbers, and they are the seed notebook's:

context_matmul, weights_matmul = self_attention(x, return_weights=True)
context_loop, weights_loop = self_attention_loop(x, return_weights=True)
np.testing.assert_allclose(weights_matmul, weights_loop, rtol=1e-12)
np.testing.assert_allclose(context_matmul, context_loop, rtol=1e-12)
np.testing.assert_allclose(context_matmul, contexts, rtol=1e-12)

seed_weights = [
    [0.45971284, 0.07938619, 0.2318291, 0.22907187],
    [0.29838948, 0.20115732, 0.24710661, 0.25334659],
    [0.38985174, 0.11055474, 0.25855726, 0.24103626],
    [0.39375687, 0.11585984, 0.24638103, 0.24400226],
]
seed_contexts = [
    [0.72597167, 0.75447563, 0.60854748],
    [0.62688845, 0.65962472, 0.52651137],
    [0.69746917, 0.72216799, 0.57605494],
    [0.69352439, 0.72137613, 0.57739014],
]
seed_scores = [
    [2.28669371, 0.53041613, 1.60209215, 1.59012746],
    [0.53041613, 0.13610384, 0.3418364, 0.36677499],
    [1.60209215, 0.3418364, 1.19144284, 1.12127305],
    [1.59012746, 0.36677499, 1.12127305, 1.11157133],
]
np.testing.assert_allclose(scores, seed_scores, atol=1e-8)
np.testing.assert_allclose(weights_matmul, seed_weights, atol=1e-8)
np.testing.assert_allclose(context_matmul, seed_contexts, atol=1e-8)

# %%
# Scores are symmetric, weights are not
# -------------------------------------
# The dot product does not care about order, so the score matrix equals its transpose. The
# softmax then normalises each row separately, and the symmetry is gone: token 72 gives token 3
# only about 8 % of its attention, while token 3 gives token 72 about 30 %. Row 1 of the weights
# is the query of example 3.

assert np.allclose(scores, scores.T)
assert not np.allclose(weights, weights.T)
print(f"72 -> 3: {weights[0, 1]:.3f}    3 -> 72: {weights[1, 0]:.3f}")
assert round(weights[0, 1], 2) == 0.08
assert round(weights[1, 0], 2) == 0.30

fig, (ax_scores, ax_weights) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
plot_matrix(scores, labels, labels, ax=ax_scores, title="Scores  X Xᵀ", colorbar_label="score")
ax_scores.set_xlabel("key (attended to)")
ax_scores.set_ylabel("query (attending)")
ax = plot_attention_weights(weights, labels, ax=ax_weights, title="Weights  softmax(X Xᵀ), by row")

# %%
# Averaging pulls the vectors together
# ------------------------------------
# Every context vector is an average of the same four inputs with fairly even weights, so the
# contexts end up much closer to one another than the inputs were. The spread of each feature
# (largest minus smallest value over the tokens) shrinks:

print("spread of the inputs:  ", np.ptp(x, axis=0).round(3))
print("spread of the contexts:", np.ptp(contexts, axis=0).round(3))
assert (np.ptp(contexts, axis=0) < np.ptp(x, axis=0) / 5).all()

fig, (ax_in, ax_out) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
top = x.max()  # one colour scale for both, so that equal colours mean equal values
plot_embeddings(x, labels, ax=ax_in, title="Inputs x", vmax=top)
ax = plot_embeddings(contexts, labels, ax=ax_out, title="Contexts z = weights @ x", vmax=top)

# %%
# A real sentence
# ---------------
# The same code works for any number of tokens. With random lookup embeddings of eight
# dimensions (example 2), a word's score with itself, the squared length of its vector, is
# usually the largest in its row, and the softmax exaggerates it: most tokens mostly attend to
# themselves. Nothing here has been learned yet; the next example adds the trainable
# projections that let a model choose what to look for.

sentence = "Your journey starts with one step"
vocab = Vocabulary.from_text(sentence)
tokens = tokenize(sentence)
x_words = Embedding(len(vocab), 8, rng=3)(vocab.encode(sentence))
_, word_weights = self_attention(x_words, return_weights=True)

diagonal_wins = (word_weights.argmax(axis=1) == np.arange(len(tokens))).mean()
print(f"{diagonal_wins:.0%} of the tokens give their largest weight to themselves")
assert diagonal_wins > 0.5

ax = plot_attention_weights(word_weights, tokens, title="Untrained self-attention on a sentence")

# sphinx_gallery_thumbnail_number = 1
plt.show()
