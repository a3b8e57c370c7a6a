"""softmax_cross_entropy at the edges: its masks, its log-probabilities and overflow."""

from __future__ import annotations

import numpy as np
import pytest

from simple_attention import log_softmax, softmax_cross_entropy


def test_mask_of_the_wrong_shape_names_mask() -> None:
    with pytest.raises(ValueError, match=r"mask has shape \(3,\) but must broadcast to .* \(2,\)"):
        softmax_cross_entropy(np.zeros((2, 3)), [0, 1], mask=[True, False, True])


def test_mask_that_broadcasts_is_accepted() -> None:
    logits = np.zeros((2, 3, 4))
    targets = np.zeros((2, 3), dtype=int)
    loss, _ = softmax_cross_entropy(logits, targets, mask=np.array([True, False, True]))
    assert loss == pytest.approx(np.log(4))


@pytest.mark.parametrize("mask", [np.ones(2, dtype=int), np.ones(2), np.ones(2) + 0j])
def test_mask_that_is_not_boolean_names_mask(mask: np.ndarray) -> None:
    with pytest.raises(TypeError, match="mask must be boolean"):
        softmax_cross_entropy(np.zeros((2, 3)), [0, 1], mask=mask)


def test_loss_is_the_negative_log_softmax_of_the_target(rng: np.random.Generator) -> None:
    logits = rng.normal(scale=5.0, size=(4, 6))
    targets = rng.integers(6, size=4)
    loss, _ = softmax_cross_entropy(logits, targets)
    expected = -log_softmax(logits)[np.arange(4), targets].mean()
    assert loss == pytest.approx(expected, rel=1e-14)


def test_float32_log_probability_beyond_float32_gives_the_float64_loss() -> None:
    # The target lies 6e38 below the best logit: -inf in float32, but a finite loss.
    logits = np.array([[3e38, -3e38]], dtype=np.float32)
    loss, grad = softmax_cross_entropy(logits, [1])
    assert loss == pytest.approx(6e38, rel=1e-7)
    assert grad.dtype == np.float32
    np.testing.assert_array_equal(grad, [[1.0, -1.0]])


def test_sum_beyond_float64_gives_the_mean() -> None:
    # Each loss is 1.5e308; their sum overflows, their mean does not.
    logits = np.tile([1e308, -5e307], (3, 1))
    loss, grad = softmax_cross_entropy(logits, [1, 1, 1])
    assert loss == pytest.approx(1.5e308, rel=1e-12)
    assert np.isfinite(grad).all()


def test_loss_beyond_float64_raises() -> None:
    with pytest.raises(FloatingPointError, match="cross-entropy overflowed float64"):
        softmax_cross_entropy(np.array([[1e308, -1e308]]), [1])


def test_float16_logits_are_computed_in_float32() -> None:
    # log-probability -120000 is beyond float16, not beyond float32.
    loss, grad = softmax_cross_entropy(np.array([[60000, -60000]], dtype=np.float16), [1])
    assert loss == 120000.0
    assert grad.dtype == np.float16
    np.testing.assert_array_equal(grad, [[1.0, -1.0]])


@pytest.mark.parametrize(
    ("logits", "match"),
    [(np.array([[1j, 0j]]), "logits must hold real"), (np.array([[True, False]]), "logits must")],
)
def test_non_real_logits_raise_type_error(logits: np.ndarray, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        softmax_cross_entropy(logits, [0])


def test_boolean_targets_raise_type_error() -> None:
    with pytest.raises(TypeError, match="targets must be integer token ids"):
        softmax_cross_entropy(np.zeros((2, 2)), np.array([True, False]))
