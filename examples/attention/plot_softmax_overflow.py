r"""
Where the textbook softmax breaks, and why subtracting the maximum fixes it
===========================================================================

The softmax of the textbook, :math:`a_j = e^{s_j} / \sum_l e^{s_l}`, is correct maths and
fragile code: a floating-point number has a largest value, and :math:`e^{s}` passes it for
quite ordinary scores. This example finds where the naive formula breaks, in float32 and in
float64, shows that it fails silently before it fails loudly, and shows the one-line change
that fixes it.
"""

# %%
# How large can an exponent be?
# -----------------------------
# ``np.exp(u)`` overflows to ``inf`` as soon as :math:`u` exceeds the logarithm of the largest
# representable number. The limits printed below are far apart: float32, the usual type of
# neural network weights, gives up much earlier than float64.

import matplotlib.pyplot as plt
import numpy as np

from simple_attention import naive_softmax, seed_inputs, self_attention, softmax
from simple_attention.plotting import plot_softmax_comparison

log_max = {dtype: float(np.log(np.finfo(dtype).max)) for dtype in (np.float32, np.float64)}
for dtype, limit in log_max.items():
    with np.errstate(over="ignore"):
        beyond = np.exp(dtype(limit * 1.01))
    name = np.dtype(dtype).name
    print(f"{name}: exp overflows above {limit:.2f}; exp({limit * 1.01:.1f}) = {beyond}")
    assert np.isinf(beyond)
assert log_max[np.float32] < log_max[np.float64] / 5

# %%
# A sweep: add the same number to every score
# -------------------------------------------
# Adding a constant :math:`b` to every score does not change the softmax at all: the factor
# :math:`e^b` appears above and below the fraction bar and cancels. So for the scores
# :math:`(b, b + 1, b + 2)` the right answer never moves: the largest weight is always
# :math:`e^2 / (1 + e + e^2)`. The naive formula agrees only up to a point.

step = 0.25
offsets = np.arange(0.0, 800.0, step)
base = np.array([0.0, 1.0, 2.0])
scores = offsets[:, None] + base
exact = np.exp(2) / (1 + np.e + np.exp(2))
print(f"the right largest weight, for every b: {exact:.3f}")

naive_curves, stable_curves = {}, {}
for dtype, limit in log_max.items():
    with np.errstate(over="ignore", invalid="ignore"):
        naive = naive_softmax(scores.astype(dtype))
    stable = softmax(scores.astype(dtype))
    name = np.dtype(dtype).name
    naive_curves[f"naive, {name}"] = naive.max(axis=1)
    stable_curves[f"stable, {name}"] = stable.max(axis=1)

    first_zero = offsets[~np.isclose(naive.max(axis=1), exact, rtol=1e-5)].min()
    first_nan = offsets[np.isnan(naive).any(axis=1)].min()
    print(
        f"{name}: weights all 0 (no NaN) from b = {first_zero:.2f}, NaN from b = {first_nan:.2f}"
    )
    # The sum e^b (1 + e + e^2) overflows first: every weight becomes finite / inf = 0.
    assert abs(first_zero - (limit - np.log(1 + np.e + np.exp(2)))) <= step
    assert (naive[(offsets >= first_zero) & (offsets < first_nan)] == 0).all()
    # Then e^(b + 2) itself overflows, and inf / inf is NaN, and it never recovers.
    assert abs(first_nan - (limit - base.max())) <= step
    assert np.isnan(naive[offsets >= first_nan]).any(axis=1).all()
    np.testing.assert_allclose(stable.max(axis=1), exact, rtol=1e-5)  # stable: right everywhere

ax = plot_softmax_comparison(
    offsets, naive_curves | stable_curves, title="Largest weight of softmax(b, b+1, b+2)"
)

# %%
# The stable curves (thin, on top) stay flat over the whole range. The naive ones break in
# two stages, at the offsets printed above. First the *sum* of the exponentials overflows, and
# every weight becomes a finite number divided by infinity: zero. That is the worse failure,
# because nothing looks wrong: no NaN, just weights that no longer sum to one. A little later
# :math:`e^{b+2}` overflows too, and :math:`\infty / \infty` gives the NaN where the curve stops.
#
# The fix: subtract the maximum first
# -----------------------------------
# Since adding a constant changes nothing, :func:`~simple_attention.softmax` subtracts the
# largest score before exponentiating. Every exponent is then at most 0, so no ``exp`` can
# overflow, and the largest term is exactly :math:`e^0 = 1`, so the denominator is at least 1
# and never 0. The same trick saves the opposite case, very *negative* scores, where every
# ``exp`` rounds to 0 and the naive formula computes 0 / 0:

very_negative = base - 1000.0
with np.errstate(invalid="ignore"):
    naive_negative = naive_softmax(very_negative)
print("scores:", very_negative)
print("naive: ", naive_negative)
print("stable:", softmax(very_negative).round(3))
assert np.isnan(naive_negative).all()
np.testing.assert_allclose(softmax(very_negative), softmax(base))

# %%
# Where do large scores come from?
# --------------------------------
# A score is a dot product, so it grows with the *square* of the vectors' length. Scale the
# seed's input vectors by a factor :math:`k` and every score is multiplied by :math:`k^2`, so
# naive attention breaks once :math:`k^2` times the largest score passes the limit. The code
# prints where that happens; scores also grow with the number of features (the reason for the
# :math:`1/\sqrt{d_k}` of scaled attention), and float16, common on GPUs, has a far lower
# limit still.

x = seed_inputs()
factors = np.arange(1.0, 25.0, 0.05)
largest_score = float((x @ x.T).max())
print(f"the seed's largest score: {largest_score:.2f} (token 0 with itself)")
print(f"float16: exp overflows above {np.log(np.finfo(np.float16).max):.2f}")

naive_curves, stable_curves = {}, {}
for dtype, limit in log_max.items():
    name = np.dtype(dtype).name
    naive_own, stable_own = [], []
    for k in factors:
        xk = (k * x).astype(dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            naive_own.append(naive_softmax(xk @ xk.T)[0, 0])
        stable_own.append(self_attention(xk, return_weights=True)[1][0, 0])
    naive_curves[f"naive, {name}"] = np.array(naive_own)
    stable_curves[f"self_attention, {name}"] = np.array(stable_own)

    first_nan = factors[np.isnan(naive_curves[f"naive, {name}"])].min()
    expected = np.sqrt(limit / largest_score)
    print(f"{name}: naive attention is NaN from k = {first_nan:.2f} (expected {expected:.2f})")
    assert abs(first_nan - expected) <= 0.05
    assert np.isfinite(stable_curves[f"self_attention, {name}"]).all()

ax = plot_softmax_comparison(
    factors,
    naive_curves | stable_curves,
    xlabel="factor k multiplying the inputs",
    ylabel="weight token 0 gives itself",
    title="Self-attention on scaled-up inputs",
)

# %%
# Past the breaking point the library's attention keeps working and tells the true story: as
# the scores grow, the softmax becomes more decisive, and token 0 ends up attending to itself
# alone, to the digits printed.

own_weight = stable_curves["self_attention, float64"][-1]
print(f"weight token 0 gives itself at k = {factors[-1]:.2f}: {own_weight:.4f}")
assert own_weight > 0.99

# sphinx_gallery_thumbnail_number = 1
plt.show()
