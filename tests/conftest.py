"""Fixtures shared by the tests."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import settings

from seed_numbers import SEED_INPUT


@pytest.fixture
def seed_input() -> np.ndarray:
    return SEED_INPUT.copy()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261127)


# The machine running the tests may be busy: never fail a property test on its run time.
settings.register_profile("project", deadline=None, max_examples=60)
settings.load_profile("project")
