"""Curves: softmax under overflow, run times against sequence length, and training losses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from matplotlib.ticker import NullLocator

from .._validation import check_flag, check_positive_int, check_real
from ._common import as_plot_array, check_axes, check_mapping, check_text, new_axes

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
        The x values, for example a constant added to every score; all finite.
    curves : mapping of str to array_like of shape (n,)
        The y values of each curve, by legend label; at least one curve. NaN marks a failed
        computation; ``inf`` is an error (it cannot be drawn).
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

    Raises
    ------
    TypeError
        If ``curves`` is not a mapping, an array does not hold real numbers, ``ax`` is not an
        ``Axes`` or an axis label or the title is not a ``str``.
    ValueError
        If ``curves`` is empty, an array is not 1-D, a curve's shape differs from that of
        ``offsets``, ``offsets`` is not finite or a curve holds ``inf``. Nothing is drawn and
        no figure is created when an error is raised.

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
    ys = _curves_like(x, check_mapping(curves, "curves"), "curves", "offsets")
    _check_labels(xlabel, ylabel, title)
    check_axes(ax)
    ax = new_axes(ax, width=7.0, height=4.0)
    lines = []
    for k, (label, y) in enumerate(ys.items()):
        # Curves often coincide where all is well: draw each one thinner than the last, so
        # that every curve stays visible on top of the ones before it.
        width = 1.5 + 1.25 * (len(ys) - 1 - k)
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
        The problem sizes (x values), all positive and finite; at least one.
    timings : mapping of str to array_like of shape (n,)
        Run times in seconds of each implementation, by legend label; at least one curve.
        Times must be positive and finite, except that NaN skips a size (for example one too
        slow to measure); each curve needs at least one time.
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

    Raises
    ------
    TypeError
        If ``timings`` is not a mapping, an array does not hold real numbers, ``ax`` is not an
        ``Axes`` or an axis label or the title is not a ``str``.
    ValueError
        If ``sizes`` or ``timings`` is empty, an array is not 1-D or its shape differs from
        that of ``sizes``, a size is not positive and finite, a time is zero, negative or
        infinite, or a curve is all NaN. Nothing is drawn and no figure is created when an
        error is raised.

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
    if n.size == 0:
        raise ValueError("sizes must hold at least one size")
    if (n <= 0).any():
        raise ValueError("sizes must all be positive on a logarithmic axis")
    times = _curves_like(n, check_mapping(timings, "timings"), "timings", "sizes")
    for label, t in times.items():
        name = f"timings[{label!r}]"
        if (t <= 0).any():
            raise ValueError(f"{name} must be positive on a logarithmic axis, got {t[t <= 0][0]}")
        if np.isnan(t).all():
            raise ValueError(f"{name} has no time to plot, only NaN")
    _check_labels(xlabel, ylabel, title)
    check_axes(ax)
    ax = new_axes(ax, width=6.0, height=4.0)
    for label, t in times.items():
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
        The loss of each step; step ``i`` is drawn at ``x = i + 1``. A NaN or infinite loss
        (a diverged step) leaves a gap in both lines: the running mean is missing for exactly
        the ``window`` steps whose window holds it, and the steps after it are unaffected.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.
    window : int, default 10
        Steps in the running mean (fewer at the start), ``>= 1``.
    references : mapping of str to float, optional
        Horizontal dashed lines by legend label, e.g. the loss of uniform guessing; finite
        levels, positive on a logarithmic scale.
    log_scale : bool, default True
        Use a logarithmic y axis (every loss and reference must then be positive; NaN and
        ``+inf`` still leave a gap).
    xlabel, ylabel : str
        The axis labels.
    title : str or None, default "Training loss"
        The axes title.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on: ``ax.lines`` holds the raw losses, the running mean, then one line
        per reference.

    Raises
    ------
    TypeError
        If ``losses`` does not hold real numbers, ``window`` is not an integer, ``references``
        is not a mapping of real numbers, ``log_scale`` is not a bool, ``ax`` is not an
        ``Axes`` or an axis label or the title is not a ``str``.
    ValueError
        If ``losses`` is not 1-D, ``window < 1``, a reference is not finite, or on a
        logarithmic scale a loss or a reference is zero or negative. Nothing is drawn and no
        figure is created when an error is raised.

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
    y = as_plot_array(losses, "losses", ndim=1, allow_nan=True, allow_inf=True)
    window = check_positive_int(window, "window")
    log_scale = check_flag(log_scale, "log_scale")
    if log_scale and (y <= 0).any():
        raise ValueError("losses must all be positive on a logarithmic axis; pass log_scale=False")
    levels = {
        label: check_real(
            level, f"references[{label!r}]", low=0.0 if log_scale else None, low_open=True
        )
        for label, level in check_mapping(
            {} if references is None else references, "references"
        ).items()
    }
    _check_labels(xlabel, ylabel, title)
    check_axes(ax)
    steps = np.arange(1, y.size + 1)
    running_mean = _running_mean(y, window)
    ax = new_axes(ax, width=6.5, height=3.8)
    ax.plot(steps, y, lw=0.8, alpha=0.35, color="C0", label="loss per step")
    ax.plot(steps, running_mean, lw=2.2, color="C0", label=f"mean of {window} steps")
    for k, (label, level) in enumerate(levels.items()):
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


def _curves_like(
    x: np.ndarray, curves: Mapping[str, npt.ArrayLike], name: str, x_name: str
) -> dict[str, np.ndarray]:
    """Each curve as a float array shaped like ``x``; NaN allowed (a gap), inf not."""
    if not curves:
        raise ValueError(f"{name} must hold at least one curve")
    ys = {}
    for label, values in curves.items():
        y = as_plot_array(values, f"{name}[{label!r}]", ndim=1, allow_nan=True)
        if y.shape != x.shape:
            raise ValueError(f"{name}[{label!r}] has shape {y.shape} but {x_name} has {x.shape}")
        ys[label] = y
    return ys


def _check_labels(xlabel: object, ylabel: object, title: object) -> None:
    check_text(xlabel, "xlabel")
    check_text(ylabel, "ylabel")
    check_text(title, "title", optional=True)


def _running_mean(y: np.ndarray, window: int) -> np.ndarray:
    """The mean of the last ``window`` values at each step (fewer at the start).

    A window that holds a NaN or an infinite value has no mean (NaN); the windows after it
    are unaffected. Each window is summed on its own, not as a difference of running sums,
    which would lose small late losses to the rounding of large early ones.
    """
    if y.size == 0:
        return y.copy()
    w = min(window, y.size)
    # Dividing first keeps the sum of w values below the largest of them: no overflow.
    padded = np.concatenate([np.zeros(w - 1), y / w])
    with np.errstate(invalid="ignore"):  # inf - inf in a window: NaN, handled below
        sums = np.lib.stride_tricks.sliding_window_view(padded, w).sum(axis=1)
    counts = np.minimum(np.arange(1, y.size + 1), w)
    means = sums * (w / counts)
    means[~np.isfinite(means)] = np.nan
    return means
