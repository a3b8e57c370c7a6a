"""
Multi-head attention: several views of one sentence
===================================================

A multi-head layer cuts the projected features into slices and runs one attention per slice.
This example shows that the heads are nothing more than a reshape, checks the layer against a
plain loop over heads, and draws how differently the heads of one layer read the same sentence.
"""

# %%
# Heads are a reshape
# -------------------
# With ``d_model = 12`` features and 3 heads, every head gets 4 consecutive features. Cutting the
# last axis with ``reshape`` and moving the heads forward with ``swapaxes`` gives the layout
# ``(heads, n, d_head)`` that :func:`~simple_attention.scaled_dot_product_attention` handles as
# just one more leading dimension.

import matplotlib.pyplot as plt
import numpy as np

from simple_attention import (
    Embedding,
    MultiHeadAttention,
    SelfAttention,
    Vocabulary,
    scaled_dot_product_attention,
    tokenize,
)
from simple_attention.layers.multihead import merge_heads, split_heads
from simple_attention.plotting import plot_attention_weights

features = np.arange(2 * 12.0).reshape(2, 12)  # two tokens, d_model = 12
heads = split_heads(features, 3)
print(heads.shape)
print(heads[1])  # head 1: features 4..7 of each token

np.testing.assert_array_equal(heads, np.einsum("nhd->hnd", features.reshape(2, 3, 4)))
np.testing.assert_array_equal(merge_heads(heads), features)

# %%
# The layer equals a loop over heads
# ----------------------------------
# The definition of multi-head attention is a loop: attend with each head's columns of the
# projections, concatenate the results, project with ``W_out``. The vectorised layer agrees, and
# with a single head it is :class:`~simple_attention.SelfAttention` followed by ``W_out``.

sentence = "she gave the book to her friend because she had finished it"
tokens = tokenize(sentence)
vocab = Vocabulary.from_text(sentence)
x = Embedding(len(vocab), 12, rng=0)(vocab.encode(sentence))
layer = MultiHeadAttention(12, 3, rng=1)

d_head = layer.d_head
per_head = []
for h in range(layer.n_heads):
    cols = slice(h * d_head, (h + 1) * d_head)
    per_head.append(
        scaled_dot_product_attention(
            x @ layer.W_query[:, cols], x @ layer.W_key[:, cols], x @ layer.W_value[:, cols]
        )
    )
loop_out = np.concatenate(per_head, axis=-1) @ layer.W_out
print("largest difference, loop vs layer:", np.abs(loop_out - layer(x)).max())
np.testing.assert_allclose(loop_out, layer(x), rtol=0, atol=1e-12)

one_head = MultiHeadAttention(12, 1, rng=2)
single = SelfAttention(12, 12)
single.W_query, single.W_key, single.W_value = one_head.W_query, one_head.W_key, one_head.W_value
np.testing.assert_allclose(one_head(x), single(x) @ one_head.W_out, rtol=0, atol=1e-12)

# %%
# Three heads, three readings
# ---------------------------
# Each head compares its own slice of the projected features, so each spreads its attention in
# its own way. With the default initialisation the projections are small and every head
# attends almost uniformly; to make the differences visible without training, the query and
# key projections are drawn here with a larger spread (normal, standard deviation 0.5). The
# entropy of a row measures how spread out it is: ``log(n)`` for uniform attention, 0 for a
# single token.


def mean_entropy(weights):
    """Entropy of each row of attention weights, averaged over the queries of each head."""
    logs = np.log(weights, out=np.zeros_like(weights), where=weights > 0)  # 0 log 0 = 0
    return -(weights * logs).sum(axis=-1).mean(axis=-1)


layer(x)
print("default initialisation, mean entropy per head:", mean_entropy(layer.weights).round(3))
rng = np.random.default_rng(3)
layer.W_query[...] = 0.5 * rng.standard_normal(layer.W_query.shape)
layer.W_key[...] = 0.5 * rng.standard_normal(layer.W_key.shape)
layer(x)
fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), layout="constrained")
for h, ax in enumerate(axes):
    plot_attention_weights(layer.weights[h], tokens, ax=ax, annotate=False, title=f"head {h}")

entropy = mean_entropy(layer.weights)
print("mean entropy per head:", entropy.round(3), " uniform:", round(np.log(len(tokens)), 3))
assert np.all(entropy <= np.log(len(tokens)) + 1e-12)
assert len(np.unique(layer.weights.argmax(axis=-1), axis=0)) > 1  # the heads disagree

fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
ax.bar([f"head {h}" for h in range(layer.n_heads)], entropy)
ax.axhline(np.log(len(tokens)), color="black", linestyle="--", label="uniform attention")
ax.set(ylabel="mean entropy of a row (nats)", title="How spread out each head is")
ax.legend(loc="lower right")

plt.show()
