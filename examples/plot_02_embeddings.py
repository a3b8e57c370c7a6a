"""
Embedding vectors: from ids to numbers attention can compare
============================================================

Attention compares tokens by taking dot products, so every token id has to become a vector
first. This example looks at two ways of doing that: the seed notebook's shortcut of one random
vector per *position*, and the lookup table that real models use, with one vector per *token*.
"""

# %%
# The shortcut: one random vector per position
# --------------------------------------------
# :func:`~simple_attention.naive_embeddings` ignores the ids altogether and draws a vector of
# ``dim`` numbers in ``[0, 1)`` for each position. The seed used four tokens in three dimensions,
# small enough to read every number. In the heatmap each row is one vector :math:`x^{(i)}`: red
# cells are large entries, white ones close to zero.

import matplotlib.pyplot as plt
import numpy as np

from simple_attention import Embedding, Vocabulary, naive_embeddings, tokenize
from simple_attention.plotting import plot_embeddings

x = naive_embeddings(4, 3, rng=0)
print(x.round(3))
ax = plot_embeddings(x, [f"position {i}" for i in range(4)], title="Naive embeddings (4 x 3)")

# %%
# Every later step only needs *some* vectors, so this is enough to build attention. But the
# vectors know nothing about the tokens: put the same word at two positions and it gets two
# unrelated vectors.
#
# A lookup table: one vector per token
# ------------------------------------
# An :class:`~simple_attention.Embedding` holds a table with one row for every id in the
# vocabulary. Embedding a sequence means picking rows: token id ``i`` gets row ``i``. The table
# starts random (here from a standard normal distribution, hence the negative, blue, entries)
# and is one of the things training adjusts.

sentence = "one step, then one more step"
vocab = Vocabulary.from_text(sentence)
tokens = tokenize(sentence)
ids = vocab.encode(sentence)
embed = Embedding(len(vocab), 4, rng=1)

fig, (ax_table, ax_seq) = plt.subplots(
    1, 2, figsize=(10, 4.2), layout="constrained", width_ratios=[1, 1]
)
plot_embeddings(embed.weight, vocab.tokens, ax=ax_table, title="The table: one row per id")
ax_table.set_ylabel("token (id = row number)")
x_seq = embed(ids)
ax = plot_embeddings(
    x_seq,
    [f"{t} ({i})" for t, i in zip(tokens, ids, strict=True)],
    ax=ax_seq,
    title="The sentence: rows picked by id",
)

# %%
# The picture on the right is the table's rows copied in sentence order. Looking up a row is
# the same as multiplying a *one-hot* vector (all zeros except a 1 at the id) by the table,
# which is how the lookup is often written in papers:

one_hot = np.eye(len(vocab))[ids]
assert np.array_equal(one_hot @ embed.weight, x_seq)
assert np.array_equal(x_seq, embed.weight[ids])

# %%
# Same token, same vector
# -----------------------
# With the lookup, "one" and "step" get identical rows at both of their positions, which is
# what we want from a representation of *tokens*. The naive vectors differ at every position.
# (A real model then adds a *position* embedding, so that the two copies of "step" can still be
# told apart; attention on its own does not know about order.)

first, second = [i for i, t in enumerate(tokens) if t == "step"]
naive = naive_embeddings(len(tokens), 4, rng=0)
print(f"'step' is at positions {first} and {second}")
print("lookup:", x_seq[first].round(3), x_seq[second].round(3))
print("naive: ", naive[first].round(3), naive[second].round(3))
assert np.array_equal(x_seq[first], x_seq[second])
assert not np.allclose(naive[first], naive[second])

fig, (ax_naive, ax_lookup) = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
plot_embeddings(naive, tokens, ax=ax_naive, title="Naive: a new vector at every position")
plot_embeddings(x_seq, tokens, ax=ax_lookup, title="Lookup: repeated tokens repeat their row")

plt.show()
