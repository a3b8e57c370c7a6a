"""Small helpers shared by the plotting functions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def as_plot_array(x: npt.ArrayLike, name: str, ndim: int) -> np.ndarray:
    """``x`` as a float array with ``ndim`` dimensions (NaN allowed: plots may show it)."""
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    return arr.astype(np.float64)


def as_labels(labels: Sequence[object] | None, n: int, name: str) -> list[str]:
    """``labels`` as ``n`` strings; ``None`` numbers the positions ``0 .. n-1``."""
    if labels is None:
        return [str(i) for i in range(n)]
    out = [str(label) for label in labels]
    if len(out) != n:
        raise ValueError(f"{name} has {len(out)} entries but the data has {n}; they must match")
    return out


def new_axes(ax: Axes | None, width: float, height: float) -> Axes:
    """Return ``ax``, or the axes of a new figure of about ``width`` x ``height`` inches."""
    if ax is not None:
        return ax
    _, new_ax = plt.subplots(figsize=(width, height), layout="constrained")
    return new_ax


def rotate_if_long(labels: list[str]) -> float:
    """An angle for x tick labels: upright for short tokens, slanted for words."""
    return 45.0 if max((len(label) for label in labels), default=0) > 6 else 0.0
