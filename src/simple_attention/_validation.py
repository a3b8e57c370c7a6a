"""Input checks shared by every public function.

The rules live in one place so that every function reacts to bad input the same way: errors name
the argument, nothing is silently promoted, and validation never uses ``assert`` (asserts vanish
under ``python -O``).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "as_float_array",
    "as_rng",
    "check_finite_scores",
    "check_positive_int",
    "check_same_dtype",
    "check_scale",
    "working_dtype",
]


def as_float_array(x: npt.ArrayLike, name: str, *, allow_neg_inf: bool = False) -> np.ndarray:
    """Convert ``x`` to a real floating-point array, rejecting NaN and ``+inf``.

    Integers become float64. Booleans, complex numbers and anything else that is not a real
    number raise ``TypeError``. ``-inf`` is accepted only where it means "blocked" (softmax
    inputs, float masks), which is what ``allow_neg_inf`` is for.
    """
    arr = np.asarray(x)
    if arr.dtype == np.bool_:
        raise TypeError(f"{name} must hold real numbers, not booleans (dtype bool)")
    if np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.float64)
    elif not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"{name} must hold real floating-point numbers, got dtype {arr.dtype}")
    if allow_neg_inf:
        if np.isnan(arr).any() or np.isposinf(arr).any():
            raise ValueError(
                f"{name} contains NaN or +inf; only finite values and -inf are allowed"
            )
    elif not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf; all values must be finite")
    return arr


def working_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype to compute in: float16 is too coarse for ``exp`` and sums, so use float32."""
    if dtype == np.float16:
        return np.dtype(np.float32)
    return dtype


def check_same_dtype(**arrays: np.ndarray) -> np.dtype[Any]:
    """Return the common dtype of ``arrays``, or raise ``TypeError`` naming the mismatch."""
    items = list(arrays.items())
    first_name, first = items[0]
    for name, arr in items[1:]:
        if arr.dtype != first.dtype:
            raise TypeError(
                f"{first_name} has dtype {first.dtype} but {name} has dtype {arr.dtype}; "
                "convert them to one floating-point dtype first (no silent promotion)"
            )
    return first.dtype


def check_positive_int(value: Any, name: str, *, allow_zero: bool = False) -> int:
    """Return ``value`` as an ``int``, raising if it is not a (positive) whole number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    smallest = 0 if allow_zero else 1
    if value < smallest:
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be {kind}, got {value}")
    return value


def check_scale(scale: Any) -> float:
    """Return ``scale`` as a finite Python float (a NumPy scalar would promote float32)."""
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(f"scale must be a real number, got {scale!r}")
    scale = float(scale)
    if not math.isfinite(scale):
        raise ValueError(f"scale must be finite, got {scale}")
    return scale


def check_finite_scores(scores: np.ndarray) -> None:
    """Raise ``FloatingPointError`` if scores computed from finite inputs overflowed."""
    if not np.isfinite(scores).all():
        raise FloatingPointError(
            f"the attention scores overflowed {scores.dtype} (inf or NaN after query @ key.T "
            "and scaling); use float64 or smaller inputs"
        )


def as_rng(rng: int | np.random.Generator | None) -> np.random.Generator:
    """Turn ``rng`` (None, a seed or a Generator) into a Generator, as SPEC 7 describes."""
    if rng is not None and not isinstance(rng, (numbers.Integral, np.random.Generator)):
        raise TypeError(f"rng must be None, an int or a numpy.random.Generator, got {rng!r}")
    return np.random.default_rng(rng)
