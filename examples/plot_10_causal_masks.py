"""
Causal masks: hiding the future
===============================

A model that predicts the next word must not peek at it. The causal mask lets each token attend
to itself and the tokens before it, nothing after. This example draws the mask and the weights
it produces on a real sentence, checks that the future really has no influence, compares the two
ways of aligning a causal mask when there are more keys than queries, and pads a batch.
"""

# %%
# The causal mask on a sentence
# -----------------------------
# :func:`~simple_attention.causal_mask` is a lower triangle of ``True`` (may attend). Passed to
# :class:`~simple_attention.MultiHeadAttention` as ``is_causal=True``, it leaves every weight
# above the diagonal exactly zero, in every head.

import matplotlib.pyplot as plt
import numpy as np

from simple_attention import (
    Embedding,
    MultiHeadAttention,
    Vocabulary,
    causal_mask,
    causal_mask_bottom_right,
    key_padding_mask,
    scaled_dot_product_attention,
    tokenize,
)
from simple_attention.plotting import plot_attention_weights, plot_matrix

sentence = "the quick brown fox jumps over the lazy dog"
tokens = tokenize(sentence)
vocab = Vocabulary.from_text(sentence)
embed = Embedding(len(vocab), 8, rng=0)
layer = MultiHeadAttention(8, 2, rng=1)

x = embed(vocab.encode(sentence))
out = layer(x, is_causal=True)
print(causal_mask(4))

assert np.all(np.triu(layer.weights, k=1) == 0)  # nothing above the diagonal, in any head
np.testing.assert_allclose(layer.weights.sum(axis=-1), 1.0, rtol=0, atol=1e-12)

fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
for h, ax in enumerate(axes):
    plot_attention_weights(layer.weights[h], tokens, ax=ax, annotate=False, title=f"head {h}")

# %%
# The future has no influence
# ---------------------------
# Replace every word after "fox" by something else. The outputs of "the quick brown fox" do not
# change at all, not even in the last bit; the outputs after it do.

changed = vocab.encode(sentence)
fox = tokens.index("fox")
changed[fox + 1 :] = vocab.unk_id
out_changed = layer(embed(changed), is_causal=True)

np.testing.assert_array_equal(out_changed[: fox + 1], out[: fox + 1])
assert not np.allclose(out_changed[fox + 1 :], out[fox + 1 :])
print("outputs up to 'fox' identical:", np.array_equal(out_changed[: fox + 1], out[: fox + 1]))

# %%
# More keys than queries: top-left or bottom-right?
# --------------------------------------------------
# With 3 queries and 6 keys, "causal" needs a convention. The top-left mask (PyTorch's and this
# library's ``causal_mask``) lets query ``i`` see keys ``0..i``: right when the queries are the
# *first* positions. When decoding, the queries are the *last* positions (their predecessors'
# keys sit in a cache), and the mask must be aligned at the bottom right.

fig, axes = plt.subplots(1, 2, figsize=(9, 2.6), layout="constrained")
plot_matrix(causal_mask(3, 6).astype(float), ax=axes[0], title="causal_mask(3, 6): top-left")
plot_matrix(
    causal_mask_bottom_right(3, 6).astype(float),
    ax=axes[1],
    title="causal_mask_bottom_right(3, 6)",
)

# Only the bottom-right mask reproduces the last three rows of full causal attention.
q, k, v = np.random.default_rng(2).standard_normal((3, 6, 4))
full = scaled_dot_product_attention(q, k, v, is_causal=True)
last_three = scaled_dot_product_attention(q[3:], k, v, mask=causal_mask_bottom_right(3, 6))
wrong = scaled_dot_product_attention(q[3:], k, v, mask=causal_mask(3, 6))
np.testing.assert_allclose(last_three, full[3:], rtol=0, atol=1e-12)
assert not np.allclose(wrong, full[3:])

# %%
# Causal and padding together
# ---------------------------
# In a padded batch the causal mask is combined with the key-padding mask, shaped
# ``(B, 1, 1, S)`` to broadcast over the heads and the queries. The real tokens then get exactly
# the outputs they get without padding; padded positions attend to the real keys before them.

sentences = [sentence, "the lazy dog", "a quick fox"]
vocab = Vocabulary.from_text(sentences)
embed = Embedding(len(vocab), 8, rng=3)
ids, keep = vocab.encode_batch(sentences)
mask = key_padding_mask(keep, is_causal=True)
padded = layer(embed(ids), mask=mask)
print("ids:\n", ids)
print("mask shape:", mask.shape)

for b, text in enumerate(sentences):
    alone = layer(embed(vocab.encode(text)), is_causal=True)
    np.testing.assert_allclose(padded[b, : len(alone)], alone, rtol=0, atol=1e-12)
assert np.isfinite(padded).all()  # padded rows included: no NaN anywhere

layer(embed(ids), mask=mask)
labels = [vocab.tokens[i] for i in ids[1]]
ax = plot_attention_weights(
    layer.weights[1, 0], labels, annotate=False, title="'the lazy dog', padded: head 0"
)

plt.show()
