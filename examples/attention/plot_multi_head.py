"""
Multi-head attention: each head reads the sentence its own way
==============================================================

A multi-head layer cuts the projected features of every token into ``h`` slices of
``d_k = d_model / h`` features and runs one attention per slice. The slices compare different
parts of the projected vectors, so each head can spread its attention over the sentence in its
own way. This example cuts a layer into its heads and measures how differently they attend.
"""

# %%
# Heads are slices of the features
# --------------------------------
# With ``d_model = 12`` features and 3 heads, head ``g`` gets features ``4 g`` to ``4 g + 3`` of
# every token. Cutting the last axis with ``reshape`` and then moving the heads in front of the
# tokens gives the layout ``(h, n, d_k)``, which
# :func:`~simple_attention.scaled_dot_product_attention` treats as one more leading dimension.
# The reshape alone would not do: it would give head 0 all the features of the first tokens.

import matplotlib.pyplot as plt
import numpy as np

from simple_attention import Embedding, MultiHeadAttention, Vocabulary, tokenize
from simple_attention.layers.multihead import merge_heads, split_heads
from simple_attention.plotting import plot_attention_weights, plot_head_split

features = np.arange(2 * 12.0).reshape(2, 12)  # two tokens, d_model = 12
heads = split_heads(features, 3)
print("(h, n, d_k) =", heads.shape)
print("head 1:", heads[1].tolist())  # features 4..7 of each token

np.testing.assert_array_equal(heads, features.reshape(2, 3, 4).swapaxes(0, 1))
np.testing.assert_array_equal(merge_heads(heads), features)
assert not np.array_equal(heads, features.reshape(3, 2, 4))  # reshape alone: wrong

plot_head_split(2, 12, 3)
plt.show()

# %%
# Three heads, three readings
# ---------------------------
# One sentence goes through an embedding table and a three-head layer. With the default
# initialisation the projections are small and every head attends almost uniformly; to make the
# heads' differences visible without training, the query and key projections are drawn here
# with a larger spread (normal, standard deviation 0.5). Each head then compares its own slice
# of the projected features.

sentence = "she gave the book to her friend because she had finished it"
tokens = tokenize(sentence)
vocab = Vocabulary.from_text(sentence)
x = Embedding(len(vocab), 12, rng=0)(vocab.encode(sentence))
layer = MultiHeadAttention(12, 3, rng=1)
rng = np.random.default_rng(3)
layer.W_query[...] = 0.5 * rng.standard_normal(layer.W_query.shape)
layer.W_key[...] = 0.5 * rng.standard_normal(layer.W_key.shape)
layer(x)
print("weights (h, queries, keys):", layer.weights.shape)

fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), layout="constrained")
for g, ax in enumerate(axes):
    plot_attention_weights(layer.weights[g], tokens, ax=ax, annotate=False, title=f"head {g}")
plt.show()

# %%
# How spread out each head is
# ---------------------------
# The entropy of a row of weights measures how spread out it is: ``log(n)`` nats for uniform
# attention over ``n`` tokens, 0 for all the weight on one token. Averaged over the queries, it
# gives one number per head.


def mean_entropy(weights):
    """Entropy of each row of attention weights, averaged over the queries of each head."""
    logs = np.log(weights, out=np.zeros_like(weights), where=weights > 0)  # 0 log 0 = 0
    return -(weights * logs).sum(axis=-1).mean(axis=-1)


entropy = mean_entropy(layer.weights)
uniform = np.log(len(tokens))
per_head = ", ".join(f"{e:.3f}" for e in entropy)
print(f"mean entropy per head: {per_head} (uniform: {uniform:.3f})")
assert np.all(entropy <= uniform + 1e-12)
favourites = layer.weights.argmax(axis=-1)  # (h, n): the key each query weighs most
assert len(np.unique(favourites, axis=0)) == layer.n_heads  # no two heads agree on every row

fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
ax.bar([f"head {g}" for g in range(layer.n_heads)], entropy, color="#0072B2")
ax.axhline(uniform, color="black", linestyle="--", label="uniform attention")
ax.set(ylabel="mean entropy of a row (nats)", title="How spread out each head is")
ax.legend(loc="lower right")
plt.show()
