"""Small helpers shared by the plotting functions.

Every plotting function checks all of its arguments with these helpers before it creates a
figure or draws anything, so that a failed call leaves no figure behind and an ``ax`` or
``fig`` passed in unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes


def as_plot_array(
    x: npt.ArrayLike, name: str, ndim: int, *, allow_nan: bool = False, allow_inf: bool = False
) -> np.ndarray:
    """``x`` as a float64 array with ``ndim`` dimensions; NaN and inf only where allowed.

    Figures of failed computations (a diverged loss, an overflowing softmax) have good reason
    to show NaN or inf, so each function says which it can draw.
    """
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    arr = arr.astype(np.float64)
    has_nan = not allow_nan and bool(np.isnan(arr).any())
    has_inf = not allow_inf and bool(np.isinf(arr).any())
    if has_nan or has_inf:
        if allow_nan:
            raise ValueError(f"{name} contains inf; values must be finite or NaN (a gap)")
        raise ValueError(f"{name} contains NaN or inf; all values must be finite")
    return arr


def as_matrix(x: npt.ArrayLike, name: str) -> np.ndarray:
    """``x`` as a non-empty float64 matrix for a heatmap (NaN and inf are drawn as such)."""
    arr = as_plot_array(x, name, ndim=2, allow_nan=True, allow_inf=True)
    if 0 in arr.shape:
        raise ValueError(
            f"{name} must have at least one row and one column, got shape {arr.shape}"
        )
    return arr


def as_labels(labels: Iterable[object] | None, n: int, name: str) -> list[str]:
    """``labels`` as ``n`` strings; ``None`` numbers the positions ``0 .. n-1``."""
    if labels is None:
        return [str(i) for i in range(n)]
    if isinstance(labels, str):
        # A string is a sequence of characters, which would silently label one per letter.
        raise TypeError(f"{name} must be a sequence of labels, not one str: {labels!r}")
    if not isinstance(labels, Iterable):
        raise TypeError(f"{name} must be a sequence of labels, got {type(labels).__name__}")
    out = [str(label) for label in labels]
    if len(out) != n:
        raise ValueError(f"{name} has {len(out)} entries but the data has {n}; they must match")
    return out


def check_mapping(value: Any, name: str) -> Mapping[Any, Any]:
    """Return ``value`` if it is a mapping (of legend labels to data), else raise."""
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{name} must be a mapping of labels to values, got {type(value).__name__}"
        )
    return value


def check_text(value: Any, name: str, *, optional: bool = False) -> None:
    """Raise unless ``value`` is a ``str`` (or ``None``, if ``optional``)."""
    if isinstance(value, str) or (optional and value is None):
        return
    kind = "a str or None" if optional else "a str"
    raise TypeError(f"{name} must be {kind}, got {value!r}")


def check_axes(ax: Any) -> None:
    """Raise unless ``ax`` is a matplotlib ``Axes`` or ``None``."""
    if ax is not None and not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")


def new_axes(ax: Axes | None, width: float, height: float) -> Axes:
    """Return ``ax``, or the axes of a new figure of about ``width`` x ``height`` inches."""
    if ax is not None:
        return ax
    _, new_ax = plt.subplots(figsize=(width, height), layout="constrained")
    return new_ax


def rotate_if_long(labels: list[str]) -> float:
    """An angle for x tick labels: upright for short tokens, slanted for words."""
    return 45.0 if max((len(label) for label in labels), default=0) > 6 else 0.0


# One colour per role, shared by the diagrams (and the same as the bar charts of vectors.py):
# a reader who has seen blue scores on one page finds blue scores on the next.
ROLE_COLOURS: dict[str, str] = {
    "input": "tab:gray",
    "projection": "tab:olive",
    "query": "tab:red",
    "key": "tab:purple",
    "value": "tab:brown",
    "scores": "tab:blue",
    "weights": "tab:orange",
    "context": "tab:green",
}

# The first letter of a matrix's name in the site's notation, and its role.
_ROLE_OF_LETTER = {
    "X": "input",
    "E": "input",
    "W": "projection",
    "Q": "query",
    "K": "key",
    "V": "value",
    "S": "scores",
    "A": "weights",
    "Z": "context",
}


def role_colour(name: str) -> str:
    """The colour of the role of a matrix named in the site's notation (``"W_q"``, ``"K^T"``).

    The role comes from the first letter, in either case (``q`` is a query vector, ``Q`` the
    matrix): ``X`` inputs, ``W`` projections, ``Q``, ``K``, ``V``, ``S`` scores, ``A``
    weights, ``Z`` context; anything else is drawn as an input.
    """
    letters = [c for c in name.replace("\\mathrm", "").replace("\\", "") if c.isalpha()]
    role = _ROLE_OF_LETTER.get(letters[0].upper() if letters else "", "input")
    return ROLE_COLOURS[role]


def math_name(name: str) -> str:
    """``name`` in mathtext, with word subscripts upright: ``d_in`` -> ``d_\\mathrm{in}``.

    A name that already contains ``$`` is returned as it is; spaces become thin spaces, so
    ``"h d_k"`` reads as a product.
    """
    if "$" in name:
        return name
    body = re.sub(r"_([A-Za-z]{2,})", r"_\\mathrm{\1}", name.strip()).replace(" ", r"\,")
    return f"${body}$"


def check_texts(values: Any, n: int, name: str) -> list[str]:
    """``values`` as a list of ``n`` strings (a tuple or list of ``str``), or raise."""
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence of {n} str, got {values!r}")
    if len(values) != n:
        raise ValueError(f"{name} must have {n} entries, got {len(values)}")
    for value in values:
        check_text(value, name)
    return list(values)
