"""Positions: the learned table and the fixed sines and cosines."""

from __future__ import annotations

import numpy as np
import pytest

from simple_attention import PositionalEmbedding, sinusoidal_positions


@pytest.mark.parametrize("shape", [(0, 3), (2, 0, 3), (0, 4, 3)])
def test_positional_embedding_backward_on_empty_input(shape: tuple[int, ...]) -> None:
    positions = PositionalEmbedding(max_len=5, dim=3, rng=0)
    assert positions(np.ones(shape)).shape == shape
    assert positions.backward(np.ones(shape)).shape == shape
    np.testing.assert_array_equal(positions.grads["weight"], 0.0)


def test_positional_embedding_backward_returns_a_private_gradient() -> None:
    positions = PositionalEmbedding(max_len=5, dim=3, rng=0)
    positions(np.ones((2, 3)))
    g = np.ones((2, 3))
    grad_x = positions.backward(g)
    g[...] = 7.0
    np.testing.assert_array_equal(grad_x, 1.0)


@pytest.mark.parametrize("base", [0, -10, 1, 1.0, 0.5, np.nan, np.inf])
def test_sinusoidal_base_must_exceed_one(base: float) -> None:
    with pytest.raises(ValueError, match=r"^base must be > 1 and finite"):
        sinusoidal_positions(4, 6, base=base)


@pytest.mark.parametrize("base", ["10000", True, None])
def test_sinusoidal_base_must_be_a_number(base: object) -> None:
    with pytest.raises(TypeError, match="base must be a real number"):
        sinusoidal_positions(4, 6, base=base)  # type: ignore[arg-type]


@pytest.mark.parametrize("base", [1.5, 2, 10000.0, 1e300])
def test_sinusoidal_positions_are_finite_for_any_valid_base(base: float) -> None:
    table = sinusoidal_positions(20, 7, base=base)
    assert np.isfinite(table).all()
    np.testing.assert_array_equal(table[:, 0], np.sin(np.arange(20)))  # one radian per step
