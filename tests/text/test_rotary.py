"""Rotary position embeddings: the rotation, its backward pass, and what they check."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simple_attention import (
    gradcheck,
    rotary_embedding,
    rotary_embedding_backward,
    rotary_frequencies,
    sinusoidal_positions,
)

MAX_ERROR = 1e-7


def rotate_by_hand(x: np.ndarray, positions: np.ndarray, base: float = 10000.0) -> np.ndarray:
    """The definition, one pair of features and one 2 x 2 rotation matrix at a time."""
    d_k = x.shape[-1]
    out = np.empty_like(x)
    for row, p in enumerate(positions):
        for f in range(d_k // 2):
            angle = p * base ** (-2 * f / d_k)
            rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            out[..., row, 2 * f : 2 * f + 2] = x[..., row, 2 * f : 2 * f + 2] @ rotation.T
    return out


@pytest.mark.parametrize("shape", [(5, 2), (4, 8), (2, 3, 6, 4)])
@pytest.mark.parametrize("base", [10000.0, 7.0])
def test_each_pair_is_turned_by_position_times_frequency(shape, base) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    positions = rng.integers(0, 50, shape[-2])
    np.testing.assert_allclose(
        rotary_embedding(x, positions, base=base),
        rotate_by_hand(x, positions, base),
        rtol=0,
        atol=1e-12,
    )


def test_default_positions_count_from_zero_and_position_zero_is_the_identity() -> None:
    x = np.random.default_rng(1).standard_normal((2, 6, 4))
    np.testing.assert_array_equal(rotary_embedding(x), rotary_embedding(x, np.arange(6)))
    np.testing.assert_array_equal(rotary_embedding(x, np.zeros(6, dtype=int)), x)


def test_the_frequencies_are_those_of_the_sinusoidal_positions() -> None:
    theta = rotary_frequencies(8)
    table = sinusoidal_positions(5, 8)  # sin(p theta_f) in the even columns
    np.testing.assert_allclose(table[:, 0::2], np.sin(np.arange(5)[:, None] * theta), atol=1e-15)
    assert theta[0] == 1.0
    assert rotary_frequencies(0).shape == (0,)


@given(
    d_pairs=st.integers(1, 6),
    i=st.integers(0, 200),
    j=st.integers(0, 200),
    shift=st.integers(0, 1000),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_score_depends_only_on_the_difference_of_positions(d_pairs, i, j, shift, seed) -> None:
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal((2, 1, 2 * d_pairs))
    score = (rotary_embedding(q, [i]) @ rotary_embedding(k, [j]).T).item()
    shifted = (rotary_embedding(q, [i + shift]) @ rotary_embedding(k, [j + shift]).T).item()
    np.testing.assert_allclose(shifted, score, rtol=0, atol=1e-9 * (1 + abs(score)))


def test_the_score_changes_with_the_distance() -> None:
    q, k = np.random.default_rng(2).standard_normal((2, 1, 8))
    scores = [(rotary_embedding(q, [0]) @ rotary_embedding(k, [j]).T).item() for j in range(6)]
    assert len(set(np.round(scores, 6))) == 6


def test_lengths_are_kept() -> None:
    x = np.random.default_rng(3).standard_normal((3, 7, 6))
    np.testing.assert_allclose(
        np.linalg.norm(rotary_embedding(x, np.arange(7) * 13), axis=-1),
        np.linalg.norm(x, axis=-1),
        rtol=1e-14,
    )


@pytest.mark.parametrize("shape", [(4, 6), (2, 5, 2), (2, 2, 3, 4)])
def test_backward_matches_finite_differences(shape) -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape)
    positions = rng.integers(0, 30, shape[-2])

    def backward(g: np.ndarray, x: np.ndarray) -> list[np.ndarray]:
        return [rotary_embedding_backward(g, positions)]

    assert gradcheck(lambda x: rotary_embedding(x, positions), backward, [x], rng=5) < MAX_ERROR


def test_backward_undoes_the_forward_rotation() -> None:
    x = np.random.default_rng(6).standard_normal((5, 8))
    positions = np.array([3, 0, 9, 100, 2])
    back = rotary_embedding_backward(rotary_embedding(x, positions), positions)
    np.testing.assert_allclose(back, x, rtol=0, atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_the_dtype_is_kept(dtype) -> None:
    x = np.random.default_rng(7).standard_normal((4, 6)).astype(dtype)
    out = rotary_embedding(x)
    assert out.dtype == dtype
    assert rotary_embedding_backward(x).dtype == dtype
    reference = rotary_embedding(x.astype(np.float64))
    np.testing.assert_allclose(out, reference, atol={np.float16: 3e-3}.get(dtype, 1e-6))


def test_integers_become_float64_and_empty_inputs_work() -> None:
    assert rotary_embedding(np.ones((3, 2), dtype=int)).dtype == np.float64
    assert rotary_embedding(np.ones((0, 4))).shape == (0, 4)
    assert rotary_embedding(np.ones((2, 0, 4)), np.arange(0)).shape == (2, 0, 4)


def test_the_input_is_not_changed() -> None:
    x = np.random.default_rng(8).standard_normal((3, 4))
    before = x.copy()
    rotary_embedding(x)
    rotary_embedding_backward(x)
    with pytest.raises(ValueError, match="positions"):
        rotary_embedding(x, [0, 1, -1])
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize(
    ("x", "positions", "base", "error", "match"),
    [
        (np.ones((3, 5)), None, 10000.0, ValueError, r"^x must have an even number of features"),
        (np.ones(4), None, 10000.0, ValueError, r"^x must have shape \(\.\.\., n, d_k\)"),
        (np.full((2, 2), np.nan), None, 10000.0, ValueError, "^x contains NaN"),
        (np.ones((2, 2), dtype=complex), None, 10000.0, TypeError, "^x must hold real"),
        (np.ones((3, 2)), [0, 1], 10000.0, ValueError, r"^positions must have shape \(3,\)"),
        (np.ones((3, 2)), [[0, 1, 2]], 10000.0, ValueError, r"^positions must have shape"),
        (np.ones((3, 2)), [0, 1, -2], 10000.0, ValueError, "^positions must be non-negative"),
        (np.ones((3, 2)), [0.0, 1.0, 2.0], 10000.0, TypeError, "^positions must hold integers"),
        (np.ones((3, 2)), [True, False, True], 10000.0, TypeError, "^positions must hold int"),
        (np.ones((3, 2)), None, 1.0, ValueError, "^base must be > 1"),
        (np.ones((3, 2)), None, "10000", TypeError, "^base must be a real number"),
    ],
)
def test_bad_input_is_refused_naming_the_argument(x, positions, base, error, match) -> None:
    with pytest.raises(error, match=match):
        rotary_embedding(x, positions, base=base)
    backward_match = match.replace("^x ", "^grad_out ")
    with pytest.raises(error, match=backward_match):
        rotary_embedding_backward(x, positions, base=base)


@pytest.mark.parametrize(
    ("d_k", "error", "match"),
    [
        (3, ValueError, "d_k must be even"),
        (-2, ValueError, "d_k must be non-negative"),
        (2.0, TypeError, "d_k must be an integer"),
    ],
)
def test_rotary_frequencies_names_a_bad_size(d_k, error, match) -> None:
    with pytest.raises(error, match=match):
        rotary_frequencies(d_k)
