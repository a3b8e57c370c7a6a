"""
Masks: True means "may attend"
==============================

Every function of ``simple_attention`` reads a boolean mask the same way: ``True`` where a
query may attend to a key, ``False`` where it may not. This example draws that one convention:
three masks for a padded sentence (causal, padding, and both combined with ``&``) next to the
attention weights they produce. Every ``False`` cell of a mask is a weight of exactly zero, and
the weights that remain in each row still sum to one. :doc:`Tutorial page 8
</tutorial/08-masks>` explains masks step by step, with the ways they produce ``NaN``.
"""

# %%
# A padded sentence
# -----------------
# "One step" padded to the length of a six-token sentence: two real tokens, then four
# ``<pad>``. ``keep`` says which positions are real.

import matplotlib.pyplot as plt
import numpy as np

from simple_attention import (
    Embedding,
    Vocabulary,
    causal_mask,
    scaled_dot_product_attention,
)
from simple_attention.plotting import plot_attention_weights, plot_matrix

sentences = ["Your journey starts with one step", "One step"]
vocab = Vocabulary.from_text(sentences)
ids, keep = vocab.encode_batch(sentences)
tokens = [vocab.tokens[i] for i in ids[1]]
x = Embedding(len(vocab), 4, rng=0)(ids[1])  # (n, d) = (6, 4)
n = len(tokens)
print(tokens)
print(keep[1])

# %%
# Three masks and their weights
# -----------------------------
# Each mask has one row per query and one column per key, ``(n_q, n_k)``, or any shape that
# broadcasts to it: the padding mask ``keep[1]`` has shape ``(n_k,)`` and hides the same keys
# from every query. Combining two masks is a logical *and*: a query may attend to a key only if
# both masks allow it. In the masks on the left, red cells are ``True`` and white cells
# ``False``.

masks = {
    "causal_mask(n)": causal_mask(n),
    "padding: keep": np.broadcast_to(keep[1], (n, n)),
    "both: causal_mask(n) & keep": causal_mask(n) & keep[1],
}

# One row per mask: the mask on the left, the weights it gives on the right.
fig, axes = plt.subplots(3, 2, figsize=(8, 10.5), layout="constrained")
for row, (name, mask) in enumerate(masks.items()):
    _, weights = scaled_dot_product_attention(x, x, x, mask=mask, return_weights=True)
    # The convention, checked: False is a weight of exactly zero, and each row sums to one.
    assert np.all(weights[~mask] == 0.0)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    plot_matrix(mask.astype(float), tokens, tokens, ax=axes[row, 0], annotate=False, title=name)
    axes[row, 0].images[0].colorbar.remove()  # red: True (may attend), white: False
    axes[row, 0].set_ylabel("query (attending)")
    plot_attention_weights(weights, tokens, ax=axes[row, 1], annotate=False, title="weights")
    # The weights share one scale, [0, 1]: one colour bar is enough.
    axes[row, 1].images[0].colorbar.remove()
    axes[row, 1].set_ylabel("")
for ax in axes.flat:
    ax.tick_params(axis="x", labelrotation=45)
for ax in axes[:-1].flat:
    ax.set_xlabel("")
axes[-1, 0].set_xlabel("key (attended to)")
colorbar = fig.colorbar(axes[0, 1].images[0], ax=axes[:, 1], label="weight", shrink=0.5)

# %%
# The same mask written as a float mask
# -------------------------------------
# A float mask is *added* to the scores: ``0`` where the boolean mask is ``True`` and ``-inf``
# where it is ``False``. It gives the same weights, to the last bit. Build it by selecting, with
# ``np.where``, never by multiplying by ``-inf`` (``0 * -inf`` is ``NaN``).

both = masks["both: causal_mask(n) & keep"]
as_float = np.where(both, 0.0, -np.inf)
_, from_bool = scaled_dot_product_attention(x, x, x, mask=both, return_weights=True)
_, from_float = scaled_dot_product_attention(x, x, x, mask=as_float, return_weights=True)
np.testing.assert_array_equal(from_bool, from_float)
print(as_float[:3])

# %%
# Passing a mask to PyTorch
# -------------------------
# ``torch.nn.functional.scaled_dot_product_attention`` reads booleans as this library does; the
# module ``torch.nn.MultiheadAttention`` reads ``True`` as *blocked*, so it needs ``~mask``.
# The inverted mask is ``True`` exactly where the weights are zero:

blocked = ~both
assert np.array_equal(blocked, from_bool == 0.0)
print(blocked.astype(int))

plt.show()
