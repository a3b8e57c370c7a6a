"""The seed notebook's printed numbers, reproduced by the library to 5e-8."""

from __future__ import annotations

import numpy as np
import pytest

import simple_attention as sa

from seed_numbers import (
    SEED_CONTEXT,
    SEED_CONTEXTS,
    SEED_FIRST_WEIGHT,
    SEED_INPUT,
    SEED_QUERY_INDEX,
    SEED_SCORE,
    SEED_SCORES,
    SEED_WEIGHT,
    SEED_WEIGHTS,
)

# The seed prints 8 decimals, so its numbers are exact to 5e-9; the published input matrix is
# itself rounded, which moves the outputs by a few 1e-9 more.
ATOL = 5e-8


def test_scores_for_one_query() -> None:
    query = SEED_INPUT[SEED_QUERY_INDEX]
    np.testing.assert_allclose(sa.attention_scores_loop(SEED_INPUT, query), SEED_SCORE, atol=ATOL)


def test_weights_for_one_query() -> None:
    weights = sa.softmax(sa.attention_scores_loop(SEED_INPUT, SEED_INPUT[SEED_QUERY_INDEX]))
    np.testing.assert_allclose(weights, SEED_WEIGHT, atol=ATOL)
    # The seed's naive softmax gives the same numbers on these small scores.
    np.testing.assert_allclose(sa.naive_softmax(SEED_SCORE), SEED_WEIGHT, atol=ATOL)


def test_context_for_one_query() -> None:
    context = sa.context_vector_loop(SEED_INPUT, SEED_WEIGHT)
    np.testing.assert_allclose(context, SEED_CONTEXT, atol=ATOL)


def test_all_queries_with_matrices() -> None:
    context, weights = sa.self_attention(SEED_INPUT, return_weights=True)
    np.testing.assert_allclose(SEED_INPUT @ SEED_INPUT.T, SEED_SCORES, atol=ATOL)
    np.testing.assert_allclose(weights, SEED_WEIGHTS, atol=ATOL)
    np.testing.assert_allclose(context, SEED_CONTEXTS, atol=ATOL)


@pytest.mark.parametrize(
    "function", [sa.self_attention, sa.self_attention_loop], ids=["matmul", "loops"]
)
def test_row_of_all_queries_is_the_fixed_query(function) -> None:
    context, weights = function(SEED_INPUT, return_weights=True)
    np.testing.assert_allclose(weights[SEED_QUERY_INDEX], SEED_WEIGHT, atol=ATOL)
    np.testing.assert_allclose(context[SEED_QUERY_INDEX], SEED_CONTEXT, atol=ATOL)


def test_seed_sandbox_value() -> None:
    # The seed's last cell: the first weight computed by hand.
    first = np.exp(SEED_SCORE[0]) / np.exp(SEED_SCORE).sum()
    assert sa.softmax(SEED_SCORE)[0] == pytest.approx(first, abs=1e-15)
    assert first == pytest.approx(SEED_FIRST_WEIGHT, abs=ATOL)


def test_seed_inputs_is_the_published_matrix_and_a_fresh_copy() -> None:
    x = sa.seed_inputs()
    np.testing.assert_array_equal(x, SEED_INPUT)
    x[0, 0] = 0.0
    np.testing.assert_array_equal(sa.seed_inputs(), SEED_INPUT)


ARRAY_FIELDS = [
    "inputs",
    "query_scores",
    "query_weights",
    "query_context",
    "scores",
    "weights",
    "context",
]


def test_seed_numbers_are_read_only_and_shaped_as_documented() -> None:
    seed = sa.seed_numbers()
    shapes = [(4, 3), (4,), (4,), (3,), (4, 4), (4, 4), (4, 3)]
    assert [getattr(seed, name).shape for name in ARRAY_FIELDS] == shapes
    assert seed.query_index == 1
    for name in ARRAY_FIELDS:
        with pytest.raises(ValueError, match="read-only"):
            getattr(seed, name)[0] = 0.0
    np.testing.assert_array_equal(sa.seed_inputs(), seed.inputs)


@pytest.mark.parametrize("name", ARRAY_FIELDS)
def test_seed_numbers_are_printed_values_with_8_decimals(name: str) -> None:
    # Published numbers, not recomputed ones: each is a decimal of at most 8 places.
    values = getattr(sa.seed_numbers(), name)
    np.testing.assert_array_equal(values.round(8), values)


def test_one_query_is_its_row_of_all_queries() -> None:
    seed = sa.seed_numbers()
    row = seed.query_index
    np.testing.assert_array_equal(seed.scores[row], seed.query_scores)
    np.testing.assert_array_equal(seed.weights[row], seed.query_weights)
    np.testing.assert_array_equal(seed.context[row], seed.query_context)
    np.testing.assert_array_equal(seed.inputs[row], SEED_INPUT[SEED_QUERY_INDEX])
