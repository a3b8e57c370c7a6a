r"""
Online softmax: attention without the score matrix
==================================================

A softmax seems to need every score of a query before it can produce a single weight: the
largest score and the sum of all the exponentials appear in every weight. The *online* softmax
gets around that by reading the keys block by block and keeping three running values per
query: the largest score seen so far :math:`m`, the sum of the shifted exponentials
:math:`\ell`, and the weighted sum of the values :math:`\tilde z`. This example follows those
values for one query, block after block, and then checks
:func:`~simple_attention.chunked_attention`, which runs the same recurrence for all queries,
against :func:`~simple_attention.scaled_dot_product_attention`.
"""

# %%
# One query, keys in blocks of three
# ----------------------------------
# When a block brings a new maximum, everything accumulated so far is multiplied by the
# rescaling factor :math:`r = e^{m_\text{old} - m_\text{new}}`; otherwise :math:`r = 1`. After
# the last block, :math:`\tilde z / \ell` is the context vector of the query.

import math

import matplotlib.pyplot as plt
import numpy as np

import simple_attention as sa
from simple_attention.plotting import plot_online_softmax_blocks

rng = np.random.default_rng(13)
n_keys, block = 12, 3
scores = rng.normal(scale=2.0, size=n_keys)
scores[7] += 4.0  # a clear winner, in the third block
values = rng.normal(size=(n_keys, 2))

m, ell, z_tilde = -math.inf, 0.0, np.zeros(2)
history = []
for start in range(0, n_keys, block):
    s_b, v_b = scores[start : start + block], values[start : start + block]
    m_new = max(m, float(s_b.max()))
    r = math.exp(m - m_new)  # exp(-inf) = 0 for the first block
    p = np.exp(s_b - m_new)
    ell = r * ell + float(p.sum())
    z_tilde = r * z_tilde + p @ v_b
    m = m_new
    history.append((start + len(s_b), m, r, ell))

online = z_tilde / ell
direct = sa.softmax(scores) @ values
print("online:", online.round(6), " direct:", direct.round(6))
np.testing.assert_allclose(online, direct, rtol=0, atol=1e-12)

# %%
# The running values, block after block
# -------------------------------------
# The maximum only grows; :math:`r` drops below 1 exactly when it does, and shrinks the sum
# :math:`\ell` accumulated so far, since every earlier term was shifted by a smaller maximum.
# The diagram shows the scores in their blocks and the state after each block; the plots below
# it follow the same three numbers.

plot_online_softmax_blocks(n_keys, block, scores=scores)
plt.show()

seen, maxima, factors, sums = (np.array(col) for col in zip(*history, strict=True))
assert np.all(np.diff(maxima) >= 0)  # the maximum only grows
new_maximum = np.diff(maxima, prepend=-np.inf) > 0
assert np.array_equal(factors < 1, new_maximum)  # r < 1 exactly when it does
fig, axes = plt.subplots(1, 3, figsize=(10, 3), layout="constrained", sharex=True)
for ax, y, title in zip(
    axes,
    (maxima, factors, sums),
    ("running maximum $m$", "rescaling factor $r$", r"running sum $\ell$"),
    strict=True,
):
    ax.plot(seen, y, marker="o")
    ax.set_title(title)
    ax.set_xlabel("keys seen")
    ax.grid(alpha=0.3)
axes[1].set_ylim(0, 1.05)
plt.show()

# %%
# All queries at once, any block size
# -----------------------------------
# :func:`~simple_attention.chunked_attention` runs the same recurrence on blocks of queries
# against blocks of keys. Its result does not depend on the block size beyond rounding.

q, k, v = rng.normal(size=(3, 4, 200, 16))  # 4 heads, 200 tokens, d_k = 16
reference = sa.scaled_dot_product_attention(q, k, v, is_causal=True)
block_sizes = [1, 3, 16, 64, 200]
differences = [
    float(np.abs(sa.chunked_attention(q, k, v, is_causal=True, block_size=b) - reference).max())
    for b in block_sizes
]
for b, diff in zip(block_sizes, differences, strict=True):
    print(f"block_size={b:4d}: largest difference {diff:.1e}")
assert max(differences) < 1e-12
