"""
An embedding table gives a token the same vector wherever it appears
====================================================================

Attention compares tokens by taking dot products, so every token id has to become a vector
first. Real models look the vector up in a table with one row per id, so a word that appears
twice starts from the same vector twice. This example draws the table, the rows a sentence
picks from it, and the contrast with the seed notebook's shortcut of one random vector per
*position*.
"""

# %%
# A lookup table: one vector per token
# ------------------------------------
# An :class:`~simple_attention.Embedding` holds a table with one row for every id in the
# vocabulary. Embedding a sequence means picking rows: token id ``t`` gets row ``t``. The table
# starts random (here from a standard normal distribution, hence the negative, blue, entries)
# and is one of the things training adjusts.

import matplotlib.pyplot as plt
import numpy as np

from simple_attention import Embedding, Vocabulary, naive_embeddings, tokenize
from simple_attention.plotting import plot_embeddings

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
# The picture on the right is the table's rows copied in sentence order: the lookup is plain
# indexing, ``embed.weight[ids]``.

assert np.array_equal(x_seq, embed.weight[ids])

# %%
# Same token, same vector
# -----------------------
# With the lookup, "one" and "step" get identical rows at both of their positions, which is
# what we want from a representation of *tokens*. The seed notebook's shortcut,
# :func:`~simple_attention.naive_embeddings`, draws a new random vector for every position and
# never looks at the ids, so its vectors differ at every position.
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
