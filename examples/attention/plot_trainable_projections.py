r"""
Trainable projections: queries, keys and values
===============================================

So far each input vector played three roles at once: it asked the question (query), it was
compared against (key) and it was what got averaged (value). A self-attention layer gives each
role its own matrix, :math:`W_q`, :math:`W_k` and :math:`W_v`, and lets training shape them. This
example looks inside :class:`~simple_attention.SelfAttention`: the three matrices, and how two
random draws of them make the same sentence attend in opposite ways.
"""

# %%
# Three matrices
# --------------
# A layer that maps :math:`d_\text{in} = 3` input features to queries, keys and values of
# :math:`d_k = 2` features (the argument ``d_out``) holds three ``(3, 2)`` matrices. They start
# random, uniform in :math:`[-1/\sqrt{d_\text{in}}, 1/\sqrt{d_\text{in}}]`,
# so all three heatmaps below share that range as their colour scale.

import math

import matplotlib.pyplot as plt
import numpy as np

from simple_attention import (
    SelfAttention,
    seed_inputs,
    self_attention,
    softmax,
)
from simple_attention.plotting import plot_attention_weights, plot_matrix

x = seed_inputs()
labels = ["id 72", "id 3", "id 64", "id 69"]

layer = SelfAttention(d_in=3, d_out=2, rng=249)
bound = 1 / math.sqrt(layer.d_in)
assert all(np.abs(W).max() <= bound for W in layer.params.values())

fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), layout="constrained")
for ax, (name, W) in zip(axes, layer.params.items(), strict=True):
    plot_matrix(W, ["in 0", "in 1", "in 2"], ["out 0", "out 1"], ax=ax, title=name, vmax=bound)

# %%
# What the layer computes
# -----------------------
# Each input row is multiplied by each matrix: :math:`Q = X W_q`, :math:`K = X W_k`,
# :math:`V = X W_v`. The rest is example 4 with the three roles separated: scores
# :math:`S = Q K^\top / \sqrt{d_k}`, a softmax along each row, and the weighted sum of the
# *values*, :math:`Z = A V`. (Why the scores are divided by :math:`\sqrt{d_k}` is the subject of
# :doc:`tutorial page 7 </tutorial/07-why-scale>`.) Writing it out by hand gives exactly what
# the layer returns; the layer also keeps its last weights in ``layer.weights`` for plotting.

query, key, value = x @ layer.W_query, x @ layer.W_key, x @ layer.W_value
weights = softmax(query @ key.T / math.sqrt(layer.d_out))
context = weights @ value

np.testing.assert_allclose(layer(x), context, rtol=1e-12)
np.testing.assert_allclose(layer.weights, weights, rtol=1e-12)
print(context)

# %%
# Different matrices, different questions
# ---------------------------------------
# Compare with example 4, where the inputs were compared with each other directly: there,
# every query gave token 3, whose vector is short, the *least* attention. A layer is free to ask
# something else. The layer above (``rng=249``) makes every query attend *most* to token 3; the
# one with ``rng=4`` keeps the old preference for token 72. Both are just random draws, picked
# to show the two behaviours; training is what later chooses matrices that ask useful questions.
#
# Notice too that the layers' weights are flatter than before: small random matrices make short
# queries and keys, hence small scores, and the softmax of small scores is close to uniform.

_, plain = self_attention(x, return_weights=True)
other = SelfAttention(d_in=3, d_out=2, rng=4)
other(x)
assert (plain.argmin(axis=1) == 1).all()
assert (weights.argmax(axis=1) == 1).all()
assert (other.weights.argmax(axis=1) == 0).all()
assert np.ptp(weights) < np.ptp(plain) / 2
assert np.ptp(other.weights) < np.ptp(plain) / 2

fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
plot_attention_weights(weights, labels, ax=axes[0], title="SelfAttention(3, 2, rng=249)")
ax = plot_attention_weights(other.weights, labels, ax=axes[1], title="SelfAttention(3, 2, rng=4)")

# sphinx_gallery_thumbnail_number = 2
plt.show()
