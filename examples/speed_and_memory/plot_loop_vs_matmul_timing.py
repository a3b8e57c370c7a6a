r"""
Same arithmetic, different speed: Python loops against matrix products
======================================================================

Self-attention can be computed with Python loops, one product at a time, or with two matrix
products. Both do the same multiply-adds, about :math:`2 n^2 d_\text{in}` of them for
:math:`n` tokens of :math:`d_\text{in}` features. This example times them as the sequence
grows, to show how much the way of computing matters even when the amount of arithmetic is
the same.

The times are measured while this page is built, so the exact numbers depend on the computer
and on what else it was doing. Only the shape of the curves and the rough size of the ratio
carry over.
"""

# %%
# Measuring fairly
# ----------------
# Short calls are too quick to time one by one, so each measurement repeats a call until at
# least a millisecond has passed and reports the time per call. The two versions are
# measured in alternation, loop, matmul, loop, matmul..., so that a busy moment slows both
# alike, and we keep the median of the repeats, which ignores the odd slow outlier.

import time
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np

from simple_attention import naive_embeddings, self_attention, self_attention_loop
from simple_attention.plotting import plot_timings


def seconds_per_call(func: Callable[[], object], min_time: float = 1e-3) -> float:
    """Call ``func`` repeatedly for at least ``min_time`` seconds; return the time per call."""
    calls = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < min_time:
        func()
        calls += 1
    return elapsed / calls


def median_times(funcs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median time per call of each function, measured in alternation after one warm-up."""
    for func in funcs.values():
        func()
    samples: dict[str, list[float]] = {name: [] for name in funcs}
    for _ in range(repeats):
        for name, func in funcs.items():
            samples[name].append(seconds_per_call(func))
    return {name: float(np.median(times)) for name, times in samples.items()}


# %%
# The two versions on growing inputs
# ----------------------------------
# Random inputs with :math:`d_\text{in} = 16` features, on sequences of growing length. The
# loop version stops early, since its time grows like :math:`n^2` from the start. At every
# length where both run we also check that they agree, since a fast wrong answer is no answer.

dim = 16
loop_sizes = [4, 8, 16, 32, 64]
sizes = [*loop_sizes, 128, 256, 512, 1024]
timings: dict[str, list[float]] = {
    "Python loops": [],
    "matrix products": [],
}

for n in sizes:
    x = naive_embeddings(n, dim, rng=n)
    funcs: dict[str, Callable[[], object]] = {"matmul": lambda x=x: self_attention(x)}
    if n in loop_sizes:
        np.testing.assert_allclose(self_attention_loop(x), self_attention(x), rtol=1e-12)
        funcs["loops"] = lambda x=x: self_attention_loop(x)
    medians = median_times(funcs, repeats=9)
    timings["Python loops"].append(medians.get("loops", np.nan))
    timings["matrix products"].append(medians["matmul"])
    print(f"n = {n:4d}:  " + "   ".join(f"{k} {v * 1e3:9.3f} ms" for k, v in medians.items()))

loop_times = np.array(timings["Python loops"][: len(loop_sizes)])
matmul_times = np.array(timings["matrix products"])
speedup = loop_times / matmul_times[: len(loop_sizes)]

# %%
# Reading the curves
# ------------------
# On log-log axes a cost proportional to :math:`n^2` is a straight line of slope 2 (the dotted
# guide). The loop version should run parallel to it: every one of its :math:`2 n^2 d_\text{in}`
# multiply-adds goes through the Python interpreter, which costs far more than the arithmetic
# itself. The matrix version grows far more slowly at first, because for small inputs its time is
# mostly the fixed cost of calling into NumPy; its :math:`n^2` growth only shows once the
# arithmetic outweighs that cost. Times below a millisecond are easily disturbed by whatever else
# the computer is doing, so expect some zig-zag: the trend is what counts. On the right, the ratio
# of the two, printed below as well: the matrix version wins by a margin that tends to widen with
# the sequence length. Take only its order of magnitude from this run.

fig, (ax_time, ax_ratio) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
plot_timings(sizes, timings, ax=ax_time, title=f"Self-attention, d_in = {dim}")
guide = loop_times[-1] * (np.array(loop_sizes) / loop_sizes[-1]) ** 2
ax_time.plot(loop_sizes, guide, "k:", label=r"$\propto n^2$")
ax_time.legend(loc="upper left")

ax_ratio.plot(loop_sizes, speedup, "o-", lw=2, color="tab:purple")
for n, ratio in zip(loop_sizes, speedup, strict=True):
    ax_ratio.annotate(
        f"{ratio:.0f}x", (n, ratio), textcoords="offset points", xytext=(0, 8), ha="center"
    )
ax_ratio.set_xscale("log", base=2)
ax_ratio.set_yscale("log")
ax_ratio.set_xticks(loop_sizes, labels=[str(n) for n in loop_sizes])
ax_ratio.margins(y=0.25)
ax_ratio.set_xlabel("sequence length n")
ax_ratio.set_ylabel("loop time / matmul time")
ax_ratio.set_title("Speed-up of the matrix version")
ax_ratio.grid(which="both", alpha=0.3)

print("speed-up:", " ".join(f"n={n}: {r:.0f}x" for n, r in zip(loop_sizes, speedup, strict=True)))
per_step = loop_times[-1] / (2 * loop_sizes[-1] ** 2 * dim)
print(f"loops, n = {loop_sizes[-1]}: {per_step * 1e9:.0f} ns per multiply-add")


# %%
# Both versions did the same arithmetic. What the matrix products buy is that the loops run in
# compiled code, over numbers stored next to each other in memory, with the processor's vector
# instructions, instead of one interpreted Python step per number. That is why every
# transformer, from the tutorial kind to the largest, is written as matrix products.

plt.show()
