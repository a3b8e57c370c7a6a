"""Test tolerances from the behaviour contract, per dtype."""

from __future__ import annotations

import numpy as np

# behaviour.md: (atol against a float64 reference, tolerance on "rows sum to 1")
TOLERANCES = {
    np.float64: (1e-12, 1e-12),
    np.float32: (1e-5, 1e-6),
    np.float16: (2e-3, 1e-3),
}
FLOAT_DTYPES = [np.float16, np.float32, np.float64]
