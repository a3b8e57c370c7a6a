"""
The residual stream: how much each block adds
=============================================

In a transformer block each half reads a normalised copy of the running vector and *adds* its
result to it: ``h = x + attn(ln1(x))``, then ``out = h + ffn(ln2(h))``. The running vector is
the residual stream, and the layers only write corrections into it. This example takes a small
character-level language model apart, block by block, and measures how large each correction
is next to the stream it is added to, before and after a short training run.
"""

# %%
# One block, taken apart
# ----------------------
# A :class:`~simple_attention.TransformerBlock` is two halves, each with a residual path
# around it. Its sub-layers can be called one at a time: doing so rebuilds the block's output
# exactly, and gives the two corrections it adds.

import matplotlib.pyplot as plt
import numpy as np

from simple_attention import (
    Adam,
    CharVocabulary,
    TinyGPT,
    load_corpus,
    next_token_pairs,
    split_corpus,
    train,
)
from simple_attention.plotting import plot_transformer_block

plot_transformer_block()
plt.show()


def corrections(block, x):
    """The stream before each half of ``block`` and what that half adds to it."""
    added_by_attention = block.attention(block.ln1(x), is_causal=True)
    h = x + added_by_attention
    added_by_ffn = block.ffn(block.ln2(h))
    out = h + added_by_ffn
    np.testing.assert_allclose(out, block(x), rtol=1e-5, atol=1e-6)  # the block itself
    return [(x, added_by_attention), (h, added_by_ffn)], out


def relative_sizes(model, ids):
    """Size of each half's correction over the size of the stream it is added to."""
    x = model.positions(model.embedding(ids))  # the stream as it enters block 0
    sizes = []
    for block in model.blocks:
        halves, x = corrections(block, x)
        for stream, added in halves:
            # The mean over positions of |added| / |stream|, each a vector of d_model numbers.
            ratio = np.linalg.norm(added, axis=-1) / np.linalg.norm(stream, axis=-1)
            sizes.append(float(ratio.mean()))
    return np.array(sizes)


text = load_corpus()
train_text, held_out_text = split_corpus(text)
vocab = CharVocabulary.from_text(text)
length = 32
inputs, targets = next_token_pairs(vocab.encode(train_text), length)
probe = next_token_pairs(vocab.encode(held_out_text), length)[0][::length][:64]

model = TinyGPT(len(vocab), length, d_model=32, n_heads=4, n_layers=4, rng=0)
model.astype(np.float32)
at_start = relative_sizes(model, probe)

# %%
# After a short training run
# --------------------------
# The token and position vectors start tiny (standard deviation 0.02), while each half reads a
# *normalised* copy of the stream: at initialisation the first corrections are several times the
# size of the stream they join, and the later ones, added to a stream that has grown, smaller.
# After a short training run the two ends move apart. The first attention half writes a vector
# far larger than the embedding it reads: most of the stream is written there, from the
# characters of the context. Every half after the first feed-forward network adds a correction
# smaller than the stream it joins, and the stream carries the rest through unchanged.

steps = 150
history = train(
    model,
    inputs,
    targets,
    optimizer=Adam(model.params, lr=3e-3),
    steps=steps,
    batch_size=16,
    rng=1,
)
after_training = relative_sizes(model, probe)
print(f"training loss: {history.losses[0]:.2f} -> {np.mean(history.losses[-20:]):.2f} nats/char")

labels = [f"{half} {i}" for i in range(len(model.blocks)) for half in ("attn", "ffn")]
print(f"{'half':8s} {'at start':>9s} {'trained':>9s}")
for label, start, end in zip(labels, at_start, after_training, strict=True):
    print(f"{label:8s} {start:9.2f} {end:9.2f}")

assert after_training[0] > 1.0 > after_training[2:].max()  # what the text above says

positions = np.arange(len(labels))
fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
ax.bar(positions - 0.2, at_start, width=0.4, color="#E69F00", label="at initialisation")
ax.bar(positions + 0.2, after_training, width=0.4, color="#0072B2", label=f"after {steps} steps")
ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")  # as large as the stream
ax.set_xticks(positions, labels)
ax.set(
    yscale="log",
    ylabel="|what the half adds| / |stream|",
    title="How much each half of each block adds to the residual stream",
)
ax.grid(alpha=0.3, axis="y", which="both")
ax.legend()

plt.show()
