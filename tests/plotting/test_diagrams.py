"""Tests of the diagrams of simple_attention.plotting: what each one says, and its checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import combinations, pairwise
from typing import Any

import numpy as np
import pytest

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.text import Annotation  # noqa: E402

from simple_attention import softmax  # noqa: E402
from simple_attention.plotting import (  # noqa: E402
    plot_head_split,
    plot_kv_cache,
    plot_matmul_shapes,
    plot_online_softmax_blocks,
    plot_softmax_row,
    plot_transformer_block,
)
from simple_attention.plotting._common import ROLE_COLOURS, math_name, role_colour  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def texts(ax: Axes) -> list[str]:
    """The texts of ``ax``, without the empty ones of its arrows (annotations)."""
    return [t.get_text() for t in ax.texts if t.get_text()]


def patches(ax: Axes, gid: str) -> list[Any]:
    return [p for p in ax.patches if p.get_gid() == gid]


# --- notation helpers -------------------------------------------------------------------------


def test_dimension_names_are_written_in_the_sites_notation() -> None:
    assert math_name("d_in") == r"$d_\mathrm{in}$"
    assert math_name("d_model") == r"$d_\mathrm{model}$"
    assert math_name("n_vocab") == r"$n_\mathrm{vocab}$"
    assert math_name("d_k") == "$d_k$"
    assert math_name("h d_k") == r"$h\,d_k$"
    assert math_name("$x^{(i)}$") == "$x^{(i)}$"


def test_roles_take_their_colour_from_the_first_letter() -> None:
    assert role_colour("W_q") == ROLE_COLOURS["projection"]
    assert role_colour("K^T") == ROLE_COLOURS["key"]
    assert role_colour(r"\mathrm{S}") == ROLE_COLOURS["scores"]
    assert role_colour("A") == ROLE_COLOURS["weights"]
    assert role_colour("Z") == ROLE_COLOURS["context"]
    assert role_colour("q") == ROLE_COLOURS["query"]  # a vector takes its matrix's colour
    assert role_colour("?") == ROLE_COLOURS["input"]


# --- plot_matmul_shapes -----------------------------------------------------------------------


def test_matmul_labels_every_side_and_the_inner_dimension() -> None:
    ax = plot_matmul_shapes((6, 3), (3, 2), names=("X", "W_q", "Q"))
    labels = texts(ax)
    # d_in is a side of X and of W_q, n of X and Q, d_k of W_q and Q: each written twice.
    assert labels.count(r"$d_\mathrm{in} = 3$") == 2
    assert labels.count("$n = 6$") == 2
    assert labels.count("$d_k = 2$") == 2
    assert {"$X$", "$W_q$", "$Q$"} <= set(labels)
    assert any("disappears" in t and r"$d_\mathrm{in} = 3$" in t for t in labels)
    assert any("Entry (0, 0) of $Q$: row 0 of $X$ times column 0 of $W_q$" in t for t in labels)
    left, right, result = (patches(ax, gid)[0] for gid in ("left", "right", "result"))
    # To scale: the result is as tall as left and as wide as right, and 6 rows are twice 3.
    assert result.get_height() == pytest.approx(left.get_height())
    assert result.get_width() == pytest.approx(right.get_width())
    assert left.get_height() == pytest.approx(2 * right.get_height())
    assert left.get_edgecolor() == to_rgba(ROLE_COLOURS["input"])
    assert result.get_edgecolor() == to_rgba(ROLE_COLOURS["query"])


def test_matmul_names_scores_and_context() -> None:
    ax = plot_matmul_shapes((5, 5), (5, 2), names=("A", "V", "Z"), dim_names=("n", "n", "d_k"))
    assert texts(ax).count("$n = 5$") == 4  # rows and columns of A, rows of V and of Z
    assert texts(ax).count("$d_k = 2$") == 2
    assert patches(ax, "result")[0].get_edgecolor() == to_rgba(ROLE_COLOURS["context"])


def test_matmul_of_big_matrices_skips_the_cells() -> None:
    ax = plot_matmul_shapes((64, 512), (512, 64), dim_names=("n", "d_model", "d_k"))
    assert r"$d_\mathrm{model} = 512$" in texts(ax)
    assert not ax.collections  # no cell lines for 512 columns
    assert not any("shaded" in t for t in texts(ax))
    assert any("Each entry of $Q$: a row of $X$ times a column of $W_q$." in t for t in texts(ax))


# --- plot_softmax_row -------------------------------------------------------------------------


def test_softmax_row_prints_weights_that_match_the_library_and_sum_to_one() -> None:
    scores = np.array([0.9, 1.4, 1.0, -0.5, 0.2, 0.65])
    ax = plot_softmax_row(scores, labels=["your", "journey", "starts", "with", "one", "step"])
    expected = softmax(scores)
    heights = np.array([p.get_height() for p in patches(ax, "weights")])
    np.testing.assert_allclose(heights / heights.sum(), expected, rtol=1e-12)
    # The stacked column of the weights is as tall as the bar of a weight of 1.
    stacked = sum(p.get_height() for p in patches(ax, "weights-sum"))
    assert stacked == pytest.approx(heights.sum() / expected.sum())
    labels = texts(ax)
    assert labels[:6] == ["your", "journey", "starts", "with", "one", "step"]
    # Each row: its title, then one value per key (the last two rows then their sum).
    assert labels[7] == "scores $s_j$"
    assert labels[8:14] == [f"{s:.2f}" for s in scores]
    exps = np.exp(scores)
    assert exps.max() < 10.0 < exps.sum() < 100.0  # so: two decimals, and one for the sum
    assert labels[16:23] == [f"{e:.2f}" for e in exps] + [f"{exps.sum():.1f}"]
    assert labels[-7:] == [f"{a:.2f}" for a in expected] + ["1.00"]


def test_softmax_row_bars_of_exp_and_weights_have_the_same_heights() -> None:
    ax = plot_softmax_row([3.0, -1.0, 0.5])
    exp_bars = [p.get_height() for p in patches(ax, "exp")]
    weight_bars = [p.get_height() for p in patches(ax, "weights")]
    np.testing.assert_allclose(exp_bars, weight_bars)
    negative = patches(ax, "scores")[1]
    assert negative.get_height() < 0  # a negative score goes down from the zero line


def test_softmax_row_shows_a_masked_key_as_weight_zero() -> None:
    ax = plot_softmax_row([2.0, -np.inf, 1.0])
    assert len(patches(ax, "scores")) == 2  # no bar for -inf
    assert r"$-\infty$" in texts(ax)
    heights = [p.get_height() for p in patches(ax, "weights")]
    assert heights[1] == 0.0
    assert texts(ax).count("0.00") == 2  # exp and weight of the masked key


# --- plot_head_split --------------------------------------------------------------------------


def test_head_split_shows_d_model_as_heads_times_d_k() -> None:
    ax = plot_head_split(4, 12, 3)
    labels = texts(ax)
    assert labels.count(r"$d_\mathrm{model} = 12$") == 2  # Q and the merged Z
    assert labels.count("$d_k = 4$") == 2  # the front head, before and after attention
    assert labels.count("$h = 3$") == 2
    assert labels.count("$n = 4$") == 4
    assert labels[-1].endswith(r"$12 = 3 \cdot 4$")
    assert "split into heads" in labels
    assert "merge the heads" in labels


@pytest.mark.parametrize(("d_model", "n_heads"), [(8, 2), (512, 8), (16, 16)])
def test_head_split_arrows_point_from_step_to_step(d_model: int, n_heads: int) -> None:
    ax = plot_head_split(4, d_model, n_heads)
    arrows = [t for t in ax.texts if isinstance(t, Annotation)]
    (split, merge, attend) = ((a.xyann, a.xy) for a in arrows)
    assert split[1][0] > split[0][0]  # to the right, to the heads
    assert merge[1][0] < merge[0][0]  # back to the left
    assert attend[0][0] == attend[1][0]
    assert attend[1][1] < attend[0][1] - 0.3  # down, and long enough to see


def test_head_split_with_one_head_draws_no_deck_label() -> None:
    ax = plot_head_split(2, 4, 1)
    assert "$h = 1$" not in texts(ax)
    assert texts(ax)[-1].endswith(r"$4 = 1 \cdot 4$")


# --- plot_kv_cache ----------------------------------------------------------------------------


@pytest.mark.parametrize("n_steps", [1, 3, 12, 16])
def test_kv_cache_has_one_row_per_step_and_one_line_per_key(n_steps: int) -> None:
    ax = plot_kv_cache(n_steps, d_k=3)
    assert len(patches(ax, "key")) == len(patches(ax, "value")) == n_steps - 1
    assert len(patches(ax, "new key")) == len(patches(ax, "new value")) == 1
    assert len(ax.lines) == n_steps  # the new query attends to every cached key
    labels = texts(ax)
    assert labels.count(f"$t\\,+\\,1 = {n_steps}$") == 2
    assert labels.count("$d_k = 3$") == 2
    assert f"step {n_steps - 1}  (new)" in labels
    attends = f"all {n_steps} cached keys" if n_steps > 1 else "the one cached key"
    assert any(attends in t for t in labels)
    # The new query is one row high, level with the new key it is appended with.
    query = next(p for p in ax.patches if p.get_edgecolor() == to_rgba(ROLE_COLOURS["query"]))
    new_key = patches(ax, "new key")[0]
    assert query.get_height() == pytest.approx(new_key.get_height())
    assert query.get_y() == pytest.approx(new_key.get_y())


# --- plot_online_softmax_blocks ---------------------------------------------------------------


def test_online_softmax_prints_the_running_state_of_each_block() -> None:
    scores = np.array([0.5, 2.0, -1.0, 3.0, 1.0, 0.0, 2.5])
    ax = plot_online_softmax_blocks(7, 3, scores=scores)
    assert len(patches(ax, "block")) == 3
    assert len(patches(ax, "key")) == 7
    labels = texts(ax)
    # After block 1 (keys 3..5): m = 3, r = e^(2 - 3), l = e^(0.5-3) + ... + e^(0-3).
    m1 = 3.0
    l1 = np.exp(scores[:6] - m1).sum()
    assert f"{m1:.2f}" in labels
    assert f"{np.exp(2.0 - 3.0):.2f}" in labels
    assert f"{l1:.2f}" in labels
    # After the last block, the state is the whole row's max and sum.
    final = f"{np.exp(scores - scores.max()).sum():.2f}"
    assert final in labels[-1]
    assert f"{scores.max():.2f}" in labels[-1]
    assert "as after block 2" in labels[-1]


@pytest.mark.parametrize(("n_keys", "block_size"), [(1, 1), (6, 1), (11, 2), (12, 2), (12, 12)])
def test_online_softmax_blocks_fit_the_page_without_overlapping(
    n_keys: int, block_size: int
) -> None:
    ax = plot_online_softmax_blocks(n_keys, block_size, scores=np.linspace(-2.0, 3.0, n_keys))
    assert ax.figure.get_size_inches()[0] <= 7.0 + 1e-9
    blocks = sorted(patches(ax, "block"), key=lambda p: p.get_x())
    assert len(blocks) == -(-n_keys // block_size)
    for left, right in pairwise(blocks):
        assert left.get_x() + left.get_width() < right.get_x()  # a gap between blocks
    assert min(p.get_width() for p in blocks) >= 0.55  # room for the state's numbers
    for key in patches(ax, "key"):  # every key inside a block
        assert any(b.get_x() <= key.get_x() <= b.get_x() + b.get_width() for b in blocks)


def test_online_softmax_without_scores_writes_symbols() -> None:
    ax = plot_online_softmax_blocks(5, 2)
    labels = texts(ax)
    assert [t for t in labels if t.startswith("block")] == ["block 0", "block 1", "block 2"]
    assert {"$m_2$", "$r_2$", r"$\ell_2$"} <= set(labels)
    assert r"$-\infty$" in labels  # m starts at minus infinity
    assert not any("\u03b1" in t or "omega" in t or "alpha" in t for t in labels)


# --- plot_transformer_block -------------------------------------------------------------------


def test_transformer_block_has_both_residual_paths_and_the_shapes() -> None:
    ax = plot_transformer_block(n=6, d_model=16, n_heads=2)
    assert len(patches(ax, "add")) == 2
    assert len(patches(ax, "layer norm")) == 2
    assert len(patches(ax, "attention")) == len(patches(ax, "feed-forward")) == 1
    labels = texts(ax)
    assert labels.count(r"$(n,\, d_\mathrm{model})$ = (6, 16)") == 7  # one per arrow
    assert any(r"$(n,\, d_\mathrm{hidden})$ = (6, 64)" in t for t in labels)  # 4 d_model
    assert any("$h = 2$ heads" in t for t in labels)
    assert labels.count("residual") == 2


def test_transformer_block_without_sizes_writes_symbols() -> None:
    labels = texts(plot_transformer_block())
    assert labels.count(r"$(n,\, d_\mathrm{model})$") == 7
    assert any("$h$ heads" in t for t in labels)


# --- argument checks --------------------------------------------------------------------------

BAD_CALLS: list[tuple[Callable[..., Any], dict[str, Any], type[Exception], str]] = [
    (plot_matmul_shapes, {"left": (6, 3), "right": (4, 2)}, ValueError, "right"),
    (plot_matmul_shapes, {"left": (6, 0), "right": (0, 2)}, ValueError, "left"),
    (plot_matmul_shapes, {"left": "63", "right": (3, 2)}, TypeError, "left"),
    (plot_matmul_shapes, {"left": (6, 3.0), "right": (3, 2)}, TypeError, "left"),
    (plot_matmul_shapes, {"names": ("X", "W")}, ValueError, "names"),
    (plot_matmul_shapes, {"names": "XWQ"}, TypeError, "names"),
    (plot_matmul_shapes, {"dim_names": ("n", 3, "d_k")}, TypeError, "dim_names"),
    (plot_matmul_shapes, {"ax": "axes"}, TypeError, "ax"),
    (plot_softmax_row, {"scores": [[1.0, 2.0]]}, ValueError, "scores"),
    (plot_softmax_row, {"scores": []}, ValueError, "scores"),
    (plot_softmax_row, {"scores": np.zeros(13)}, ValueError, "scores"),
    (plot_softmax_row, {"scores": [1.0, np.nan]}, ValueError, "scores"),
    (plot_softmax_row, {"scores": [1.0, np.inf]}, ValueError, "scores"),
    (plot_softmax_row, {"scores": [-np.inf, -np.inf]}, ValueError, "scores"),
    (plot_softmax_row, {"scores": [800.0, 0.0]}, ValueError, "scores"),
    (plot_softmax_row, {"scores": ["a", "b"]}, TypeError, "scores"),
    (plot_softmax_row, {"scores": [1.0, 2.0], "labels": ["a"]}, ValueError, "labels"),
    (plot_softmax_row, {"scores": [1.0, 2.0], "labels": "ab"}, TypeError, "labels"),
    (plot_head_split, {"n": 4, "d_model": 10, "n_heads": 4}, ValueError, "d_model"),
    (plot_head_split, {"n": 0, "d_model": 8, "n_heads": 2}, ValueError, "n"),
    (plot_head_split, {"n": 4, "d_model": 8, "n_heads": True}, TypeError, "n_heads"),
    (plot_kv_cache, {"n_steps": 0}, ValueError, "n_steps"),
    (plot_kv_cache, {"n_steps": 17}, ValueError, "n_steps"),
    (plot_kv_cache, {"n_steps": 4, "d_k": 2.0}, TypeError, "d_k"),
    (plot_online_softmax_blocks, {"n_keys": 13, "block_size": 2}, ValueError, "n_keys"),
    (plot_online_softmax_blocks, {"n_keys": 4, "block_size": 0}, ValueError, "block_size"),
    (plot_online_softmax_blocks, {"n_keys": 7, "block_size": 1}, ValueError, "block_size"),
    (
        plot_online_softmax_blocks,
        {"n_keys": 4, "block_size": 2, "scores": [1.0] * 3},
        ValueError,
        "scores",
    ),
    (
        plot_online_softmax_blocks,
        {"n_keys": 2, "block_size": 2, "scores": [1.0, np.inf]},
        ValueError,
        "scores",
    ),
    (plot_transformer_block, {"d_model": 10, "n_heads": 4}, ValueError, "d_model"),
    (plot_transformer_block, {"n": -1}, ValueError, "n"),
    (plot_transformer_block, {"d_hidden": 2.5}, TypeError, "d_hidden"),
]


@pytest.mark.parametrize(("function", "kwargs", "error", "name"), BAD_CALLS)
def test_bad_arguments_raise_and_leave_no_figure(
    function: Callable[..., Any], kwargs: dict[str, Any], error: type[Exception], name: str
) -> None:
    plt.close("all")
    with pytest.raises(error, match=rf"\b{name}\b"):
        function(**kwargs)
    assert not plt.get_fignums()


@pytest.mark.parametrize(
    ("function", "kwargs", "error", "name"), [call for call in BAD_CALLS if "ax" not in call[1]]
)
def test_a_failed_call_draws_nothing_on_a_given_axes(
    function: Callable[..., Any], kwargs: dict[str, Any], error: type[Exception], name: str
) -> None:
    fig, ax = plt.subplots()
    limits = (ax.get_xlim(), ax.get_ylim())
    with pytest.raises(error, match=rf"\b{name}\b"):
        function(**kwargs, ax=ax)
    assert not ax.patches
    assert not ax.texts
    assert not ax.lines
    assert not ax.collections
    assert (ax.get_xlim(), ax.get_ylim()) == limits
    assert ax.axison
    assert plt.get_fignums() == [fig.number]


def test_diagrams_draw_into_a_given_axes_and_return_it() -> None:
    fig, axes = plt.subplots(2, 3)
    calls = [
        lambda ax: plot_matmul_shapes(ax=ax),
        lambda ax: plot_softmax_row([1.0, 0.0], ax=ax),
        lambda ax: plot_head_split(2, 4, 2, ax=ax),
        lambda ax: plot_kv_cache(3, ax=ax),
        lambda ax: plot_online_softmax_blocks(4, 2, ax=ax),
        lambda ax: plot_transformer_block(ax=ax),
    ]
    for ax, call in zip(axes.flat, calls, strict=True):
        assert call(ax) is ax
        assert ax.patches
    assert plt.get_fignums() == [fig.number]


def overlaps(ax: Axes) -> list[str]:
    """Pairs of texts of ``ax`` that overlap by more than 2 pixels, and texts off the figure."""
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in ax.texts if t.get_text()]
    figure = ax.figure.bbox
    found = [a for a, box in boxes if not figure.expanded(1.01, 1.01).contains(box.x0, box.y0)]
    found += [a for a, box in boxes if not figure.expanded(1.01, 1.01).contains(box.x1, box.y1)]
    for (a, box_a), (b, box_b) in combinations(boxes, 2):
        width = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        height = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        if width > 2 and height > 2:
            found.append(f"{a!r} on {b!r}")
    return found


@pytest.mark.parametrize(
    "call",
    [
        lambda: plot_matmul_shapes((6, 3), (3, 2)),
        lambda: plot_matmul_shapes((64, 512), (512, 64), dim_names=("n_vocab", "d_model", "d_k")),
        lambda: plot_softmax_row([0.9, 1.4, 1.0, -0.5, 0.2, 0.65], labels=["journey"] * 6),
        lambda: plot_softmax_row(np.linspace(-9.0, 9.0, 12), labels=["journey"] * 12),
        lambda: plot_head_split(5, 8, 4),
        lambda: plot_head_split(12, 768, 12),
        lambda: plot_kv_cache(1, d_k=1),
        lambda: plot_kv_cache(16, d_k=16),
        lambda: plot_online_softmax_blocks(11, 2, scores=np.linspace(-15.0, 15.0, 11)),
        lambda: plot_online_softmax_blocks(10, 4),
        lambda: plot_transformer_block(n=1024, d_model=768, n_heads=12, d_hidden=3072),
    ],
)
def test_no_text_overlaps_another_or_leaves_the_figure(call: Callable[[], Axes]) -> None:
    assert overlaps(call()) == []


@pytest.mark.parametrize(
    "call",
    [
        lambda: plot_matmul_shapes(),
        lambda: plot_softmax_row(np.linspace(-2.0, 2.0, 12)),
        lambda: plot_head_split(6, 12, 4),
        lambda: plot_kv_cache(16, d_k=16),
        lambda: plot_online_softmax_blocks(12, 5, scores=np.linspace(-3.0, 3.0, 12)),
        lambda: plot_transformer_block(n=6, d_model=16, n_heads=2),
    ],
)
def test_new_figures_fit_a_page_and_use_no_tiny_text(call: Callable[[], Axes]) -> None:
    ax = call()
    width, _ = ax.figure.get_size_inches()
    assert width <= 7.2  # about 700 pixels
    assert min(t.get_fontsize() for t in ax.texts) >= 9.0
    text = " ".join(texts(ax))
    assert not any(symbol in text for symbol in ("\\omega", "\\alpha", "\u03c9", "\u03b1"))
