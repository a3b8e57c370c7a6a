"""
Decoding with a key-value cache
===============================

A language model writes one token at a time, and each new token attends to all the tokens
before it. Under a causal mask the keys and values of the past never change, so a decoder can
keep them in a key-value cache: each step then projects only the new token, appends one key and
one value, and computes one row of scores. This example grows a cache token by token and checks
that the rows it produces rebuild, exactly, the causal attention of one call over the whole
sequence.
"""

# %%
# One row per step
# ----------------
# :meth:`~simple_attention.MultiHeadAttention.decode_step` appends the new token's key and value
# to a :class:`~simple_attention.KVCache` and attends from the one new query to every cached
# key. The new query is the last position, so it may see every key in the cache (the causal
# mask aligned at the bottom right, explained on :doc:`tutorial page 8 </tutorial/08-masks>`).

import matplotlib.pyplot as plt
import numpy as np

from simple_attention import KVCache, MultiHeadAttention
from simple_attention.plotting import plot_attention_weights, plot_kv_cache

n_tokens, d_model, n_heads = 8, 16, 4
layer = MultiHeadAttention(d_model, n_heads, rng=0)
x = np.random.default_rng(1).standard_normal((n_tokens, d_model))

cache = KVCache()
outputs, rows = [], np.zeros((n_heads, n_tokens, n_tokens))
for t in range(n_tokens):
    outputs.append(layer.decode_step(x[t : t + 1], cache))
    rows[:, t, : t + 1] = layer.weights[:, 0]  # one new row per head: (h, 1, t + 1)
    if t < 3 or t == n_tokens - 1:
        shapes = f"cached keys {cache.keys.shape} (h, positions, d_k)"
        print(f"step {t}: {shapes}, weights {layer.weights.shape}")
decoded = np.concatenate(outputs)

plot_kv_cache(n_tokens, d_k=layer.d_head)  # the last step, t = 7
plt.show()

# %%
# The rows rebuild one causal call
# --------------------------------
# Stacking the rows of weights of the eight steps gives, row by row, the causal weight matrix
# of a single call over the whole sequence, and the outputs agree to rounding.

full = layer(x, is_causal=True)
full_weights = layer.weights
print(f"largest difference of the outputs, cached vs one call: {np.abs(decoded - full).max():.1e}")
np.testing.assert_allclose(decoded, full, rtol=0, atol=1e-12)
np.testing.assert_allclose(rows, full_weights, rtol=0, atol=1e-12)

fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
plot_attention_weights(rows[0], ax=axes[0], title=f"rows of {n_tokens} cached steps (head 0)")
plot_attention_weights(full_weights[0], ax=axes[1], title="one causal call (head 0)")
plt.show()

# %%
# What the cache saves, and what it costs
# ---------------------------------------
# With ``t`` tokens so far, a step computes ``h * t`` scores with the cache, and ``h * t * t``
# when the whole prefix is recomputed; the sizes of the weight arrays count them. The price is
# memory: the cache holds one key and one value of ``d_model`` numbers per position.

n_steps = 96
sequence = np.random.default_rng(2).standard_normal((n_steps, d_model))
cache = KVCache()
cached = recomputed = 0
for t in range(1, n_steps + 1):
    layer.decode_step(sequence[t - 1 : t], cache)
    cached += layer.weights.size
    layer(sequence[:t], is_causal=True)
    recomputed += layer.weights.size

steps = np.arange(1, n_steps + 1)
assert cached == n_heads * steps.sum()
assert recomputed == n_heads * (steps**2).sum()
cache_size = cache.keys.size + cache.values.size
assert cache_size == 2 * n_steps * d_model
print(f"scores over {n_steps} steps: {cached:,} with the cache, {recomputed:,} without")
print(f"{recomputed / cached:.0f} times fewer; the cache holds {cache_size:,} numbers")
