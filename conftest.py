"""Pytest configuration shared by the unit tests and the doctests."""

from scipy_doctest.conftest import dt_config

# Docstrings print what NumPy prints; compare to within rounding of the last printed digit,
# not scipy-doctest's default 1% (which would let a wrong number through).
dt_config.rtol = 1e-6
dt_config.atol = 1e-10
