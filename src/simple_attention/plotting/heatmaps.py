"""Matrices as heatmaps: embedding vectors, projection matrices, attention weights."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from matplotlib.colors import Normalize

from .._validation import check_flag, check_real
from ._common import as_labels, as_matrix, check_axes, check_text, new_axes, rotate_if_long

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.image import AxesImage

__all__ = ["plot_attention_weights", "plot_embeddings", "plot_matrix"]

# Beyond this many rows or columns, numbers in the cells are too small to read.
MAX_ANNOTATED = 12


def _heatmap(
    ax: Axes,
    matrix: np.ndarray,
    row_labels: list[str],
    col_labels: list[str],
    *,
    cmap: str,
    norm: Normalize,
    annotate: bool,
    colorbar_label: str,
) -> AxesImage:
    image = ax.imshow(matrix, cmap=cmap, norm=norm, aspect="auto", interpolation="nearest")
    n_rows, n_cols = matrix.shape
    ax.set_xticks(np.arange(n_cols), labels=col_labels, rotation=rotate_if_long(col_labels))
    ax.set_yticks(np.arange(n_rows), labels=row_labels)
    ax.tick_params(length=0)
    if annotate and max(n_rows, n_cols) <= MAX_ANNOTATED:
        _annotate_cells(ax, image, matrix)
    colorbar = ax.figure.colorbar(image, ax=ax, shrink=0.9)
    colorbar.set_label(colorbar_label)
    return image


def _annotate_cells(ax: Axes, image: AxesImage, matrix: np.ndarray) -> None:
    """Write each value in its cell, dark on light colours and light on dark ones."""
    colours = np.asarray(image.cmap(image.norm(matrix)))
    # Perceived brightness of the cell colour (ITU-R BT.601 weights).
    brightness = colours[..., :3] @ np.array([0.299, 0.587, 0.114])
    for (i, j), value in np.ndenumerate(matrix):
        text = "nan" if np.isnan(value) else f"{value:.2f}"
        colour = "black" if brightness[i, j] > 0.55 else "white"
        ax.text(j, i, text, ha="center", va="center", color=colour, fontsize="small")


def plot_attention_weights(
    weights: npt.ArrayLike,
    query_labels: Sequence[object] | None = None,
    key_labels: Sequence[object] | None = None,
    *,
    ax: Axes | None = None,
    annotate: bool = True,
    title: str | None = "Attention weights",
) -> Axes:
    """Draw an attention-weight matrix as a heatmap, queries as rows and keys as columns.

    Row ``i`` shows how query ``i`` spreads its attention over the keys; each row of a softmax
    output sums to one. The colour scale is fixed to ``[0, 1]`` so that figures of different
    matrices compare at a glance.

    Parameters
    ----------
    weights : array_like, shape (n_queries, n_keys)
        The attention weights, one row per query, with ``n_queries, n_keys >= 1``. A NaN weight
        (from a failed softmax) is a blank cell marked ``nan``.
    query_labels : sequence, optional
        ``n_queries`` labels for the rows (the tokens doing the looking); default
        ``0 .. n_queries-1``.
    key_labels : sequence, optional
        ``n_keys`` labels for the columns (the tokens being looked at); default ``query_labels``
        when the matrix is square, else ``0 .. n_keys-1``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.
    annotate : bool, default True
        Write the weights in the cells, when the matrix has at most 12 rows and columns.
    title : str or None, default "Attention weights"
        The axes title.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on. Its image is ``ax.images[0]``; the colorbar has its own axes.

    Raises
    ------
    TypeError
        If ``weights`` does not hold real numbers, labels are a ``str``, ``annotate`` is not
        a bool, ``ax`` not an ``Axes`` or ``title`` not a ``str`` or ``None``.
    ValueError
        If ``weights`` is not a non-empty matrix or the labels have the wrong length. Nothing
        is drawn and no figure is created when an error is raised.

    See Also
    --------
    simple_attention.self_attention : computes such weights with ``return_weights=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import self_attention
    >>> from simple_attention.plotting import plot_attention_weights
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> _, weights = self_attention(x, return_weights=True)
    >>> ax = plot_attention_weights(weights, ["cat", "dog", "pet"])
    >>> ax.get_title()
    'Attention weights'
    >>> [label.get_text() for label in ax.get_xticklabels()]
    ['cat', 'dog', 'pet']
    >>> len(ax.texts)  # one number per cell
    9
    >>> ax.images[0].get_clim()
    (0.0, 1.0)
    """
    w = as_matrix(weights, "weights")
    n_queries, n_keys = w.shape
    rows = as_labels(query_labels, n_queries, "query_labels")
    if key_labels is None and query_labels is not None and n_queries == n_keys:
        key_labels = query_labels
    cols = as_labels(key_labels, n_keys, "key_labels")
    annotate = check_flag(annotate, "annotate")
    check_text(title, "title", optional=True)
    check_axes(ax)
    ax = new_axes(ax, width=1.6 + 0.6 * n_keys, height=1.0 + 0.5 * n_queries)
    _heatmap(
        ax,
        w,
        rows,
        cols,
        cmap="viridis",
        norm=Normalize(vmin=0.0, vmax=1.0),
        annotate=annotate,
        colorbar_label="weight",
    )
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_matrix(
    matrix: npt.ArrayLike,
    row_labels: Sequence[object] | None = None,
    col_labels: Sequence[object] | None = None,
    *,
    ax: Axes | None = None,
    annotate: bool = True,
    title: str | None = None,
    colorbar_label: str = "value",
    vmax: float | None = None,
) -> Axes:
    """Draw any real matrix as a heatmap, with a colour scale centred on zero.

    Blue cells are negative, red cells positive, white is zero; the scale is symmetric, so
    equal colours mean equal magnitudes. A matrix without negative entries uses the red half
    only, from 0 to its maximum. Use it for projection matrices such as ``W_query`` or for
    queries and keys.

    Parameters
    ----------
    matrix : array_like, shape (n_rows, n_cols)
        The values, with ``n_rows, n_cols >= 1``. NaN is a blank cell marked ``nan``; ``inf``
        and ``-inf`` take the colour at the end of the scale and are marked as such (a float
        mask, for example). The default scale comes from the finite values.
    row_labels, col_labels : sequence, optional
        Labels of the rows and columns; default ``0, 1, ...``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.
    annotate : bool, default True
        Write the values in the cells, when the matrix has at most 12 rows and columns.
    title : str, optional
        The axes title.
    colorbar_label : str, default "value"
        The label of the colorbar.
    vmax : float, optional
        The magnitude at the ends of the colour scale, positive and finite; default the
        largest finite ``abs`` value of the matrix. Give several heatmaps the same ``vmax`` to
        compare their colours. The scale is ``[-vmax, vmax]`` (``[0, vmax]`` for a matrix
        without negative entries), so there is no separate ``vmin``.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Raises
    ------
    TypeError
        If ``matrix`` does not hold real numbers, ``vmax`` is not a real number, labels are a
        ``str``, ``annotate`` is not a bool, ``ax`` not an ``Axes``, or a text argument not a
        ``str``.
    ValueError
        If ``matrix`` is not a non-empty matrix, the labels have the wrong length or ``vmax``
        is not positive and finite. Nothing is drawn and no figure is created when an error
        is raised.

    Examples
    --------
    >>> from simple_attention import SelfAttention
    >>> from simple_attention.plotting import plot_matrix
    >>> layer = SelfAttention(d_in=3, d_out=2, rng=0)
    >>> ax = plot_matrix(layer.W_query, title="W_query")
    >>> ax.images[0].get_array().shape
    (3, 2)
    >>> low, high = ax.images[0].get_clim()
    >>> bool(low == -high)  # centred on zero
    True
    >>> plot_matrix([[0.5, 2.0], [1.0, 0.0]]).images[0].get_clim()  # no negative entries
    (0.0, 2.0)
    """
    m = as_matrix(matrix, "matrix")
    n_rows, n_cols = m.shape
    rows = as_labels(row_labels, n_rows, "row_labels")
    cols = as_labels(col_labels, n_cols, "col_labels")
    annotate = check_flag(annotate, "annotate")
    check_text(title, "title", optional=True)
    check_text(colorbar_label, "colorbar_label")
    if vmax is not None:
        vmax = check_real(vmax, "vmax", low=0.0, low_open=True)
    check_axes(ax)
    ax = new_axes(ax, width=1.6 + 0.6 * n_cols, height=1.0 + 0.5 * n_rows)
    finite = m[np.isfinite(m)]
    if vmax is not None:
        limit = vmax
    else:
        limit = float(np.abs(finite).max()) if finite.size else 1.0
        limit = limit if limit > 0 else 1.0
    # Without negative entries the blue half of the diverging map would stay unused: keep its
    # red half only, so that white is still zero and red still means large.
    non_negative = bool(finite.size) and finite.min() >= 0
    _heatmap(
        ax,
        m,
        rows,
        cols,
        cmap="Reds" if non_negative else "RdBu_r",
        norm=Normalize(vmin=0.0 if non_negative else -limit, vmax=limit),
        annotate=annotate,
        colorbar_label=colorbar_label,
    )
    if title is not None:
        ax.set_title(title)
    return ax


def plot_embeddings(
    x: npt.ArrayLike,
    labels: Sequence[object] | None = None,
    *,
    ax: Axes | None = None,
    annotate: bool = True,
    title: str | None = "Embedding vectors",
    vmax: float | None = None,
) -> Axes:
    """Draw embedding vectors as a heatmap: one row per token, one column per feature.

    Two rows with the same colours are the same vector. White is zero, red positive and blue
    negative (see :func:`plot_matrix`).

    Parameters
    ----------
    x : array_like, shape (n_tokens, dim)
        The vectors :math:`x^{(i)}`, one per row; NaN and inf are shown as in
        :func:`plot_matrix`.
    labels : sequence, optional
        ``n_tokens`` labels for the rows (the tokens); default ``0 .. n_tokens-1``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.
    annotate : bool, default True
        Write the values in the cells, when there are at most 12 tokens and features.
    title : str or None, default "Embedding vectors"
        The axes title.
    vmax : float, optional
        The magnitude at the ends of the colour scale (see :func:`plot_matrix`).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Raises
    ------
    TypeError, ValueError
        As :func:`plot_matrix`, naming ``x`` for a bad matrix. Nothing is drawn and no figure
        is created when an error is raised.

    Examples
    --------
    >>> from simple_attention import naive_embeddings
    >>> from simple_attention.plotting import plot_embeddings
    >>> x = naive_embeddings(4, 3, rng=0)
    >>> ax = plot_embeddings(x, ["your", "journey", "starts", "here"])
    >>> [label.get_text() for label in ax.get_yticklabels()]
    ['your', 'journey', 'starts', 'here']
    >>> ax.get_xlabel()
    'feature'
    """
    arr = as_matrix(x, "x")
    ax = plot_matrix(arr, labels, ax=ax, annotate=annotate, title=title, vmax=vmax)
    ax.set_xlabel("feature")
    ax.set_ylabel("token")
    return ax
