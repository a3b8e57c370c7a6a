"""Curves: softmax under overflow, run times against sequence length, and training losses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from matplotlib.ticker import NullLocator

from .._validation import check_positive_int
from ._common import as_plot_array, new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_loss_curve", "plot_softmax_comparison", "plot_timings"]


def plot_softmax_comparison(
    offsets: npt.ArrayLike,
    curves: Mapping[str, npt.ArrayLike],
    *,
    ax: Axes | None = None,
    xlabel: str = "offset c added to every score",
    ylabel: str = "largest weight",
    title: str | None = "Softmax under overflow",
) -> Axes:
    """Plot softmax results against a growing input, marking where a curve turns into NaN.

    Each curve is drawn as a line; NaN values leave a gap. Where a curve first becomes NaN,
    a dotted vertical line of its colour marks the offset and a label gives its value, so that
    the float32 and float64 thresholds of the naive softmax can be read off the figure.

    Parameters
    ----------
    offsets : array_like, shape (n,)
        The x values, for example a constant added to every score.
    curves : mapping of str to array_like of shape (n,)
        The y values of each curve, by legend label. NaN marks a failed computation.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.
    xlabel, ylabel : str
        The axis labels.
    title : str or None, default "Softmax under overflow"
        The axes title.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on; one line per curve in ``ax.lines``, followed by one marker line
        per curve that turns into NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import naive_softmax, softmax
    >>> from simple_attention.plotting import plot_softmax_comparison
    >>> offsets = np.linspace(0.0, 1000.0, 5)
    >>> scores = offsets[:, None] + np.array([0.0, 1.0, 2.0])
    >>> with np.errstate(over="ignore", invalid="ignore"):
    ...     naive = naive_softmax(scores).max(axis=1)
    >>> stable = softmax(scores).max(axis=1)
    >>> ax = plot_softmax_comparison(offsets, {"naive": naive, "stable": stable})
    >>> [line.get_label() for line in ax.lines]
    ['naive', 'stable', 'naive: NaN from 750 on']
    """
    x = as_plot_array(offsets, "offsets", ndim=1)
    ax = new_axes(ax, width=7.0, height=4.0)
    lines = []
    for k, (label, values) in enumerate(curves.items()):
        y = as_plot_array(values, f"curves[{label!r}]", ndim=1)
        if y.shape != x.shape:
            raise ValueError(f"curves[{label!r}] has shape {y.shape} but offsets has {x.shape}")
        # Curves often coincide where all is well: draw each one thinner than the last, so
        # that every curve stays visible on top of the ones before it.
        width = 1.5 + 1.25 * (len(curves) - 1 - k)
        lines.append((ax.plot(x, y, lw=width, alpha=0.85, label=label)[0], y))
    for line, y in lines:
        nan_at = np.flatnonzero(np.isnan(y))
        if nan_at.size:
            first = x[nan_at[0]]
            ax.axvline(
                first,
                color=line.get_color(),
                ls=":",
                lw=1.5,
                label=f"{line.get_label()}: NaN from {first:.4g} on",
            )
    finite = np.concatenate([y[np.isfinite(y)] for _, y in lines] or [np.empty(0)])
    if finite.size and finite.min() >= 0.0 and finite.max() <= 1.0:
        ax.set_ylim(-0.03, 1.05)  # weights live in [0, 1]; do not zoom in on rounding noise
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    if title is not None:
        ax.set_title(title)
    return ax


def plot_timings(
    sizes: npt.ArrayLike,
    timings: Mapping[str, npt.ArrayLike],
    *,
    ax: Axes | None = None,
    xlabel: str = "sequence length n",
    ylabel: str = "time per call (s)",
    title: str | None = "Run time",
) -> Axes:
    """Plot run times against problem size on log-log axes, one line per implementation.

    On log-log axes a cost that grows like :math:`n^p` is a straight line of slope :math:`p`,
    and the vertical gap between two lines is their speed ratio.

    Parameters
    ----------
    sizes : array_like, shape (n,)
        The problem sizes (x values), all positive.
    timings : mapping of str to array_like of shape (n,)
        Run times in seconds of each implementation, by legend label. NaN skips a size (for
        example one too slow to measure).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.
    xlabel, ylabel : str
        The axis labels.
    title : str or None, default "Run time"
        The axes title.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on, with logarithmic x and y scales.

    Examples
    --------
    >>> from simple_attention.plotting import plot_timings
    >>> sizes = [8, 16, 32]
    >>> ax = plot_timings(sizes, {"loops": [1e-3, 4e-3, 1.6e-2], "matmul": [1e-5, 2e-5, 5e-5]})
    >>> ax.get_xscale(), ax.get_yscale()
    ('log', 'log')
    >>> [line.get_label() for line in ax.lines]
    ['loops', 'matmul']
    >>> [label.get_text() for label in ax.get_xticklabels()]
    ['8', '16', '32']
    """
    n = as_plot_array(sizes, "sizes", ndim=1)
    if (n <= 0).any():
        raise ValueError("sizes must all be positive on a logarithmic axis")
    ax = new_axes(ax, width=6.0, height=4.0)
    for label, values in timings.items():
        t = as_plot_array(values, f"timings[{label!r}]", ndim=1)
        if t.shape != n.shape:
            raise ValueError(f"timings[{label!r}] has shape {t.shape} but sizes has {n.shape}")
        ax.plot(n, t, marker="o", lw=2, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    if n.size <= 12:  # few sizes: label each one, rather than powers of ten
        ax.set_xticks(n, labels=[f"{size:g}" for size in n])
        ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(which="both", alpha=0.3)
    ax.legend(loc="best")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_loss_curve(
    losses: npt.ArrayLike,
    *,
    ax: Axes | None = None,
    window: int = 10,
    references: Mapping[str, float] | None = None,
    log_scale: bool = True,
    xlabel: str = "training step",
    ylabel: str = "loss",
    title: str | None = "Training loss",
) -> Axes:
    """Plot a training loss step by step, with its running mean and optional reference levels.

    The loss of a single batch is noisy, so the raw values are drawn thin and faint and the mean
    over the last ``window`` steps thick on top. On a logarithmic scale (the default) a loss
    that keeps shrinking by the same factor is a straight line, and the last digits of a loss
    close to zero stay visible.

    Parameters
    ----------
    losses : array_like, shape (n_steps,)
        The loss of each step; step ``i`` is drawn at ``x = i + 1``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.
    window : int, default 10
        Steps in the running mean (fewer at the start).
    references : mapping of str to float, optional
        Horizontal dashed lines by legend label, e.g. the loss of uniform guessing.
    log_scale : bool, default True
        Use a logarithmic y axis (every loss must then be positive).
    xlabel, ylabel : str
        The axis labels.
    title : str or None, default "Training loss"
        The axes title.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on: ``ax.lines`` holds the raw losses, the running mean, then one line
        per reference.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention.plotting import plot_loss_curve
    >>> losses = 2.3 * np.exp(-np.arange(100) / 20)
    >>> ax = plot_loss_curve(losses, references={"uniform guess": 2.3})
    >>> [line.get_label() for line in ax.lines]
    ['loss per step', 'mean of 10 steps', 'uniform guess']
    >>> ax.get_yscale()
    'log'
    """
    y = as_plot_array(losses, "losses", ndim=1)
    window = check_positive_int(window, "window")
    if log_scale and (y <= 0).any():
        raise ValueError("losses must all be positive on a logarithmic axis; pass log_scale=False")
    steps = np.arange(1, y.size + 1)
    cumulative = np.concatenate([[0.0], np.cumsum(y)])
    start = np.maximum(steps - window, 0)
    running_mean = (cumulative[steps] - cumulative[start]) / (steps - start)
    ax = new_axes(ax, width=6.5, height=3.8)
    ax.plot(steps, y, lw=0.8, alpha=0.35, color="C0", label="loss per step")
    ax.plot(steps, running_mean, lw=2.2, color="C0", label=f"mean of {window} steps")
    for k, (label, level) in enumerate((references or {}).items()):
        ax.axhline(level, ls="--", lw=1.3, color=f"C{k + 1}", label=label)
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(which="both", alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    if title is not None:
        ax.set_title(title)
    return ax
