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
    "check_flag",
    "check_positive_int",
    "check_real",
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


def check_real(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite Python float inside the given range, or raise.

    A Python float, not a NumPy scalar: NumPy scalars would promote float32 arrays to float64
    (NEP 50). ``low``/``high`` bound the range, closed unless ``low_open``/``high_open`` is set.
    Booleans are not numbers here (``True`` is a flag, never ``1.0``).

    Examples
    --------
    >>> from simple_attention._validation import check_real
    >>> check_real(0.5, "p", low=0.0, high=1.0, high_open=True)
    0.5
    >>> check_real(1.0, "p", low=0.0, high=1.0, high_open=True)
    Traceback (most recent call last):
    ...
    ValueError: p must lie in [0, 1), got 1.0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if not math.isfinite(value) or too_low or too_high:
        raise ValueError(
            f"{name} must {_describe_range(low, high, low_open, high_open)}, got {value}"
        )
    return value


def _describe_range(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is None and high is None:
        return "be finite"
    if high is None:
        if low == 0:
            return "be positive and finite" if low_open else "be non-negative and finite"
        return f"be {'>' if low_open else '>='} {low:g} and finite"
    if low is None:
        return f"be {'<' if high_open else '<='} {high:g}"
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    return f"lie in {left}{low:g}, {high:g}{right}"


def check_flag(value: Any, name: str) -> bool:
    """Return ``value`` as a Python bool; anything but a ``bool`` or ``numpy.bool_`` raises.

    A truthy string such as ``"no"`` must not silently mean ``True``.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention._validation import check_flag
    >>> check_flag(np.True_, "is_causal")
    True
    >>> check_flag("no", "is_causal")
    Traceback (most recent call last):
    ...
    TypeError: is_causal must be True or False, got 'no'
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_scale(scale: Any) -> float:
    """Return ``scale`` as a finite Python float (a NumPy scalar would promote float32)."""
    return check_real(scale, "scale")


def check_finite_scores(scores: np.ndarray) -> None:
    """Raise ``FloatingPointError`` if scores computed from finite inputs overflowed."""
    if not np.isfinite(scores).all():
        raise FloatingPointError(
            f"the attention scores overflowed {scores.dtype} (inf or NaN after query @ key.T "
            "and scaling); use float64 or smaller inputs"
        )


def as_rng(rng: int | np.random.Generator | None) -> np.random.Generator:
    """Turn ``rng`` (None, a seed or a Generator) into a Generator.

    This is the convention of Scientific Python's SPEC 7
    (https://scientific-python.org/specs/spec-0007/): ``None`` draws fresh entropy, an integer
    seeds a new generator, and a Generator is used as it is, so a caller can thread one
    generator through several calls.
    """
    value: object = rng  # checked at run time: callers pass anything
    if isinstance(value, bool) or (
        value is not None and not isinstance(value, (numbers.Integral, np.random.Generator))
    ):
        raise TypeError(f"rng must be None, an int or a numpy.random.Generator, got {rng!r}")
    if isinstance(value, numbers.Integral) and int(value) < 0:
        raise ValueError(f"rng must be a non-negative seed, got {rng}")
    return np.random.default_rng(rng)
