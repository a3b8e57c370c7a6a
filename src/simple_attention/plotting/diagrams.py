r"""Diagrams of the steps of attention: boxes, arrows and shapes, in one visual language.

The figures need no data beyond sizes (and, where a diagram prints numbers, the scores that
produce them). They share one style, so that a reader who has learned it on one page can read
it on the next:

* a matrix is a rectangle drawn to scale, one cell per entry when it is small enough to count;
  its number of columns is written above it and its number of rows, turned, on its left, by
  name and size in the site's notation (:math:`n`, :math:`d_\text{in}`, :math:`d_k`, ...);
* each role has one colour (see ``ROLE_COLOURS`` in ``_common``): inputs grey, projections
  olive, queries red, keys purple, values brown, scores blue, weights orange, context green,
  the same colours as the bar charts of :func:`plot_query_attention`;
* arrows go from a step's input to its output, and say what the step does.

Every diagram is laid out in inches at its natural size (about 7 inches, 700 pixels, wide at
most), with text of at least 9 points, so that it reads on a narrow screen too. Drawn into a
smaller ``ax``, the drawing shrinks but its text keeps its size: give such an ``ax`` a figure of
about the natural size.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from matplotlib.colors import to_rgb
from matplotlib.patches import Circle, Rectangle

from .._validation import check_positive_int
from ..attention.softmax import softmax
from ._common import (
    ROLE_COLOURS,
    as_labels,
    as_plot_array,
    check_axes,
    check_texts,
    math_name,
    new_axes,
    role_colour,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "plot_head_split",
    "plot_kv_cache",
    "plot_matmul_shapes",
    "plot_online_softmax_blocks",
    "plot_softmax_row",
    "plot_transformer_block",
]

FONT = 12.0  # names of matrices and steps
NOTE = 11.0  # sizes, printed values and captions; nothing is smaller than 9 points
INK = "#333333"  # arrows, outlines and text that belong to no role
INNER = "tab:pink"  # the inner dimension of a product, which disappears
# Matrices with more rows or columns than this are drawn without their cell lines.
MAX_CELLS = 16
# Distinct colours for the heads, none of them a role colour.
HEAD_COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"]


# --- drawing helpers (lengths in inches at the figure's natural size) -------------------------


def _tint(colour: str, white: float) -> tuple[float, float, float]:
    """``colour`` mixed with ``white`` parts of white (0: the colour, 1: white)."""
    r, g, b = (c + (1.0 - c) * white for c in to_rgb(colour))
    return r, g, b


def _canvas(ax: Axes | None, width: float, height: float) -> Axes:
    """An ``Axes`` whose data units are inches of a ``width`` x ``height`` drawing."""
    ax = new_axes(ax, width, height)
    ax.set_xlim(0.0, width)
    ax.set_ylim(0.0, height)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return ax


def _box(
    ax: Axes, x: float, y: float, w: float, h: float, colour: str, **kwargs: Any
) -> Rectangle:
    """A rectangle with lower-left corner ``(x, y)``, a light fill and an edge of ``colour``."""
    style = {"facecolor": _tint(colour, 0.78), "edgecolor": colour, "lw": 1.3}
    patch = Rectangle((x, y), w, h, **(style | kwargs))
    ax.add_patch(patch)
    return patch


def _text(ax: Axes, x: float, y: float, text: str, size: float = FONT, **kwargs: Any) -> None:
    ax.text(x, y, text, fontsize=size, **({"ha": "center", "va": "center"} | kwargs))


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], **kwargs: Any) -> None:
    style = {"arrowstyle": "-|>", "lw": 1.5, "color": INK, "shrinkA": 0, "shrinkB": 0}
    ax.annotate("", xy=end, xytext=start, arrowprops=style | kwargs)


def _sized(name: str, size: int) -> str:
    """``"d_in", 3`` as mathtext ``$d_\\mathrm{in} = 3$``."""
    text = math_name(name)
    return f"{text[:-1]} = {size}$" if text.endswith("$") else f"{text} = {size}"


def _matrix(
    ax: Axes,
    x: float,
    y: float,
    shape: tuple[int, int],
    cell: float,
    colour: str,
    *,
    dims: tuple[str, str] | None = None,
    gid: str | None = None,
    zorder: float = 1.0,
    columns_below: bool = False,
    white: float = 0.78,
    row: float | None = None,
) -> tuple[float, float]:
    """A ``shape`` matrix with its top-left corner at ``(x, y)``; returns its width and height.

    Each side is at least 0.3 inch, so that a vector of size 1 stays visible. ``dims`` names
    the rows and the columns; their sizes are written on the left and above (or below).
    ``zorder`` stacks the matrix and its cell lines together over or under another one.
    Cells are ``cell`` wide and ``row`` high (default: square; then at least 0.15 inch).
    """
    rows, cols = shape
    w, h = max(cols * cell, 0.3), max(rows * (row or cell), 0.3 if row is None else 0.15)
    _box(ax, x, y - h, w, h, colour, facecolor=_tint(colour, white), gid=gid, zorder=zorder)
    if rows <= MAX_CELLS and cols <= MAX_CELLS:
        style = {"color": colour, "lw": 0.5, "alpha": 0.6, "zorder": zorder + 0.001}
        ax.hlines([y - h * i / rows for i in range(1, rows)], x, x + w, **style)
        ax.vlines([x + w * j / cols for j in range(1, cols)], y - h, y, **style)
    if dims is not None:
        y_cols, va = (y - h - 0.06, "top") if columns_below else (y + 0.06, "bottom")
        _text(ax, x + w / 2, y_cols, _sized(dims[1], cols), NOTE, va=va)
        label = _sized(dims[0], rows)
        # A label longer than its side starts at the corner away from the columns' label.
        y_rows, va = (
            (y - h / 2, "center")
            if _length(label) < h
            else ((y - h, "bottom") if columns_below else (y, "top"))
        )
        _text(ax, x - 0.06, y_rows, label, NOTE, ha="right", va=va, rotation=90)
    return w, h


def _length(text: str) -> float:
    """About how many inches ``text`` takes at ``NOTE`` points, its mathtext markup left out.

    A little more than the average width of a character of DejaVu Sans, matplotlib's font.
    """
    visible = re.sub(r"\\[a-z]+|[${}_^]", "", text)
    return 0.085 * len(visible)


def _shape_arg(value: Any, name: str) -> tuple[int, int]:
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) != 2:
        raise TypeError(f"{name} must be a pair (rows, columns) of positive ints, got {value!r}")
    rows, cols = (check_positive_int(v, name) for v in value)
    return rows, cols


def _optional_size(value: Any, name: str) -> int | None:
    return None if value is None else check_positive_int(value, name)


def _num(value: float) -> str:
    """A number in about five characters: ``0.37``, ``12.5``, ``148``, ``3e+04``, ``2e-03``."""
    size = abs(value)
    if value == 0.0 or 0.01 <= size < 10.0:
        return f"{value:.2f}"
    if 10.0 <= size < 100.0:
        return f"{value:.1f}"
    if 100.0 <= size < 10_000.0:
        return f"{value:.0f}"
    return f"{value:.0e}"  # tiny but positive, or too large for the width of a column


# --- the shapes of a product ------------------------------------------------------------------


def plot_matmul_shapes(
    left: Sequence[int] = (6, 3),
    right: Sequence[int] = (3, 2),
    *,
    names: Sequence[str] = ("X", "W_q", "Q"),
    dim_names: Sequence[str] = ("n", "d_in", "d_k"),
    ax: Axes | None = None,
) -> Axes:
    r"""Draw one matrix product as three rectangles to scale, every side named and sized.

    ``left @ right = result``: the result has the rows of ``left`` and the columns of
    ``right``, and the inner dimension (the columns of ``left``, which are the rows of
    ``right``) disappears, summed over. Its two sides are marked in pink. When the matrices are
    small enough to show their cells, the first row of ``left``, the first column of ``right``
    and the entry of the result they make are shaded.

    Parameters
    ----------
    left, right : pair of int
        The shapes ``(rows, columns)`` of the two factors; ``left[1]`` must equal ``right[0]``.
    names : three str, default ("X", "W_q", "Q")
        The names of ``left``, ``right`` and the result, in mathtext without the dollars
        (``"K^T"``, ``"W_q"``). The first letter picks the colour: ``X`` input, ``W``
        projection, ``Q``, ``K``, ``V``, ``S`` scores, ``A`` weights, ``Z`` context.
    dim_names : three str, default ("n", "d_in", "d_k")
        The names of the rows of ``left``, the inner dimension and the columns of ``right``
        (``"d_in"`` is written :math:`d_\text{in}`).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure about 7 inches wide by default.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on; the three matrices are the patches with gid ``"left"``,
        ``"right"`` and ``"result"``.

    Raises
    ------
    TypeError
        If a shape is not a pair of integers, ``names`` or ``dim_names`` are not three
        ``str``, or ``ax`` is not an ``Axes``.
    ValueError
        If a size is not positive, the inner sizes differ, or ``names`` or ``dim_names`` do
        not have three entries. Nothing is drawn and no figure is created.

    Examples
    --------
    >>> from simple_attention.plotting import plot_matmul_shapes
    >>> ax = plot_matmul_shapes((6, 3), (3, 2), names=("X", "W_q", "Q"))
    >>> [t.get_text() for t in ax.texts][:3]  # columns, rows, name of X
    ['$d_\\mathrm{in} = 3$', '$n = 6$', '$X$']
    >>> [p.get_gid() for p in ax.patches if p.get_gid()]
    ['left', 'right', 'result']
    """
    n_rows, inner = _shape_arg(left, "left")
    inner_right, n_cols = _shape_arg(right, "right")
    if inner_right != inner:
        raise ValueError(
            f"right must have {inner} rows, the number of columns of left, got {inner_right}"
        )
    a, b, c = check_texts(names, 3, "names")
    rows_dim, inner_dim, cols_dim = check_texts(dim_names, 3, "dim_names")
    check_axes(ax)
    shapes = [(n_rows, inner), (inner, n_cols), (n_rows, n_cols)]
    cell = min(0.4, 3.9 / (inner + 2 * n_cols), 2.0 / max(n_rows, inner))
    sizes = [(max(cols * cell, 0.3), max(rows * cell, 0.3)) for rows, cols in shapes]
    gap = 0.75  # an operator and the turned row label of the next matrix
    shaded = max(n_rows, inner, n_cols) <= MAX_CELLS
    a_, b_, c_ = (math_name(name) for name in (a, b, c))
    lines = [
        f"{_sized(inner_dim, inner)} (pink) disappears: it is summed over.",
        f"Entry (0, 0) of {c_}: row 0 of {a_} times column 0 of {b_} (shaded)."
        if shaded
        else f"Each entry of {c_}: a row of {a_} times a column of {b_}.",
    ]
    # As narrow as the matrices and the caption allow: a narrow figure reads better on a phone.
    drawing = 0.6 + sum(w for w, _ in sizes) + 2 * gap
    width = max(drawing, 0.4 + max(_length(line) for line in lines))
    top = 1.0 + max(h for _, h in sizes)
    ax = _canvas(ax, width, top + 0.5)
    x = (width - sum(w for w, _ in sizes) - 2 * gap) / 2 + 0.15
    dims = [(rows_dim, inner_dim), (inner_dim, cols_dim), (rows_dim, cols_dim)]
    corners = []
    for k, (shape, name, gid) in enumerate(
        zip(shapes, (a, b, c), ("left", "right", "result"), strict=True)
    ):
        w, h = _matrix(ax, x, top, shape, cell, role_colour(name), dims=dims[k], gid=gid)
        corners.append((x, w, h))
        _text(ax, x + w / 2, top - h - 0.2, math_name(name), FONT + 2)
        if k < 2:
            _text(ax, x + w + 0.3, top - sizes[0][1] / 2, "$=$" if k else r"$\times$", FONT + 4)
        x += w + gap
    (xa, wa, ha), (xb, wb, hb), (xc, wc, hc) = corners
    if shaded:  # row 0 of left times column 0 of right gives entry (0, 0) of the result
        for x0, y0, w, h, name in [
            (xa, top - ha / n_rows, wa, ha / n_rows, a),
            (xb, top - hb, wb / n_cols, hb, b),
            (xc, top - hc / n_rows, wc / n_cols, hc / n_rows, c),
        ]:
            ax.add_patch(Rectangle((x0, y0), w, h, facecolor=_tint(role_colour(name), 0.4)))
    # The inner dimension: the top side of left and the left side of right.
    ax.plot([xa, xa + wa], [top, top], color=INNER, lw=4, solid_capstyle="butt")
    ax.plot([xb, xb], [top, top - hb], color=INNER, lw=4, solid_capstyle="butt")
    _text(ax, width / 2, 0.25, "\n".join(lines), NOTE, linespacing=1.5)
    return ax


# --- one row of the softmax -------------------------------------------------------------------


def plot_softmax_row(
    scores: npt.ArrayLike,
    *,
    labels: Sequence[object] | None = None,
    ax: Axes | None = None,
) -> Axes:
    r"""Draw the softmax of one row of scores, step by step, with every value printed.

    Three rows of bars, one column per key: the scores :math:`s_j`; their exponentials
    :math:`e^{s_j}`, all positive, with their sum :math:`\sum_j e^{s_j}` stacked in the last
    column; and the weights :math:`a_j = e^{s_j} / \sum_k e^{s_k}`, computed with
    :func:`simple_attention.softmax`, stacked in the last column to their sum, 1. The bars of
    the last two rows have the same heights: dividing by the sum changes the scale, not the
    proportions. A masked key's score :math:`-\infty` has no bar and weight 0.

    Parameters
    ----------
    scores : array_like, shape (n_keys,)
        The scores of one query, ``1 <= n_keys <= 12``; finite or ``-inf``, not all ``-inf``,
        and at most 700 (beyond, :math:`e^{s_j}` overflows float64: subtract the largest
        score first, which changes no weight).
    labels : sequence, optional
        ``n_keys`` labels of the keys (the tokens); default ``0 .. n_keys-1``. Not one ``str``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure about 7 inches wide by default.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on. The bars are the patches with gid ``"scores"``, ``"exp"`` and
        ``"weights"``, one per key with a finite score, in order; the stacked sums are
        ``"exp-sum"`` and ``"weights-sum"``.

    Raises
    ------
    TypeError
        If ``scores`` does not hold real numbers, ``labels`` is a ``str`` or not a
        sequence, or ``ax`` is not an ``Axes``.
    ValueError
        If ``scores`` is not 1-D, is empty or longer than 12, holds NaN or ``+inf``, is all
        ``-inf`` or exceeds 700, or ``labels`` has the wrong length. Nothing is drawn and no
        figure is created.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention.plotting import plot_softmax_row
    >>> ax = plot_softmax_row([2.0, 1.0, 0.0], labels=["cat", "sat", "on"])
    >>> bars = [p for p in ax.patches if p.get_gid() == "weights"]
    >>> heights = np.array([bar.get_height() for bar in bars])
    >>> np.round(heights / heights.sum(), 3)
    array([0.665, 0.245, 0.09 ])
    >>> [t.get_text() for t in ax.texts][-4:]  # the weights and their sum
    ['0.67', '0.24', '0.09', '1.00']
    """
    s = _row_of_scores(scores)
    keys = as_labels(labels, s.shape[0], "labels")
    check_axes(ax)
    n = s.shape[0]
    exps = np.exp(s)
    total = float(exps.sum())
    head = 1.7
    col = min(0.85, (6.9 - head - 0.25) / (n + 1))
    # Upright labels while they fit their column (about 0.085 inch per character).
    longest = 0.085 * max(len(key) for key in keys)
    tilt = 0.0 if longest <= 0.95 * col else 45.0 if col >= 0.5 else 90.0
    label_h = 0.35 if not tilt else 0.25 + longest * (0.71 if tilt == 45.0 else 1.0)
    size = NOTE if col >= 0.5 else 9.0  # the printed values must not touch
    bar_hs = [0.7, 1.0, 1.0]  # weights are fractions of 1: their bars need the room
    height = label_h + sum(bar_hs) + 3 * 0.3 + 2 * 0.5 + 0.1
    ax = _canvas(ax, head + (n + 1) * col + 0.35, height)
    xs = head + col * (np.arange(n) + 0.5)
    x_sum = head + col * (n + 0.5) + 0.2
    top = height - label_h
    for x, key in zip(xs, keys, strict=True):
        va = "center" if tilt == 90.0 else "bottom"
        ha = "left" if tilt else "center"
        _text(ax, x, top + 0.05, key, NOTE, va=va, ha=ha, rotation=tilt, rotation_mode="anchor")
    _text(ax, x_sum, top + 0.05, r"$\Sigma_j$", NOTE, va="bottom")
    lo, hi = min(0.0, float(s[np.isfinite(s)].min())), max(0.0, float(s.max()))
    span = (hi - lo) or 1.0  # the scores' bars reach from their lowest to their highest
    score_texts = [f"{v:.2f}" if np.isfinite(v) else r"$-\infty$" for v in s]
    weights = softmax(s)
    rows = [  # title, bar heights (in bar_h), zero line (in bar_h), printed values, gid
        ("scores $s_j$", s / span, -lo / span, score_texts, "scores"),
        ("$e^{s_j}$", exps / total, 0.0, [_num(v) for v in exps], "exp"),
        ("weights $a_j$", weights, 0.0, [f"{v:.2f}" for v in weights], "weights"),
    ]
    y_top = top
    for k, (title, heights, zero, texts, gid) in enumerate(rows):
        bar_h = bar_hs[k]
        colour = ROLE_COLOURS["scores" if gid == "scores" else "weights"]
        fill = 0.65 if gid == "exp" else 0.3  # the exponentials: weights not yet normalised
        y_base = y_top - 0.3 - bar_h + zero * bar_h
        _text(ax, 0.05, y_top - 0.3 - bar_h / 2, title, FONT, ha="left")
        ax.hlines(y_base, head, head + n * col, color=INK, lw=0.8)
        for x, text in zip(xs, texts, strict=True):
            _text(ax, x, y_top - 0.15, text, size)
        style = {"facecolor": _tint(colour, fill)}
        for x, bar in zip(xs, heights * bar_h, strict=True):
            if np.isfinite(bar):  # a masked key (-inf) has no bar
                _box(ax, x - 0.3 * col, y_base, 0.6 * col, bar, colour, gid=gid, **style)
        if gid != "scores":  # the bars again, stacked into their sum
            _text(ax, x_sum, y_top - 0.15, _num(total) if gid == "exp" else "1.00", size)
            _stack(ax, x_sum - 0.3 * col, y_base, 0.6 * col, heights * bar_h, colour, fill, gid)
        if k < 2:
            y0 = y_top - 0.3 - bar_h - 0.05
            _arrow(ax, (head - 0.2, y0), (head - 0.2, y0 - 0.5))
            step = "exponential" if k == 0 else "divide by\nthe sum"
            _text(ax, head - 0.3, y0 - 0.25, step, NOTE, ha="right", linespacing=1.2)
        y_top -= 0.3 + bar_h + 0.5
    return ax


def _row_of_scores(scores: npt.ArrayLike) -> np.ndarray:
    """``scores`` as a float64 row that :func:`plot_softmax_row` can draw, or raise."""
    s = as_plot_array(scores, "scores", ndim=1, allow_nan=True, allow_inf=True)
    if not 1 <= s.shape[0] <= 12:
        raise ValueError(f"scores must have 1 to 12 entries to be readable, got {s.shape[0]}")
    if np.isnan(s).any() or (s == np.inf).any():
        raise ValueError("scores contains NaN or +inf; scores must be finite or -inf (masked)")
    if (s == -np.inf).all():
        raise ValueError("scores are all -inf (every key masked): the softmax is undefined")
    if s.max() > 700.0:
        raise ValueError(
            f"scores must be at most 700, got {s.max():g}: exp overflows; subtract the "
            "largest score first, which leaves the weights unchanged"
        )
    return s


def _stack(
    ax: Axes,
    x: float,
    y: float,
    width: float,
    heights: np.ndarray,
    colour: str,
    fill: float,
    gid: str,
) -> None:
    """Bars stacked into one column from ``y`` up, white lines between them, in a frame."""
    bottom = y
    for height in heights:
        _box(
            ax,
            x,
            bottom,
            width,
            height,
            colour,
            facecolor=_tint(colour, fill),
            edgecolor="white",
            lw=1.0,
            gid=f"{gid}-sum",
        )
        bottom += height
    _box(ax, x, y, width, bottom - y, colour, facecolor="none")


# --- heads ------------------------------------------------------------------------------------


def _deck(
    ax: Axes, x: float, y: float, n: int, d_k: int, n_heads: int, cell: float, step: float
) -> float:
    """``n_heads`` sheets of ``(n, d_k)``, head 0 in front at top-left corner ``(x, y)``."""
    for head in reversed(range(n_heads)):
        colour = HEAD_COLOURS[head % len(HEAD_COLOURS)]
        dims = ("n", "d_k") if head == 0 else None
        w, h = _matrix(
            ax,
            x + head * step,
            y + head * step,
            (n, d_k),
            cell,
            colour,
            dims=dims,
            zorder=1.0 + (n_heads - head) / (n_heads + 1),
            columns_below=True,
            white=0.6,
        )
    # The front sheet's name: across it, along it, or its number alone, whichever fits.
    name, turn = ("head 0", 0) if w >= 0.8 else ("head 0", 90) if h >= 0.75 else ("0", 0)
    _text(ax, x + w / 2, y - h / 2, name, NOTE, rotation=turn, zorder=3)
    if n_heads > 1:
        corner = (x + w + (n_heads - 1) * step / 2 + 0.08, y - h + (n_heads - 1) * step / 2)
        _text(ax, *corner, _sized("h", n_heads), NOTE, ha="left", va="top")
    return w + (n_heads - 1) * step


def _bands(ax: Axes, x: float, y: float, n: int, d_model: int, n_heads: int, cell: float) -> float:
    """An ``(n, d_model)`` matrix whose columns are coloured by the head they belong to."""
    w, h = _matrix(ax, x, y, (n, d_model), cell, INK, dims=("n", "d_model"))
    d_k = d_model // n_heads
    for head in range(n_heads):
        colour = HEAD_COLOURS[head % len(HEAD_COLOURS)]
        band = Rectangle(
            (x + head * d_k * w / d_model, y - h),
            d_k * w / d_model,
            h,
            facecolor=_tint(colour, 0.6),
            edgecolor=colour,
            lw=1.0,
        )
        ax.add_patch(band)
        if w / n_heads >= 0.2:
            name = f"head {head}" if w / n_heads >= 0.75 else str(head)
            _text(ax, x + (head + 0.5) * d_k * w / d_model, y - h / 2, name, NOTE)
    return w


def plot_head_split(n: int, d_model: int, n_heads: int, *, ax: Axes | None = None) -> Axes:
    r"""Draw how multi-head attention splits ``(n, d_model)`` into heads and merges them back.

    Top left, :math:`Q` (and likewise :math:`K` and :math:`V`), of shape
    :math:`(n, d_\text{model})`, its columns coloured by head; a reshape to
    :math:`(n, h, d_k)` and a swap of the first two axes make :math:`h` matrices of
    :math:`(n, d_k)`, one per head. Each head attends on its own and
    gives a context of :math:`(n, d_k)`; the heads are merged (concatenated, bottom left) into
    :math:`Z` of :math:`(n, d_\text{model})`, because :math:`d_\text{model} = h \cdot d_k`,
    which the output projection :math:`W_o` then mixes.

    Parameters
    ----------
    n : int
        The number of tokens, ``>= 1``.
    d_model : int
        The width of the model, ``>= 1``; divisible by ``n_heads``.
    n_heads : int
        The number of heads :math:`h`, ``>= 1``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure about 7 inches wide by default.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Raises
    ------
    TypeError
        If a size is not an integer (a bool is not), or ``ax`` is not an ``Axes``.
    ValueError
        If a size is not positive or ``d_model`` is not divisible by ``n_heads``. Nothing is
        drawn and no figure is created.

    Examples
    --------
    >>> from simple_attention.plotting import plot_head_split
    >>> ax = plot_head_split(4, 8, 2)
    >>> ax.texts[-1].get_text()
    '$d_\\mathrm{model} = h \\cdot d_k$:   $8 = 2 \\cdot 4$'
    """
    n = check_positive_int(n, "n")
    d_model = check_positive_int(d_model, "d_model")
    n_heads = check_positive_int(n_heads, "n_heads")
    if d_model % n_heads:
        raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
    check_axes(ax)
    d_k = d_model // n_heads
    step = min(0.14, 0.8 / max(n_heads - 1, 1))
    # 6.9 inches: margins and labels 1.3, the arrows between the columns 2.2, the matrices.
    cell = min(0.3, 1.3 / n, (3.4 - (n_heads - 1) * step) / (d_model + d_k))
    w_model, h = max(d_model * cell, 0.3), max(n * cell, 0.3)
    w_deck = max(d_k * cell, 0.3) + (n_heads - 1) * step
    x_deck = max(0.4 + w_model + 2.2, 6.9 - w_deck - 0.9)
    width = x_deck + w_deck + 0.9
    back = (n_heads - 1) * step  # how far the last head sticks out above the first
    height = 2 * (h + back) + 2.6
    ax = _canvas(ax, width, height)
    top = height - 0.45 - back
    bottom = top - h - 1.2 - back  # room for the labels under the top row and an arrow
    _bands(ax, 0.4, top, n, d_model, n_heads, cell)
    _text(ax, 0.4 + w_model / 2, top - h - 0.25, "$Q$ (or $K$, $V$)", FONT)
    _deck(ax, x_deck, top, n, d_k, n_heads, cell, step)
    _bands(ax, 0.4, bottom, n, d_model, n_heads, cell)
    _text(ax, 0.4 + w_model / 2, bottom - h - 0.25, "$Z$ (then $W_o$)", FONT)
    _deck(ax, x_deck, bottom, n, d_k, n_heads, cell, step)
    mid_x = (0.4 + w_model + x_deck - 0.4) / 2
    _arrow(ax, (0.4 + w_model + 0.15, top - h / 2), (x_deck - 0.45, top - h / 2))
    _text(ax, mid_x, top - h / 2 + 0.1, "split into heads", NOTE, va="bottom")
    _text(ax, mid_x, top - h / 2 - 0.1, "(reshape, swap axes)", NOTE, va="top")
    _arrow(ax, (x_deck - 0.45, bottom - h / 2), (0.4 + w_model + 0.15, bottom - h / 2))
    _text(ax, mid_x, bottom - h / 2 + 0.1, "merge the heads", NOTE, va="bottom")
    _text(ax, mid_x, bottom - h / 2 - 0.1, "(swap back, reshape)", NOTE, va="top")
    x_mid = x_deck + (w_deck - (n_heads - 1) * step) / 2
    _arrow(ax, (x_mid, top - h - 0.4), (x_mid, bottom + back + 0.15))
    y_arrow = (top - h - 0.4 + bottom + back + 0.15) / 2
    _text(ax, x_mid + 0.12, y_arrow, "attention\nin each head", NOTE, ha="left")
    formula = r"$d_\mathrm{model} = h \cdot d_k$:   " + rf"${d_model} = {n_heads} \cdot {d_k}$"
    _text(ax, width / 2, 0.2, formula, FONT)
    return ax


# --- the KV cache -----------------------------------------------------------------------------


def plot_kv_cache(n_steps: int, *, d_k: int = 4, ax: Axes | None = None) -> Axes:
    r"""Draw the key/value cache after one generation step, and the new query reading it.

    The figure shows step :math:`t` = ``n_steps - 1``. The cache holds one key row and one
    value row per token seen so far: rows ``0 .. t-1`` were stored at earlier steps (light),
    row ``t`` is appended now (dark). The new token's query :math:`q^{(t)}` is compared with
    every cached key, :math:`k^{(0)} .. k^{(t)}`; no earlier row is computed again.

    Parameters
    ----------
    n_steps : int
        The number of tokens in the cache after this step, ``1 <= n_steps <= 16``.
    d_k : int, default 4
        The size of each key and value vector, ``1 <= d_k <= 16``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure about 7 inches wide by default.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on; the rows are the patches with gid ``"key"`` and ``"value"`` (the
        cached ones) and ``"new key"`` and ``"new value"``; one line per cached key joins it
        to the query.

    Raises
    ------
    TypeError
        If ``n_steps`` or ``d_k`` is not an integer, or ``ax`` is not an ``Axes``.
    ValueError
        If ``n_steps`` or ``d_k`` is not in ``[1, 16]``. Nothing is drawn and no figure is
        created.

    Examples
    --------
    >>> from simple_attention.plotting import plot_kv_cache
    >>> ax = plot_kv_cache(5)
    >>> [p.get_gid() for p in ax.patches].count("key"), len(ax.lines)
    (4, 5)
    """
    n_steps = check_positive_int(n_steps, "n_steps")
    d_k = check_positive_int(d_k, "d_k")
    for value, name in [(n_steps, "n_steps"), (d_k, "d_k")]:
        if value > 16:
            raise ValueError(f"{name} must be at most 16 to be readable, got {value}")
    check_axes(ax)
    t = n_steps - 1
    # Rows at least 0.175 inch high, to hold a label; narrower columns for long vectors.
    row = min(0.3, 2.8 / n_steps)
    col = min(row, 0.9 / d_k)
    w, h = d_k * col, n_steps * row
    height = h + 1.6
    top = height - 0.55
    x_q, x_k = 0.5, 0.5 + w + 1.6
    turned = h >= 0.9  # room for the number of rows, turned, on the left of each cache
    x_v = x_k + w + (0.55 if turned else 0.8)
    ax = _canvas(ax, max(6.9, x_v + w + 1.5), height)
    colours = {"key": ROLE_COLOURS["key"], "value": ROLE_COLOURS["value"]}
    for x, role, name in [(x_k, "key", "K"), (x_v, "value", "V")]:
        dims = ("t + 1", "d_k") if turned else None
        _matrix(ax, x, top, (n_steps, d_k), col, colours[role], dims=dims, row=row)
        if not turned:
            _text(ax, x + w / 2, top + 0.06, _sized("d_k", d_k), NOTE, va="bottom")
            _text(ax, x + w / 2, top - h - 0.06, _sized("t + 1", n_steps), NOTE, va="top")
        for j in range(n_steps):
            new = j == t
            _box(
                ax,
                x,
                top - (j + 1) * row,
                w,
                row,
                colours[role],
                facecolor=_tint(colours[role], 0.25 if new else 0.78),
                gid=f"new {role}" if new else role,
            )
        _text(ax, x + w / 2, top + 0.3, f"${name}$ cache", FONT, va="bottom")
    y_new = top - (t + 0.5) * row
    _matrix(ax, x_q, y_new + row / 2, (1, d_k), col, ROLE_COLOURS["query"], row=row)
    _text(ax, 0.1, y_new - row / 2 - 0.08, "new query $q^{(t)}$", NOTE, ha="left", va="top")
    for j in range(n_steps):
        ax.plot(
            [x_q + w + 0.05, x_k - 0.3],
            [y_new, top - (j + 0.5) * row],
            color=ROLE_COLOURS["query"],
            lw=1.0,
            alpha=0.8,
        )
    fan = "$q^{(t)} \\cdot k^{(j)}$ for\nevery $j \\leq t$"
    _text(ax, (x_q + w + x_k - 0.3) / 2, top + 0.05, fan, NOTE, va="bottom")
    for j in range(n_steps):
        label = f"step {j}" + ("  (new)" if j == t else "")
        if j in (0, t) or row >= 0.2:  # every row while the labels fit
            _text(
                ax,
                x_v + w + 0.1,
                top - (j + 0.5) * row,
                label,
                NOTE,
                ha="left",
                weight="bold" if j == t else "normal",
            )
    caption = (
        f"Step $t = {t}$ appends one row to $K$ and one to $V$; the new query attends to\n"
        + (f"all {n_steps} cached keys" if n_steps > 1 else "the one cached key")
        + ", and no row of an earlier step is computed again."
    )
    _text(ax, 0.1, 0.35, caption, NOTE, ha="left", linespacing=1.4)
    return ax


# --- the online softmax -----------------------------------------------------------------------


def _running_state(scores: np.ndarray, block_size: int) -> list[tuple[float, float, float]]:
    """``(m, r, l)`` after each block: running max, rescaling factor, running sum."""
    m, total, states = -np.inf, 0.0, []
    for start in range(0, scores.shape[0], block_size):
        block = scores[start : start + block_size]
        m_new = max(m, float(block.max()))
        r = float(np.exp(m - m_new))  # e^(-inf) = 0 at the first block: nothing to rescale
        total = r * total + float(np.exp(block - m_new).sum())
        m = m_new
        states.append((m, r, total))
    return states


def _key_block(
    ax: Axes,
    x: float,
    top: float,
    keys: range,
    cell: float,
    width: float,
    scores: np.ndarray | None,
    n_rows: int,
) -> None:
    """A block of keys (and their scores) in a frame ``width`` wide, the cells centred."""
    _box(
        ax, x, top - 0.4 * n_rows, width, 0.4 * n_rows, INK, facecolor="none", lw=2.0, gid="block"
    )
    x0 = x + (width - len(keys) * cell) / 2
    for i, j in enumerate(keys):
        xj = x0 + i * cell
        _box(ax, xj, top - 0.4, cell, 0.4, ROLE_COLOURS["key"], lw=0.8, gid="key")
        _text(ax, xj + cell / 2, top - 0.2, str(j), NOTE)
        if scores is not None:
            _box(ax, xj, top - 0.8, cell, 0.4, ROLE_COLOURS["scores"], lw=0.8)
            # As many digits as the cell has room for.
            digits = 2 if cell >= 0.42 else 1 if abs(scores[j]) < 10.0 else 0
            _text(ax, xj + cell / 2, top - 0.6, f"{scores[j]:.{digits}f}", 9.0)


def plot_online_softmax_blocks(
    n_keys: int,
    block_size: int,
    *,
    scores: npt.ArrayLike | None = None,
    ax: Axes | None = None,
) -> Axes:
    r"""Draw the online softmax: keys in blocks, and the running state after each block.

    The keys are read one block at a time. After each block the running maximum :math:`m`
    is updated, the sum so far is rescaled by :math:`r = e^{m_\text{old} - m}` (it was
    computed with the old maximum) and the block's own terms :math:`e^{s_j - m}` are added to
    the running sum :math:`\ell`. The state starts at :math:`m = -\infty, \ell = 0`. After the
    last block, :math:`m = \max_j s_j` and :math:`\ell = \sum_j e^{s_j - m}`, as if every score
    had been seen at once, and :math:`a_j = e^{s_j - m} / \ell`.

    Parameters
    ----------
    n_keys : int
        The number of keys, ``1 <= n_keys <= 12``.
    block_size : int
        The number of keys per block, ``>= 1``; the last block may be shorter.
    scores : array_like, shape (n_keys,), optional
        Finite scores of one query. Given, the figure prints them and the values of
        :math:`m`, :math:`r` and :math:`\ell` computed from them, and checks the last ones
        against the whole row; omitted, it writes the symbols :math:`m_b, r_b, \ell_b`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure about 7 inches wide by default.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on; the key cells are the patches with gid ``"key"``, the blocks
        ``"block"``.

    Raises
    ------
    TypeError
        If a size is not an integer, ``scores`` does not hold real numbers, or ``ax`` is not
        an ``Axes``.
    ValueError
        If a size is out of range, or ``scores`` is not 1-D with ``n_keys`` finite entries.
        Nothing is drawn and no figure is created.

    Examples
    --------
    >>> from simple_attention.plotting import plot_online_softmax_blocks
    >>> scores = [0.5, 2.0, -1.0, 3.0, 1.0, 0.0]
    >>> ax = plot_online_softmax_blocks(6, 2, scores=scores)
    >>> [p.get_gid() for p in ax.patches].count("block")
    3
    >>> [t.get_text() for t in ax.texts][-4:-1]  # m, r, l after block 2
    ['3.00', '1.00', '1.65']
    >>> "= 1.65, as after block 2" in ax.texts[-1].get_text()  # all at once
    True
    """
    n_keys = check_positive_int(n_keys, "n_keys")
    if n_keys > 12:
        raise ValueError(f"n_keys must be at most 12 to be readable, got {n_keys}")
    block_size = check_positive_int(block_size, "block_size")
    if -(-n_keys // block_size) > 6:
        raise ValueError(
            f"block_size must be at least {-(-n_keys // 6)} for {n_keys} keys, got {block_size}:"
            " more than 6 blocks leave no room for their numbers"
        )
    s = None if scores is None else as_plot_array(scores, "scores", ndim=1)
    if s is not None and s.shape[0] != n_keys:
        raise ValueError(f"scores must have n_keys = {n_keys} entries, got {s.shape[0]}")
    check_axes(ax)
    starts = list(range(0, n_keys, block_size))
    head, gap, start_w = 2.35, 0.15, 0.5
    room = 6.9 - head - start_w - gap * (len(starts) - 1)
    sizes = [min(b + block_size, n_keys) - b for b in starts]
    cell = min(0.5, room / n_keys)
    # A block is at least 0.55 inch wide, room for its state's numbers; the others give way.
    widths = [max(0.55, size * cell) for size in sizes]
    if sum(widths) > room + 1e-9:  # (six blocks at their narrowest fill the room exactly)
        cell -= (sum(widths) - room) / sum(size for size in sizes if size * cell > 0.55)
        widths = [max(0.55, size * cell) for size in sizes]
    rows = ["key $j$", *(["score $s_j$"] if s is not None else [])]
    state_rows = [
        r"$m = \max(m_\mathrm{old}, \mathrm{max}_j\, s_j)$",
        r"$r = e^{m_\mathrm{old} - m}$",
        r"$\ell = r\,\ell_\mathrm{old} + \Sigma_j e^{s_j - m}$",
    ]
    height = 0.45 + 0.4 * (len(rows) + 3) + 0.6
    width = max(6.9, head + start_w + sum(widths) + gap * (len(starts) - 1) + 0.1)
    ax = _canvas(ax, width, height)
    top = height - 0.45
    for k, title in enumerate(rows + state_rows):
        _text(ax, 0.05, top - 0.4 * k - 0.2, title, NOTE, ha="left")
    x_state = head + start_w / 2
    _text(ax, x_state, top + 0.05, "start", NOTE, va="bottom")
    for k, value in enumerate([r"$-\infty$", "", "0"]):
        _text(ax, x_state, top - 0.4 * (len(rows) + k) - 0.2, value, NOTE)
    states = None if s is None else _running_state(s, block_size)
    x = head + start_w
    for b, (start, w) in enumerate(zip(starts, widths, strict=True)):
        keys = range(start, min(start + block_size, n_keys))
        _key_block(ax, x, top, keys, cell, w, s, len(rows))
        _text(ax, x + w / 2, top + 0.05, f"block {b}", NOTE, va="bottom")
        values = (
            [f"$m_{b}$", f"$r_{b}$", rf"$\ell_{b}$"]
            if states is None
            else [_num(v) for v in states[b]]
        )
        for k, value in enumerate(values):
            _text(ax, x + w / 2, top - 0.4 * (len(rows) + k) - 0.2, value, NOTE)
        x += w + gap
    if s is None:
        caption = (
            r"After the last block, $m = \mathrm{max}_j\, s_j$ and $\ell = \Sigma_j e^{s_j - m}$,"
            r" so $a_j = e^{s_j - m} / \ell$."
        )
    else:
        largest = float(s.max())
        total = float(np.exp(s - largest).sum())
        caption = (
            rf"All keys at once: $\mathrm{{max}}_j\, s_j$ = {_num(largest)} and "
            rf"$\Sigma_j e^{{s_j - \mathrm{{max}}}}$ = {_num(total)}, "
            f"as after block {len(starts) - 1}."
        )
    _text(ax, 0.05, 0.25, caption, NOTE, ha="left")
    return ax


# --- a transformer block ----------------------------------------------------------------------


def _shape_text(rows: int | None, cols: int | None, cols_name: str) -> str:
    symbols = f"$(n,\\, {math_name(cols_name)[1:-1]})$"
    return symbols if rows is None or cols is None else f"{symbols} = ({rows}, {cols})"


def plot_transformer_block(
    *,
    n: int | None = None,
    d_model: int | None = None,
    n_heads: int | None = None,
    d_hidden: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    r"""Draw a pre-norm transformer block, top to bottom, with the shapes on the arrows.

    The input :math:`x` goes through a layer norm and causal multi-head attention, and the
    result is added to :math:`x` (the first residual path, drawn on the right); that sum goes
    through a second layer norm and the feed-forward network, and is added to its own input
    (the second residual path). Every arrow carries an :math:`(n, d_\text{model})` matrix;
    inside the feed-forward network the rows have :math:`d_\text{hidden}` features. This is
    :class:`~simple_attention.TransformerBlock` (its dropout, off by default, is not drawn).

    Parameters
    ----------
    n, d_model, n_heads, d_hidden : int, optional
        Sizes to print next to the symbols; ``d_hidden`` defaults to ``4 * d_model``, as in
        :class:`~simple_attention.TransformerBlock`. ``n_heads`` must divide ``d_model``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure about 4.5 inches wide by default.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on; the steps are the patches with gid ``"layer norm"``,
        ``"attention"``, ``"feed-forward"`` and ``"add"``.

    Raises
    ------
    TypeError
        If a size is not an integer or ``None``, or ``ax`` is not an ``Axes``.
    ValueError
        If a size is not positive, or ``n_heads`` does not divide ``d_model``. Nothing is
        drawn and no figure is created.

    Examples
    --------
    >>> from simple_attention.plotting import plot_transformer_block
    >>> ax = plot_transformer_block(n=5, d_model=8, n_heads=2)
    >>> [p.get_gid() for p in ax.patches].count("add")
    2
    >>> {t.get_text() for t in ax.texts if t.get_text().startswith("$(n")}
    {'$(n,\\, d_\\mathrm{model})$ = (5, 8)'}
    """
    n = _optional_size(n, "n")
    d_model = _optional_size(d_model, "d_model")
    n_heads = _optional_size(n_heads, "n_heads")
    d_hidden = _optional_size(d_hidden, "d_hidden")
    if d_model is not None and n_heads is not None and d_model % n_heads:
        raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
    check_axes(ax)
    if d_hidden is None and d_model is not None:
        d_hidden = 4 * d_model
    stream = _shape_text(n, d_model, "d_model")
    hidden = _shape_text(n, d_hidden, "d_hidden")
    heads = "$h$ heads" if n_heads is None else f"$h = {n_heads}$ heads"
    grey, attention, ffn = (
        ROLE_COLOURS["input"],
        ROLE_COLOURS["weights"],
        ROLE_COLOURS["projection"],
    )
    steps = [  # (kind and gid, text, colour); the inputs and outputs have no box
        ("text", "input $x$", grey),
        ("layer norm", "LayerNorm", grey),
        ("attention", f"causal multi-head attention\n{heads}", attention),
        ("add", "+", INK),
        ("layer norm", "LayerNorm", grey),
        ("feed-forward", f"feed-forward: Linear, GELU, Linear\ninside: {hidden}", ffn),
        ("add", "+", INK),
        ("text", "output", grey),
    ]
    heights = {"text": 0.3, "layer norm": 0.38, "attention": 0.6, "feed-forward": 0.6, "add": 0.3}
    arrow = 0.5
    height = sum(heights[kind] for kind, _, _ in steps) + arrow * (len(steps) - 1) + 0.2
    x_mid, x_res, half = 2.15, 4.15, 1.55
    ax = _canvas(ax, 4.5, height)
    y = height - 0.1
    branches: list[float] = []
    ends: list[tuple[float, float]] = []
    for k, (kind, text, colour) in enumerate(steps):
        h = heights[kind]
        if kind in ("layer norm", "attention", "feed-forward"):
            _box(ax, x_mid - half, y - h, 2 * half, h, colour, gid=kind)
        elif kind == "add":
            circle = Circle((x_mid, y - h / 2), h / 2, facecolor="white", edgecolor=INK, lw=1.3)
            circle.set_gid("add")
            ax.add_patch(circle)
        size = FONT + 3 if kind == "add" else (NOTE if "\n" in text else FONT)
        _text(ax, x_mid, y - h / 2, text, size, linespacing=1.4)
        if kind == "add":
            ends.append((y - h / 2, h / 2))
        y -= h
        if k < len(steps) - 1:
            _arrow(ax, (x_mid, y), (x_mid, y - arrow))
            _text(ax, x_mid - 0.1, y - arrow / 2, stream, NOTE, ha="right")
            if steps[k + 1][0] == "layer norm":  # the residual path leaves before the norm
                branches.append(y - arrow / 2)
                ax.plot([x_mid], [y - arrow / 2], "o", color=INK, ms=4)
            y -= arrow
    for y_from, (y_to, radius) in zip(branches, ends, strict=True):
        ax.plot([x_mid, x_res, x_res], [y_from, y_from, y_to], color=INK, lw=1.5)
        _arrow(ax, (x_res, y_to), (x_mid + radius, y_to))
        _text(ax, x_res + 0.08, (y_from + y_to) / 2, "residual", NOTE, ha="left", rotation=90)
    return ax
