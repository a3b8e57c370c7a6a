"""
Temperature: from repetition to noise
=====================================

A language model gives a score to every possible next character;
:func:`~simple_attention.generate` turns the scores into probabilities and draws one. The
temperature :math:`T` divides the scores first: at :math:`T = 0` the likeliest character always
wins (greedy decoding), below 1 the likeliest characters gain, above 1 the unlikely ones do.
This example trains a small :class:`~simple_attention.TinyGPT` on the Python help topics for a
few seconds, and measures what the temperature does to the text it writes: how much of it
repeats, and how many of its words are real words.
"""

# %%
# A small model, briefly trained
# ------------------------------
# One block of two heads, a context of 32 characters, 600 steps of Adam in float32. The model
# is much smaller than the one of tutorial page 12, but it learns enough spelling to beat the
# bigram model on held-out text, and to tell the temperatures apart.

import re

import matplotlib.pyplot as plt
import numpy as np

from simple_attention import (
    Adam,
    CharVocabulary,
    TinyGPT,
    bigram_nats,
    generate,
    load_corpus,
    next_token_pairs,
    softmax_cross_entropy,
    split_corpus,
    train,
)

text = load_corpus()
train_text, held_out_text = split_corpus(text)
vocab = CharVocabulary.from_text(text)
train_ids, held_out_ids = vocab.encode(train_text), vocab.encode(held_out_text)

context = 32
model = TinyGPT(len(vocab), context, d_model=48, n_heads=2, n_layers=1, rng=0)
model = model.astype(np.float32)
inputs, targets = next_token_pairs(train_ids, context)
train(model, inputs, targets, optimizer=Adam(model.params, lr=5e-3), steps=600, rng=1)

held_inputs, held_targets = next_token_pairs(held_out_ids, context)
model.eval()
held_out, _ = softmax_cross_entropy(model(held_inputs[::context]), held_targets[::context])
bigram = bigram_nats(train_ids, held_out_ids, len(vocab))
print(f"held-out loss {held_out:.2f} nats per character (bigram model: {bigram:.2f})")
assert held_out < bigram

# %%
# The same prompt at six temperatures
# -----------------------------------
# 24 texts of 200 characters per temperature, drawn in one batch, all from the prompt
# "The ". Two measures of each batch: the share of its words (runs of letters) that occur in
# the training text, and the share of its 8-character pieces that occur more than once in the
# same text, a measure of repetition.

known_words = set(re.findall(r"[A-Za-z]+", train_text))
temperatures = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5]
prompt = np.tile(vocab.encode("The "), (24, 1))  # (24, 4): a batch of 24 prompts


def real_word_share(samples):
    words = [w for s in samples for w in re.findall(r"[A-Za-z]+", s[4:])]
    return np.mean([w in known_words for w in words])


def repeated_share(samples, n=8):
    shares = []
    for s in samples:
        pieces = [s[i : i + n] for i in range(4, len(s) - n + 1)]
        counts = {p: pieces.count(p) for p in set(pieces)}
        shares.append(np.mean([counts[p] > 1 for p in pieces]))
    return np.mean(shares)


real, repeated, examples = [], [], {}
for t in temperatures:
    out = generate(model, prompt, 200, temperature=t, rng=2)
    samples = [vocab.decode(row) for row in out]
    real.append(real_word_share(samples))
    repeated.append(repeated_share(samples))
    examples[t] = samples[0]
    print(f"T = {t:4.2f}: {100 * real[-1]:3.0f}% real words, {100 * repeated[-1]:3.0f}% repeated")

# At T = 0 every draw is the likeliest character: 24 identical prompts, 24 identical texts.
assert len({tuple(row) for row in generate(model, prompt, 50, temperature=0.0)}) == 1
# The hotter, the fewer real words and the fewer repeats.
assert np.all(np.diff(real) < 0)
assert np.all(np.diff(repeated) <= 0)

fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
ax.plot(temperatures, 100 * np.array(real), "o-", label="words that occur in the corpus")
ax.plot(temperatures, 100 * np.array(repeated), "s-", label="8-character pieces repeated")
ax.set(xlabel="temperature T", ylabel="% of the generated text", ylim=(0, 100))
ax.grid(alpha=0.3)
ax.legend()
plt.show()

# %%
# What the numbers look like
# --------------------------
# Greedy decoding falls into a loop that nothing random can break; a high temperature gives so
# much weight to rare characters that the words fall apart. In between, the text is varied and
# mostly spelled right.

for t in (0.0, 0.75, 1.5):
    print(f"T = {t}:")
    print("   ", examples[t].replace("\n", "\n    "))
