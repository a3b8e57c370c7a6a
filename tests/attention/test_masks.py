"""causal_mask and the mask checks."""

from __future__ import annotations

import numpy as np
import pytest

from simple_attention import causal_mask
from simple_attention.attention.masks import apply_mask_, check_mask


def test_square_causal_mask_is_the_lower_triangle() -> None:
    mask = causal_mask(4)
    assert mask.dtype == np.bool_
    np.testing.assert_array_equal(mask, np.tril(np.ones((4, 4), dtype=bool)))


def test_more_keys_than_queries_is_top_left_aligned() -> None:
    mask = causal_mask(2, 4)
    np.testing.assert_array_equal(mask, [[True, False, False, False], [True, True, False, False]])


def test_more_queries_than_keys() -> None:
    mask = causal_mask(3, 2)
    np.testing.assert_array_equal(mask, [[True, False], [True, True], [True, True]])


def test_empty_sizes() -> None:
    assert causal_mask(0).shape == (0, 0)
    assert causal_mask(3, 0).shape == (3, 0)


@pytest.mark.parametrize(
    ("args", "error"),
    [((-1,), ValueError), ((2, -3), ValueError), ((2.5,), TypeError), ((True,), TypeError)],
)
def test_bad_sizes(args: tuple, error: type) -> None:
    with pytest.raises(error, match="n_queries|n_keys"):
        causal_mask(*args)


def test_check_mask_accepts_broadcastable_shapes() -> None:
    for shape in [(5,), (1, 5), (4, 5), (2, 1, 1, 5), (2, 3, 4, 5)]:
        assert check_mask(np.ones(shape, dtype=bool), (2, 3, 4, 5)).shape == shape


def test_check_mask_converts_lists() -> None:
    assert check_mask([[0.0, -np.inf]], (1, 2)).dtype == np.float64


def test_apply_mask_keeps_the_scores_dtype() -> None:
    scores = np.zeros((2, 2), dtype=np.float32)
    assert apply_mask_(scores, np.array([True, False])).dtype == np.float32
    assert apply_mask_(scores, np.array([0.0, -np.inf])).dtype == np.float32


@pytest.mark.parametrize(
    "mask", [np.array([1j, 0j]), np.array(["a", "b"]), np.array([None, None]), np.ones(2, int)]
)
def test_masks_of_the_wrong_dtype_name_mask(mask: np.ndarray) -> None:
    with pytest.raises(TypeError, match="mask must be bool"):
        check_mask(mask, (2, 2))


def test_masks_of_the_wrong_shape_name_mask() -> None:
    with pytest.raises(ValueError, match=r"mask of shape \(3,\) does not broadcast"):
        check_mask(np.ones(3, dtype=bool), (2, 2))


def test_apply_mask_raises_when_a_float_mask_overflows_the_scores() -> None:
    scores = np.full((1, 2), 3e38, dtype=np.float32)
    with pytest.raises(FloatingPointError, match="adding the float mask overflowed"):
        apply_mask_(scores, np.array([0.0, 3e38]))


def test_apply_mask_far_below_the_dtype_blocks_without_warning() -> None:
    scores = np.zeros((1, 2), dtype=np.float32)
    np.testing.assert_array_equal(apply_mask_(scores, np.array([0.0, -1e300])), [[0.0, -np.inf]])
