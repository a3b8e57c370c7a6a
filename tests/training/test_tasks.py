"""next_token_pairs: the windows and their targets, read-only views of one copy, errors."""

from __future__ import annotations

import numpy as np
import pytest

from simple_attention import next_token_pairs


@pytest.mark.parametrize(("n", "length"), [(10, 1), (10, 4), (10, 9), (200, 16)])
def test_windows_and_their_targets(n, length) -> None:
    ids = np.random.default_rng(n + length).integers(0, 50, n)
    inputs, targets = next_token_pairs(ids, length)
    assert inputs.shape == targets.shape == (n - length, length)
    assert inputs.dtype == targets.dtype == np.int64
    for i in range(n - length):
        np.testing.assert_array_equal(inputs[i], ids[i : i + length])
        np.testing.assert_array_equal(targets[i], ids[i + 1 : i + length + 1])
    # Every target is the token after its input: shifting a window by one gives the next.
    np.testing.assert_array_equal(targets[:-1], inputs[1:])


def test_the_documented_example_and_a_list() -> None:
    inputs, targets = next_token_pairs([0, 1, 2, 3, 4, 5], 3)
    np.testing.assert_array_equal(inputs, [[0, 1, 2], [1, 2, 3], [2, 3, 4]])
    np.testing.assert_array_equal(targets, [[1, 2, 3], [2, 3, 4], [3, 4, 5]])


def test_the_windows_are_read_only_views_of_one_private_copy() -> None:
    ids = np.arange(1000) % 7
    inputs, targets = next_token_pairs(ids, 32)
    assert np.shares_memory(inputs, targets)
    assert not np.shares_memory(inputs, ids)  # a copy: the caller's buffer may change
    assert inputs.strides == (8, 8)
    assert targets.strides == (8, 8)
    assert inputs.base is not None
    assert targets.base is not None
    for view in (inputs, targets):
        assert not view.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            view[0, 0] = 1
    ids[:] = 0
    assert inputs[1, 5] == 6
    assert targets[1, 5] == 0


def test_a_batch_drawn_from_the_windows_is_an_ordinary_array() -> None:
    inputs, targets = next_token_pairs(np.arange(20), 4)
    batch = inputs[[3, 0, 7]]
    assert batch.flags.writeable
    assert not np.shares_memory(batch, inputs)
    np.testing.assert_array_equal(targets[[3, 0, 7]][:, -1], [7, 4, 11])


@pytest.mark.parametrize(
    ("ids", "length", "error", "match"),
    [
        (np.zeros((3, 4), dtype=int), 1, ValueError, "ids"),
        (5, 1, ValueError, "ids"),
        ([], 1, ValueError, "ids"),
        ([1, 2, 3], 3, ValueError, "more than length=3"),
        ([1, 2, 3], 4, ValueError, "more than length=4"),
        ([1.0, 2.0, 3.0], 1, TypeError, "ids"),
        ([True, False, True], 1, TypeError, "ids"),
        (["a", "b", "c"], 1, TypeError, "ids"),
        ([1, -2, 3], 1, ValueError, "ids must not be negative"),
        (np.array([1, 2**63, 3], dtype=np.uint64), 1, ValueError, "ids"),
        ([1, 2, 3], 0, ValueError, "length"),
        ([1, 2, 3], -1, ValueError, "length"),
        ([1, 2, 3], 1.0, TypeError, "length"),
        ([1, 2, 3], True, TypeError, "length"),
    ],
)
def test_bad_arguments_are_named(ids, length, error, match) -> None:
    with pytest.raises(error, match=match):
        next_token_pairs(ids, length)
