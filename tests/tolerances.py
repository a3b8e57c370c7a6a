"""Test tolerances per dtype, as listed in docs/conventions.md."""

from __future__ import annotations

import numpy as np

# (atol against a float64 reference, tolerance on "rows sum to 1"); the table of
# docs/conventions.md repeats them, and tests/test_conventions_page.py keeps the two the same.
TOLERANCES = {
    np.float64: (1e-12, 1e-12),
    np.float32: (1e-5, 1e-6),
    np.float16: (2e-3, 1e-3),
}
FLOAT_DTYPES = [np.float16, np.float32, np.float64]
