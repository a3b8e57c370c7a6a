"""
Decoding with a key-value cache
===============================

A language model writes one token at a time, and each new token must attend to all the tokens
before it. Recomputing the whole prefix at every step repeats work whose result is already
known. A key-value cache keeps the keys and values of the past, so that each step only projects
the new token and computes one row of scores. This example checks that the cache changes
nothing in the result, and counts what it saves.
"""

# %%
# Step by step equals all at once
# -------------------------------
# :meth:`~simple_attention.MultiHeadAttention.decode_step` appends the new token's key and value
# to a :class:`~simple_attention.KVCache` and attends from the new query to every cached key.
# Stacking the rows of weights produced at each step rebuilds, row by row, the causal weight
# matrix of a single call over the whole sequence.

import matplotlib.pyplot as plt
import numpy as np

from simple_attention import KVCache, MultiHeadAttention, causal_mask, causal_mask_bottom_right
from simple_attention.plotting import plot_attention_weights

n_tokens, d_model, n_heads = 8, 16, 4
layer = MultiHeadAttention(d_model, n_heads, rng=0)
x = np.random.default_rng(1).standard_normal((n_tokens, d_model))

full = layer(x, is_causal=True)
full_weights = layer.weights

cache = KVCache()
outputs, rows = [], np.zeros((n_heads, n_tokens, n_tokens))
for t in range(n_tokens):
    outputs.append(layer.decode_step(x[t : t + 1], cache))
    rows[:, t, : t + 1] = layer.weights[:, 0]  # one new row per head: (heads, 1, t + 1)
decoded = np.concatenate(outputs)

print(f"largest difference, cached vs full: {np.abs(decoded - full).max():.1e}")
np.testing.assert_allclose(decoded, full, rtol=0, atol=1e-12)
np.testing.assert_allclose(rows, full_weights, rtol=0, atol=1e-12)
print("cache:", cache, "keys", cache.keys.shape)

fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
plot_attention_weights(full_weights[0], ax=axes[0], title="one causal call (head 0)")
plot_attention_weights(rows[0], ax=axes[1], title=f"rows from {n_tokens} cached steps (head 0)")
plt.show()

# %%
# Why the mask is aligned at the bottom right
# -------------------------------------------
# At a decoding step the new query is the *last* of ``t`` positions, so it may see all ``t``
# keys: the last row of the causal triangle. The top-left mask of the same shape would let it see
# only the first key.

print("bottom-right:", causal_mask_bottom_right(1, 5).astype(int))
print("top-left:    ", causal_mask(1, 5).astype(int))
assert causal_mask_bottom_right(1, 5).all()
assert causal_mask(1, 5).sum() == 1

# %%
# What the cache saves
# --------------------
# At step ``t`` the cached layer projects one token and computes ``heads x t`` scores; recomputing
# the prefix projects ``t`` tokens and computes ``heads x t x t`` scores. The sizes of the weight
# arrays each call produces count the scores exactly.

n_steps = 96
sequence = np.random.default_rng(2).standard_normal((n_steps, d_model))
cache = KVCache()
cached, recomputed = [], []
for t in range(1, n_steps + 1):
    layer.decode_step(sequence[t - 1 : t], cache)
    cached.append(layer.weights.size)
    layer(sequence[:t], is_causal=True)
    recomputed.append(layer.weights.size)
cached, recomputed = np.array(cached), np.array(recomputed)
steps = np.arange(1, n_steps + 1)

assert np.array_equal(cached, n_heads * steps)
assert np.array_equal(recomputed, n_heads * steps**2)
ratio = recomputed.sum() / cached.sum()
print(f"scores over {n_steps} steps: {cached.sum()} cached, {recomputed.sum()} recomputed")
print(f"{ratio:.0f} times fewer with the cache")

fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
ax.plot(steps, np.cumsum(recomputed), label="recompute the prefix: grows like t³")
ax.plot(steps, np.cumsum(cached), label="with a KV cache: grows like t²")
ax.set(xlabel="tokens generated", ylabel="attention scores computed so far", yscale="log")
ax.grid(alpha=0.3)
ax.legend()

plt.show()
