r"""
Softmax and overflow: why the library subtracts the maximum
===========================================================

The softmax of the textbook, :math:`e^{\omega_i} / \sum_j e^{\omega_j}`, is correct maths and
fragile code. A floating-point number has a largest value, and :math:`e^\omega` passes it
for quite ordinary scores. This example finds exactly where the naive formula breaks, in
float32 and in float64, and shows the one-line change that fixes it.
"""

# %%
# How large can an exponent be?
# -----------------------------
# ``np.exp(w)`` overflows to ``inf`` as soon as :math:`w` exceeds the logarithm of the largest
# representable number. For float64 that is about 709.8; for float32, the usual type of neural
# network weights, it is only about 88.7. Once a numerator and the denominator are both
# ``inf``, their ratio is NaN ("not a number"), and a single NaN spreads through every later
# computation.

import matplotlib.pyplot as plt
import numpy as np

from simple_attention import naive_softmax, seed_inputs, self_attention, softmax
from simple_attention.plotting import plot_softmax_comparison

for dtype in (np.float32, np.float64):
    limit = np.log(np.finfo(dtype).max)
    with np.errstate(over="ignore"):
        beyond = np.exp(dtype(limit * 1.01))
    print(
        f"{np.dtype(dtype).name}: exp overflows above {limit:.2f}; "
        f"exp({limit * 1.01:.1f}) = {beyond}"
    )
    assert np.isinf(beyond)
assert round(float(np.log(np.finfo(np.float64).max)), 1) == 709.8
assert round(float(np.log(np.finfo(np.float32).max)), 1) == 88.7

# %%
# A sweep: add the same number to every score
# -------------------------------------------
# Adding a constant :math:`c` to every score does not change the softmax at all: the factor
# :math:`e^c` appears above and below the fraction bar and cancels. So for the scores
# :math:`(c, c + 1, c + 2)` the right answer never moves: the largest weight is always
# :math:`e^2 / (1 + e + e^2) \approx 0.665`. The naive formula agrees only up to a point.

step = 0.25
offsets = np.arange(0.0, 800.0, step)
scores = offsets[:, None] + np.array([0.0, 1.0, 2.0])
exact = np.exp(2) / (1 + np.e + np.exp(2))

naive_curves, stable_curves = {}, {}
for dtype in (np.float64, np.float32):
    with np.errstate(over="ignore", invalid="ignore"):
        naive = naive_softmax(scores.astype(dtype))
    stable = softmax(scores.astype(dtype))
    name = np.dtype(dtype).name
    naive_curves[f"naive, {name}"] = naive.max(axis=1)
    stable_curves[f"stable, {name}"] = stable.max(axis=1)

    limit = np.log(np.finfo(dtype).max)
    first_wrong = offsets[~np.isclose(naive.max(axis=1), exact, rtol=1e-5)].min()
    first_nan = offsets[np.isnan(naive).any(axis=1)].min()
    print(f"{name}: wrong from c = {first_wrong}, NaN from c = {first_nan}")
    # The sum e^c (1 + e + e^2) overflows first: every weight becomes finite / inf = 0.
    assert abs(first_wrong - (limit - np.log(1 + np.e + np.exp(2)))) <= step
    assert (naive[(offsets >= first_wrong) & (offsets < first_nan)] == 0).all()
    # Then e^(c + 2) itself overflows, and inf / inf is NaN.
    assert abs(first_nan - (limit - 2)) <= step
    assert np.isnan(naive[offsets >= first_nan]).any(axis=1).all()  # and it never recovers
    np.testing.assert_allclose(stable.max(axis=1), exact, rtol=1e-5)  # stable: right everywhere

ax = plot_softmax_comparison(
    offsets, naive_curves | stable_curves, title="Largest weight of softmax(c, c+1, c+2)"
)

# %%
# The stable curves (thin, on top) stay at 0.665 over the whole range. The naive ones break in
# two stages, just before the dotted lines. First the *sum* of the exponentials overflows, and
# every weight becomes a finite number divided by infinity: zero. That is the worse failure,
# because nothing looks wrong: no NaN, just weights that no longer sum to one. A fraction of a
# unit later :math:`e^{c+2}` overflows too and the NaN appears, at :math:`c \approx 86.7` in
# float32 and :math:`c \approx 707.8` in float64.
#
# The fix: subtract the maximum first
# -----------------------------------
# Since adding a constant changes nothing, :func:`~simple_attention.softmax` subtracts the
# largest score before exponentiating. Every exponent is then at most 0, so no ``exp`` can
# overflow, and the largest term is exactly :math:`e^0 = 1`, so the denominator is at least 1
# and never 0. The same trick saves the opposite case, very *negative* scores, where every
# ``exp`` rounds to 0 and the naive formula computes 0 / 0:

very_negative = np.array([-1000.0, -999.0, -998.0])
with np.errstate(invalid="ignore"):
    naive_negative = naive_softmax(very_negative)
print("naive: ", naive_negative)
print("stable:", softmax(very_negative))
assert np.isnan(naive_negative).all()
np.testing.assert_allclose(softmax(very_negative), softmax([0.0, 1.0, 2.0]))

# %%
# Where do large scores come from?
# --------------------------------
# A score is a dot product, so it grows with the *square* of the vectors' length. Scale the
# seed's input vectors by a factor :math:`k` and every score is multiplied by :math:`k^2`. The
# largest score of the seed is 2.29 (token 72 with itself), so naive attention breaks once
# :math:`2.29\,k^2` passes the limit: from :math:`k \approx 6.2` in float32 and
# :math:`k \approx 17.6` in float64. Real embeddings are rarely that long, but scores grow with
# the dimension too (example 5), and in float16, common on GPUs, ``exp`` overflows for any score
# above about 11.

x = seed_inputs()
factors = np.arange(1.0, 25.0, 0.05)
largest_score = (x @ x.T).max()
assert round(largest_score, 2) == 2.29
assert round(float(np.log(np.finfo(np.float16).max)), 1) == 11.1

naive_curves, stable_curves = {}, {}
for dtype in (np.float64, np.float32):
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
    expected = np.sqrt(np.log(np.finfo(dtype).max) / largest_score)
    print(f"{name}: naive attention is NaN from k = {first_nan:.2f} (expected {expected:.2f})")
    assert abs(first_nan - expected) <= 0.05
    assert np.isfinite(stable_curves[f"self_attention, {name}"]).all()

ax = plot_softmax_comparison(
    factors,
    naive_curves | stable_curves,
    xlabel="factor k multiplying the inputs",
    ylabel="weight token 72 gives itself",
    title="Self-attention on scaled-up inputs",
)

# %%
# Past the breaking point the library's attention keeps working and tells the true story: as
# the scores grow, the softmax becomes more decisive, and token 72 ends up attending to itself
# alone.

assert stable_curves["self_attention, float64"][-1] > 0.99

# sphinx_gallery_thumbnail_number = 1
plt.show()
