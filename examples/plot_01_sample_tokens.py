"""
Token ids: what the model is given
==================================

A transformer never sees letters. Its input is a short row of integers, one per *token*, each
an index into a fixed vocabulary. This first example draws such rows: random ids first, as a
placeholder for text, then the ids of a real sentence.
"""

# %%
# Random ids as a stand-in for text
# ---------------------------------
# To study attention we need *some* sequence of tokens, and at first it does not matter which.
# :func:`~simple_attention.sample_tokens` draws ids uniformly from ``[0, vocab_size)``. A fixed
# seed makes the draw repeatable: run this script twice and you get the same four ids.

import matplotlib.pyplot as plt
import numpy as np

from simple_attention import Vocabulary, sample_tokens, tokenize
from simple_attention.plotting import plot_tokens

ids = sample_tokens(4, vocab_size=100, rng=0)
print(ids)
assert np.array_equal(ids, sample_tokens(4, vocab_size=100, rng=0))  # same seed, same ids

ax = plot_tokens(ids, title="Four random token ids from a vocabulary of 100")

# %%
# These ids stand for nothing in particular. That is fine for the next few steps: attention
# only ever looks at the vectors the ids are turned into, never at the words themselves.
#
# A real sentence
# ---------------
# To start from text, split it into tokens first. :func:`~simple_attention.tokenize` is the
# simplest tokeniser that works: lower-case words and punctuation marks, no sub-words.
# A :class:`~simple_attention.Vocabulary` then numbers the distinct tokens in order of first
# appearance, after two reserved entries: ``<pad>`` (id 0, to fill short sequences in a batch)
# and ``<unk>`` (id 1, for words it has never seen).

sentence = "Your journey starts with one step."
tokens = tokenize(sentence)
vocab = Vocabulary.from_text(sentence)
ids = vocab.encode(sentence)
print(tokens)
print(dict(zip(vocab.tokens, range(len(vocab)), strict=True)))
print(ids)

assert vocab.decode(ids) == " ".join(tokens)  # encoding loses nothing the tokeniser kept
ax = plot_tokens(ids, tokens, title="A sentence as token ids")

# %%
# Repeated words and unknown words
# --------------------------------
# The mapping is a plain lookup, so a word gets the same id wherever it appears. A word the
# vocabulary was not built from cannot get an id of its own: it becomes ``<unk>``, id 1, and
# whatever it meant is lost. Real tokenisers avoid this by splitting rare words into smaller
# known pieces (byte-pair encoding), which is a story for another day.

other = "One step, then another step."
other_tokens = tokenize(other)
other_ids = vocab.encode(other)
print(other_ids)

assert other_ids[1] == other_ids[5] == vocab.token_to_id["step"]
assert (other_ids[[2, 3, 4]] == vocab.unk_id).all()  # ",", "then" and "another" are unknown

ax = plot_tokens(other_ids, other_tokens, title="Same word, same id; unknown words become 1")

plt.show()
