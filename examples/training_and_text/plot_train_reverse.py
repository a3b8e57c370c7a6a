r"""
Training attention to reverse a sequence
========================================

Reversing a sequence of ``n`` tokens is a task one attention layer can solve exactly: output
position :math:`i` copies input position :math:`n - 1 - i`, so the ideal attention weights are
the anti-diagonal. Because that pattern is known before training starts, we can watch the
learned weights move towards it. The model is an embedding plus learned position vectors, one
:class:`~simple_attention.SelfAttention` layer and a linear head, trained with Adam on the
softmax cross-entropy; every gradient comes from the library's hand-written backward passes.
"""

# %%
# The task
# --------
# Random sequences of 10 tokens out of 20, and the same sequences reversed. The held-out
# sequences never occur in the training data.

import matplotlib.pyplot as plt
import numpy as np

from simple_attention import (
    TinyAttentionModel,
    accuracy,
    attention_match,
    reverse_task,
    train,
)
from simple_attention.plotting import plot_attention_weights, plot_loss_curve

length, vocab_size = 10, 20
task = reverse_task(n_train=2000, n_test=500, length=length, vocab_size=vocab_size, rng=0)
print("input: ", task.test_inputs[0])
print("target:", task.test_targets[0])

# %%
# Training
# --------
# 300 steps of 32 sequences each. We record the attention weights, averaged over the held-out
# sequences, at a handful of steps, and the loss at every step.

model = TinyAttentionModel(vocab_size, length, d_model=32, rng=1)
snapshot_steps = [0, 5, 10, 15, 20, 25, 30, 40, 60, 100, 200, 300]
history = train(
    model,
    task.train_inputs,
    task.train_targets,
    steps=300,
    rng=2,
    snapshot_steps=snapshot_steps,
    probe=task.test_inputs,
)
held_out_accuracy = accuracy(model, task.test_inputs, task.test_targets)
print(f"held-out accuracy after {len(history.losses)} steps: {held_out_accuracy:.4f}")
# A regression anywhere in the forward or backward passes shows up here and fails the build.
assert held_out_accuracy >= 0.99

plot_loss_curve(
    history.losses,
    references={f"uniform guess, log {vocab_size}": np.log(vocab_size)},
    title="Training loss",
)
plt.show()

# %%
# The attention pattern emerging
# ------------------------------
# At step 0 the weights are almost uniform. The anti-diagonal appears within a few dozen steps
# and then sharpens until nearly all of each query's weight sits on the mirrored key.

shown = [0, 10, 20, 30, 300]
snapshots = dict(zip(history.snapshot_steps, history.snapshots, strict=True))
panels = [(f"step {step}", snapshots[step]) for step in shown]
panels.append(("ideal", task.ideal_weights))
# Two panels per row, large enough to read on a phone; one colour bar for all (the same
# scale, 0 to 1).
fig, axes = plt.subplots(3, 2, figsize=(7.2, 9.6), layout="constrained")
for ax, (title, weights) in zip(axes.flat, panels, strict=True):
    plot_attention_weights(weights, annotate=False, ax=ax, title=title)
    ax.images[0].colorbar.remove()
for ax in axes[:, 1]:
    ax.set_ylabel("")
for ax in axes[:-1].flat:
    ax.set_xlabel("")
colorbar = fig.colorbar(axes[0, 0].images[0], ax=axes, label="weight", shrink=0.5)

# %%
# How close to the ideal?
# -----------------------
# :func:`~simple_attention.attention_match` measures the share of attention that falls on the
# key the ideal pattern points at: ``1 / n`` for uniform weights, 1 for a perfect match.

matches = [attention_match(w, task.ideal_weights) for w in history.snapshots]
for step, match in zip(history.snapshot_steps, matches, strict=True):
    print(f"step {step:3d}: {match:.3f}")
assert matches[0] < 0.2
assert matches[-1] > 0.95

fig, ax = plt.subplots(figsize=(6.5, 3.6), layout="constrained")
ax.plot(history.snapshot_steps, matches, marker="o")
ax.axhline(1 / length, ls="--", color="C1", label=f"uniform weights, 1/{length}")
ax.axhline(1.0, ls=":", color="k", label="ideal pattern")
ax.set_xscale("symlog", linthresh=10)  # linear up to 10 steps, logarithmic after
ax.set_xlim(0, 1.1 * snapshot_steps[-1])
ax.set_xlabel("training step")
ax.set_ylabel("attention on the ideal key")
ax.set_title("Learned attention converges to the known pattern")
ax.legend(loc="lower right")
ax.grid(alpha=0.3)

# sphinx_gallery_thumbnail_number = 2
plt.show()
