"""
Text to token ids: a vocabulary is a lookup
===========================================

A transformer never sees letters. Its input is a short row of integers, one per *token*, each
the row number of that token in a fixed vocabulary. This example turns sentences into such
rows and shows the two properties of the lookup that matter later: a word gets the same id
wherever it appears, and a word the vocabulary does not know loses its identity.
"""

# %%
# A sentence as ids
# -----------------
# :func:`~simple_attention.tokenize` is the simplest tokeniser that works: lower-case words and
# punctuation marks, no sub-words. A :class:`~simple_attention.Vocabulary` then numbers the
# distinct tokens in order of first appearance, after two reserved entries: ``<pad>`` (to fill
# short sequences in a batch) and ``<unk>`` (for words it has never seen).

import matplotlib.pyplot as plt

from simple_attention import Vocabulary, tokenize
from simple_attention.plotting import plot_tokens

sentence = "Your journey starts with one step."
tokens = tokenize(sentence)
vocab = Vocabulary.from_text(sentence)
ids = vocab.encode(sentence)
print(tokens)
print(dict(zip(vocab.tokens, range(len(vocab)), strict=True)))
print(ids)
print(f"<pad> is id {vocab.pad_id}, <unk> is id {vocab.unk_id}")

assert vocab.decode(ids) == " ".join(tokens)  # encoding loses nothing the tokeniser kept
ax = plot_tokens(ids, tokens, title="A sentence as token ids")

# %%
# Repeated words and unknown words
# --------------------------------
# The mapping is a plain lookup, so a word gets the same id wherever it appears. A word the
# vocabulary was not built from cannot get an id of its own: it becomes ``<unk>``, and
# whatever it meant is lost. Real tokenisers avoid this by splitting rare words into smaller
# known pieces (byte-pair encoding), which is a story for another day.

other = "One step, then another step."
other_tokens = tokenize(other)
other_ids = vocab.encode(other)
print(other_ids)

assert other_ids[1] == other_ids[5] == vocab.token_to_id["step"]
assert (other_ids[[2, 3, 4]] == vocab.unk_id).all()  # ",", "then" and "another" are unknown

ax = plot_tokens(
    other_ids, other_tokens, title=f"Same word, same id; unknown words become {vocab.unk_id}"
)

plt.show()
