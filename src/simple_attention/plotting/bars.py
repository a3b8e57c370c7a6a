"""Bars: one number per implementation, such as a speed ratio or a peak memory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from .._validation import check_flag, check_real
from ._common import check_axes, check_mapping, check_text, new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_bars"]


def plot_bars(
    values: Mapping[str, float],
    *,
    ax: Axes | None = None,
    xlabel: str = "",
    title: str | None = None,
    reference: float | None = None,
    reference_label: str | None = None,
    fmt: str = "{:.2f}",
    log: bool = False,
) -> Axes:
    """Draw one horizontal bar per label, with its value written at the end of the bar.

    Made for benchmark results: times relative to a reference implementation, or peak memory
    in MiB. The first label is drawn at the top, in the order of ``values``.

    Parameters
    ----------
    values : mapping of str to float
        The bar lengths, by label; all finite and non-negative (positive if ``log``). No
        values give an empty figure.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default, with a height that fits the labels.
    xlabel : str, default ""
        The label of the value axis.
    title : str or None, optional
        The axes title.
    reference : float, optional
        Draw a dashed vertical line at this value (for example ``1.0`` for "as fast as the
        reference", or a goal); finite, and positive if ``log``.
    reference_label : str, optional
        The legend entry of the reference line.
    fmt : str, default "{:.2f}"
        Format of the number written next to each bar: ``fmt.format(value)``.
    log : bool, default False
        Use a logarithmic value axis, for values that span several orders of magnitude.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on; its ``patches`` are the bars, top to bottom.

    Raises
    ------
    TypeError
        If ``values`` is not a mapping of real numbers (a bool is not one), ``reference`` is
        not a real number, ``log`` is not a bool, ``ax`` is not an ``Axes`` or a text argument
        is not a ``str``.
    ValueError
        If a value is negative, not finite, or zero on a logarithmic axis, ``reference`` is not
        finite (or not positive on a logarithmic axis), or ``fmt`` cannot format one number.
        Nothing is drawn and no figure is created when an error is raised.

    Examples
    --------
    >>> from simple_attention.plotting import plot_bars
    >>> ax = plot_bars({"numpy": 1.4, "torch": 1.0}, xlabel="time / torch", reference=1.0)
    >>> [round(bar.get_width(), 2) for bar in ax.patches]
    [1.4, 1.0]
    >>> [label.get_text() for label in ax.get_yticklabels()]
    ['numpy', 'torch']
    """
    log = check_flag(log, "log")
    labels = list(check_mapping(values, "values"))
    widths = np.array([_bar_length(values[label], f"values[{label!r}]", log) for label in labels])
    if reference is not None:
        reference = check_real(reference, "reference", low=0.0 if log else None, low_open=True)
    check_text(xlabel, "xlabel")
    check_text(title, "title", optional=True)
    check_text(reference_label, "reference_label", optional=True)
    check_text(fmt, "fmt")
    try:
        fmt.format(1.0)
    except (ValueError, IndexError, KeyError) as err:
        raise ValueError(f"fmt must format one number, as in '{{:.2f}}', got {fmt!r}") from err
    check_axes(ax)
    ax = new_axes(ax, width=7.0, height=0.9 + 0.45 * len(labels))
    positions = np.arange(len(labels))[::-1]  # the first label at the top
    ax.barh(positions, widths, color="tab:blue", alpha=0.8)
    for y, width in zip(positions, widths, strict=True):
        ax.annotate(
            " " + fmt.format(width),
            (width, y),
            va="center",
            ha="left",
            fontsize="small",
        )
    ax.set_yticks(positions, labels)
    if log:
        ax.set_xscale("log")
    # Room on the right for the numbers written after the longest bar.
    right = widths.max(initial=1.0)
    ax.set_xlim(right=right * (4.0 if log else 1.18))
    if reference is not None:
        ax.axvline(reference, color="black", ls="--", lw=1.2, label=reference_label)
        if reference_label is not None:
            ax.legend(loc="lower right", fontsize="small")
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    if title is not None:
        ax.set_title(title)
    return ax


def _bar_length(value: object, name: str, log: bool) -> float:
    try:
        width = check_real(value, name, low=0.0)
    except ValueError:
        # Both words, in this order, are what the error of a bad bar has always said.
        raise ValueError(f"{name} must be finite and non-negative, got {value}") from None
    if log and width == 0.0:
        raise ValueError(f"{name} must be positive on a logarithmic axis, got {width}")
    return width
