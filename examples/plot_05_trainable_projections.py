r"""
Trainable projections: queries, keys and values
===============================================

So far each input vector played three roles at once: it asked the question (query), it was
compared against (key) and it was what got averaged (value). A self-attention layer gives each
role its own matrix, :math:`W_q`, :math:`W_k` and :math:`W_v`, and lets training shape them. This
example looks inside :class:`~simple_attention.SelfAttention`: the three matrices, the attention
they produce, and why the scores are divided by :math:`\sqrt{d_\text{out}}`.
"""

# %%
# Three matrices
# --------------
# A layer that maps 3-dimensional inputs to 2-dimensional outputs holds three ``(3, 2)``
# matrices. They start random, uniform in :math:`[-1/\sqrt{d_\text{in}}, 1/\sqrt{d_\text{in}}]`,
# so all three heatmaps below share that range as their colour scale.

import math

import matplotlib.pyplot as plt
import numpy as np

from simple_attention import (
    SelfAttention,
    scaled_dot_product_attention,
    seed_inputs,
    self_attention,
    softmax,
    softmax_backward,
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
# :math:`Q K^\top`, divided by :math:`\sqrt{d_\text{out}}`, a softmax along each row, and the
# weighted sum of the *values*. Writing it out by hand gives exactly what the layer returns; the
# layer also keeps its last weights in ``layer.weights`` for plotting.

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

# %%
# Why divide by √d?
# -----------------
# A score is a sum of :math:`d` products. If the entries of queries and keys are independent
# with mean 0 and variance 1, each product has variance 1 and the sum has variance :math:`d`:
# the typical size of a score grows like :math:`\sqrt{d}`. Dividing by :math:`\sqrt{d}` brings
# it back to about 1, whatever the size of the layer.

rng = np.random.default_rng(0)
dims = np.array([4, 16, 64, 256, 1024])
spread = []
for d in dims:
    q_d, k_d = rng.standard_normal((2, 1000, d))  # 1000 random queries and keys
    spread.append(np.std(np.sum(q_d * k_d, axis=1)))
spread = np.array(spread)
print("std of q . k:         ", spread.round(2))
print("std of q . k / sqrt(d):", (spread / np.sqrt(dims)).round(2))
np.testing.assert_allclose(spread / np.sqrt(dims), 1.0, rtol=0.1)

fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
ax.loglog(dims, spread, "o-", lw=2, label=r"$q \cdot k$")
ax.loglog(dims, spread / np.sqrt(dims), "o-", lw=2, label=r"$q \cdot k / \sqrt{d}$")
ax.loglog(dims, np.sqrt(dims), "k:", label=r"$\sqrt{d}$")
ax.set_xlabel("dimension d of queries and keys")
ax.set_ylabel("standard deviation of the score")
ax.set_title("Scores grow with the dimension unless scaled")
ax.legend()
ax.grid(which="both", alpha=0.3)

# %%
# Large scores matter because of what the softmax does with them: it exaggerates differences.
# Eight tokens with 64-dimensional queries and keys are enough to see it. Unscaled, the typical
# query gives more than 90 % of its weight to a single key; scaled, the typical query's largest
# weight is below 40 % and the rest stays spread over the other keys.

n_tokens, d = 8, 64
q = rng.standard_normal((n_tokens, d))
k = rng.standard_normal((n_tokens, d))
v = rng.standard_normal((n_tokens, d))
_, unscaled = scaled_dot_product_attention(q, k, v, scale=1.0, return_weights=True)
_, scaled = scaled_dot_product_attention(q, k, v, return_weights=True)  # scale = 1/sqrt(64)

print("largest weight per query, unscaled:", unscaled.max(axis=1).round(2))
print("largest weight per query, scaled:  ", scaled.max(axis=1).round(2))
assert np.median(unscaled.max(axis=1)) > 0.9
assert np.median(scaled.max(axis=1)) < 0.4

fig, (ax_unscaled, ax_scaled) = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
plot_attention_weights(unscaled, annotate=False, ax=ax_unscaled, title=r"Unscaled: $QK^\top$")
ax = plot_attention_weights(
    scaled, annotate=False, ax=ax_scaled, title=r"Scaled: $QK^\top/\sqrt{64}$"
)

# %%
# A weight stuck near 0 or 1 also learns slowly. The softmax's derivative is
# :math:`\partial \alpha_i / \partial \omega_j = \alpha_i(\delta_{ij} - \alpha_j)`, which vanishes
# when one weight is 1 and the others 0: a nudge to the scores then changes nothing, so the
# gradient reaching them is tiny. :func:`~simple_attention.softmax_backward` applied to the
# unit vectors gives this Jacobian one column at a time; its size (Frobenius norm) per query
# is a measure of how much learning signal gets through.


def jacobian_size(row: np.ndarray) -> float:
    n = row.shape[0]
    return float(np.linalg.norm(softmax_backward(np.tile(row, (n, 1)), np.eye(n))))


through_unscaled = np.array([jacobian_size(row) for row in unscaled])
through_scaled = np.array([jacobian_size(row) for row in scaled])
print("unscaled:", through_unscaled.round(3))
print("scaled:  ", through_scaled.round(3))
assert np.median(through_unscaled) < np.median(through_scaled) / 2

# sphinx_gallery_thumbnail_number = 4
plt.show()
