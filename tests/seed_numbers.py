"""The seed notebook's published numbers, the fixture the library must reproduce.

They live in the library, :func:`simple_attention.seed_numbers`, so that the tests, the
tutorial and the gallery all compare against one source; this module only gives them the short
names the tests use.
"""

from __future__ import annotations

import simple_attention as sa

_SEED = sa.seed_numbers()

SEED_INPUT = _SEED.inputs
SEED_QUERY_INDEX = _SEED.query_index
SEED_SCORE = _SEED.query_scores
SEED_WEIGHT = _SEED.query_weights
SEED_CONTEXT = _SEED.query_context
SEED_SCORES = _SEED.scores
SEED_WEIGHTS = _SEED.weights
SEED_CONTEXTS = _SEED.context
SEED_FIRST_WEIGHT = _SEED.first_weight
