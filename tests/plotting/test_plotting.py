"""Tests of simple_attention.plotting: what each figure contains, and the optional import."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from simple_attention import (  # noqa: E402
    attention_scores_loop,
    context_vector_loop,
    naive_softmax,
    self_attention,
    softmax,
)
from simple_attention.plotting import (  # noqa: E402
    plot_attention_weights,
    plot_bars,
    plot_embeddings,
    plot_loss_curve,
    plot_matrix,
    plot_query_attention,
    plot_softmax_comparison,
    plot_timings,
    plot_tokens,
)

WORDS = ["your", "journey", "starts", "here"]
X = np.array([[0.9, 0.9, 0.8], [0.1, 0.2, 0.3], [0.8, 0.6, 0.4], [0.6, 0.7, 0.5]])


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def tick_texts(labels: list[object]) -> list[str]:
    return [label.get_text() for label in labels]


# --- heatmaps ---------------------------------------------------------------------------------


def test_attention_weights_labels_cells_and_colour_scale() -> None:
    _, weights = self_attention(X, return_weights=True)
    ax = plot_attention_weights(weights, WORDS)
    assert tick_texts(ax.get_xticklabels()) == WORDS  # keys default to the query labels
    assert tick_texts(ax.get_yticklabels()) == WORDS
    assert ax.get_title() == "Attention weights"
    assert [t.get_text() for t in ax.texts] == [f"{w:.2f}" for w in weights.ravel()]
    assert ax.images[0].get_clim() == (0.0, 1.0)
    colorbar_ax = ax.figure.axes[1]
    assert colorbar_ax.get_ylim() == pytest.approx((0.0, 1.0))
    assert colorbar_ax.get_ylabel() == "weight"
    np.testing.assert_array_equal(ax.images[0].get_array(), weights)


def test_attention_weights_rectangular_with_own_key_labels() -> None:
    weights = softmax(np.arange(6.0).reshape(2, 3))
    ax = plot_attention_weights(weights, ["q0", "q1"], ["a", "b", "c"], title=None)
    assert tick_texts(ax.get_xticklabels()) == ["a", "b", "c"]
    assert tick_texts(ax.get_yticklabels()) == ["q0", "q1"]
    assert ax.get_title() == ""


def test_attention_weights_default_labels_are_positions() -> None:
    ax = plot_attention_weights(np.full((2, 3), 1 / 3))
    assert tick_texts(ax.get_xticklabels()) == ["0", "1", "2"]
    assert tick_texts(ax.get_yticklabels()) == ["0", "1"]


def test_cell_text_is_readable_on_dark_and_light_cells() -> None:
    ax = plot_attention_weights(np.array([[0.0, 1.0]]))
    assert [t.get_color() for t in ax.texts] == ["white", "black"]  # viridis: dark 0, light 1


def test_annotation_can_be_switched_off_and_stops_for_big_matrices() -> None:
    assert len(plot_attention_weights(np.eye(3), annotate=False).texts) == 0
    big = softmax(np.zeros((13, 13)))
    assert len(plot_attention_weights(big).texts) == 0
    assert len(plot_attention_weights(big[:12, :12]).texts) == 144


def test_draws_into_a_given_axes() -> None:
    _fig, (left, right) = plt.subplots(1, 2)
    assert plot_attention_weights(np.eye(2), ax=right) is right
    assert len(right.images) == 1
    assert len(left.images) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"query_labels": ["a", "b", "c"]}, "query_labels has 3 entries"),
        ({"query_labels": ["a", "b"], "key_labels": ["x"]}, "key_labels has 1 entries"),
    ],
)
def test_label_count_must_match(kwargs: dict[str, list[str]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plot_attention_weights(np.eye(2), **kwargs)


def test_weights_must_be_a_real_matrix() -> None:
    with pytest.raises(ValueError, match="weights must be 2-D"):
        plot_attention_weights(np.ones(3))
    with pytest.raises(TypeError, match="real numbers"):
        plot_attention_weights(np.eye(2, dtype=bool))


def test_matrix_colour_scale_is_centred_on_zero() -> None:
    m = np.array([[-0.5, 2.0], [1.0, 0.0]])
    ax = plot_matrix(m, ["r0", "r1"], ["c0", "c1"], title="W", colorbar_label="entry")
    assert ax.images[0].get_clim() == (-2.0, 2.0)
    assert ax.figure.axes[1].get_ylabel() == "entry"
    assert ax.get_title() == "W"
    positive = plot_matrix(np.array([[0.5, 2.0], [1.0, 0.0]]))
    assert positive.images[0].get_clim() == (0.0, 2.0)
    assert positive.images[0].get_cmap().name == "Reds"
    zero = plot_matrix(np.zeros((2, 2)))
    assert zero.images[0].get_clim() == (0.0, 1.0)
    shared = plot_matrix(m, vmax=4.0)
    assert shared.images[0].get_clim() == (-4.0, 4.0)
    with pytest.raises(ValueError, match="vmax must be positive"):
        plot_matrix(m, vmax=0.0)
    nan_only = plot_matrix(np.full((2, 2), np.nan))
    assert nan_only.images[0].get_clim() == (-1.0, 1.0)


def test_embeddings_rows_are_tokens_columns_features() -> None:
    ax = plot_embeddings(X, WORDS)
    assert tick_texts(ax.get_yticklabels()) == WORDS
    assert tick_texts(ax.get_xticklabels()) == ["0", "1", "2"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("feature", "token")
    assert len(ax.texts) == X.size
    assert ax.texts[0].get_text() == "0.90"


# --- vectors ----------------------------------------------------------------------------------


def test_tokens_one_box_per_id_with_words_underneath() -> None:
    ax = plot_tokens(np.array([72, 3, 64, 69]), WORDS)
    assert len(ax.patches) == 4
    texts = [t.get_text() for t in ax.texts]
    assert texts[0::3] == ["72", "3", "64", "69"]
    assert texts[2::3] == WORDS
    assert not ax.axison


def test_tokens_without_labels_and_empty() -> None:
    ax = plot_tokens([5, 6])
    assert [t.get_text() for t in ax.texts] == ["5", "pos 0", "6", "pos 1"]
    assert len(plot_tokens(np.array([], dtype=np.int64)).patches) == 0


def test_tokens_reject_non_integers_and_wrong_shape() -> None:
    with pytest.raises(TypeError, match="ids must be integers"):
        plot_tokens([1.5, 2.0])
    with pytest.raises(ValueError, match="ids must be 1-D"):
        plot_tokens([[1, 2]])
    with pytest.raises(ValueError, match="labels has 1 entries"):
        plot_tokens([1, 2], ["a"])


def test_query_attention_panels_show_the_numbers() -> None:
    scores = attention_scores_loop(X, X[1])
    weights = softmax(scores)
    context = context_vector_loop(X, weights)
    fig = plot_query_attention(scores, weights, context, WORDS, query_index=1)
    ax_scores, ax_weights, ax_context = fig.axes[0], fig.axes[2], fig.axes[4]
    for ax, values in ((ax_scores, scores), (ax_weights, weights), (ax_context, context)):
        np.testing.assert_allclose([bar.get_height() for bar in ax.patches], values)
        assert [t.get_text() for t in ax.texts] == [f"{v:.2f}" for v in values]
    assert tick_texts(ax_weights.get_xticklabels()) == WORDS
    assert tick_texts(ax_context.get_xticklabels()) == ["0", "1", "2"]
    query_colour = to_rgba("tab:red")
    assert [bar.get_facecolor() == query_colour for bar in ax_scores.patches] == [
        False,
        True,
        False,
        False,
    ]
    assert ax_weights.get_ylim()[1] >= 1.0  # weights are read against the full [0, 1] range
    assert [fig.axes[i].axison for i in (1, 3)] == [False, False]  # the arrow panels


def test_query_attention_checks_its_inputs() -> None:
    with pytest.raises(ValueError, match="scores has 3 entries but weights has 2"):
        plot_query_attention([1.0, 2.0, 3.0], [0.5, 0.5], [0.1])
    with pytest.raises(ValueError, match=r"query_index must lie in \[0, 2\)"):
        plot_query_attention([1.0, 2.0], [0.5, 0.5], [0.1], query_index=2)


def test_query_attention_draws_into_a_given_figure() -> None:
    fig = plt.figure()
    assert plot_query_attention([1.0, 2.0], [0.3, 0.7], [0.1, 0.2], fig=fig) is fig
    assert len(fig.axes) == 5
    assert fig.get_suptitle() == ""
    titled = plot_query_attention([1.0], [1.0], [0.5], title="one token")
    assert titled.get_suptitle() == "one token"


# --- curves -----------------------------------------------------------------------------------


def test_softmax_comparison_marks_the_first_nan() -> None:
    offsets = np.array([0.0, 50.0, 100.0, 800.0])
    scores = offsets[:, None] + np.array([0.0, 1.0])
    with np.errstate(over="ignore", invalid="ignore"):
        naive32 = naive_softmax(scores.astype(np.float32)).max(axis=1)
    stable = softmax(scores).max(axis=1)
    ax = plot_softmax_comparison(offsets, {"naive float32": naive32, "stable": stable})
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["naive float32", "stable", "naive float32: NaN from 100 on"]
    assert ax.lines[2].get_xdata()[0] == 100.0
    assert ax.get_ylim() == (-0.03, 1.05)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == labels


def test_softmax_comparison_checks_lengths() -> None:
    with pytest.raises(ValueError, match="has shape"):
        plot_softmax_comparison([0.0, 1.0], {"a": [0.5]})


def test_timings_are_log_log_lines() -> None:
    sizes = [8, 16, 32]
    ax = plot_timings(sizes, {"loops": [1e-3, 4e-3, np.nan], "matmul": [1e-5, 2e-5, 3e-5]})
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [1e-5, 2e-5, 3e-5])
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), sizes)
    with pytest.raises(ValueError, match="positive"):
        plot_timings([0, 1], {"a": [1.0, 2.0]})
    with pytest.raises(ValueError, match="has shape"):
        plot_timings([1, 2], {"a": [1.0]})


def test_every_figure_renders_without_warnings() -> None:
    # Warnings are errors in this test suite: this catches layout and glyph problems.
    _, weights = self_attention(X, return_weights=True)
    scores = attention_scores_loop(X, X[0])
    figures = [
        plot_attention_weights(weights, WORDS).figure,
        plot_embeddings(X, WORDS).figure,
        plot_tokens([1, 2, 3], ["a", "b", "c"]).figure,
        plot_query_attention(scores, softmax(scores), X[0], WORDS),
        plot_softmax_comparison([0.0, 1.0], {"a": [0.5, np.nan]}).figure,
        plot_timings([1, 2], {"a": [1.0, 2.0]}).figure,
    ]
    for fig in figures:
        fig.canvas.draw()


# --- bad arguments -----------------------------------------------------------------------------

QUERY = ([1.0, 2.0], [0.3, 0.7], [0.1, 0.2])
BAD_CALLS = [
    # Indices and sizes.
    (plot_query_attention, QUERY, {"query_index": 1.5}, TypeError, "query_index must be an integ"),
    (
        plot_query_attention,
        QUERY,
        {"query_index": True},
        TypeError,
        "query_index must be an integ",
    ),
    (
        plot_query_attention,
        QUERY,
        {"query_index": -1},
        ValueError,
        "query_index must be non-negative, got -1",
    ),
    (plot_loss_curve, ([1.0, 2.0],), {"window": True}, TypeError, "window must be an integer"),
    # Flags.
    (plot_attention_weights, (np.eye(2),), {"annotate": "no"}, TypeError, "annotate must be True"),
    (plot_matrix, (np.eye(2),), {"annotate": 1}, TypeError, "annotate must be True or False"),
    (plot_embeddings, (np.eye(2),), {"annotate": "yes"}, TypeError, "annotate must be True"),
    (plot_bars, ({"a": 1.0},), {"log": "yes"}, TypeError, "log must be True or False"),
    (plot_loss_curve, ([1.0, 2.0],), {"log_scale": 0}, TypeError, "log_scale must be True or"),
    # Real numbers.
    (plot_matrix, (np.eye(2),), {"vmax": np.inf}, ValueError, "vmax must be positive and finite"),
    (plot_matrix, (np.eye(2),), {"vmax": np.nan}, ValueError, "vmax must be positive and finite"),
    (plot_matrix, (np.eye(2),), {"vmax": "1"}, TypeError, "vmax must be a real number"),
    (plot_embeddings, (np.eye(2),), {"vmax": np.inf}, ValueError, "vmax must be positive"),
    (plot_bars, ({"a": "x"},), {}, TypeError, r"values\['a'\] must be a real number"),
    (plot_bars, ({"a": True},), {}, TypeError, r"values\['a'\] must be a real number"),
    (plot_bars, ({"a": np.nan},), {}, ValueError, r"values\['a'\] must be finite and non-neg"),
    (plot_bars, ({"a": -1.0},), {}, ValueError, r"values\['a'\] must be finite and non-neg"),
    (
        plot_bars,
        ({"a": 0.0},),
        {"log": True},
        ValueError,
        r"values\['a'\] must be positive on a log",
    ),
    (plot_bars, ({"a": 1.0},), {"reference": np.inf}, ValueError, "reference must be finite"),
    (
        plot_bars,
        ({"a": 1.0},),
        {"reference": 0.0, "log": True},
        ValueError,
        "reference must be po",
    ),
    (plot_loss_curve, ([1.0],), {"references": {"a": np.nan}}, ValueError, r"references\['a'\]"),
    (
        plot_loss_curve,
        ([1.0],),
        {"references": {"a": -1.0}},
        ValueError,
        r"references\['a'\] must",
    ),
    # Data.
    (plot_tokens, ([3, -1],), {}, ValueError, "ids must be non-negative, got -1"),
    (
        plot_query_attention,
        ([1.0, -np.inf], [1.0, 0.0], [0.5]),
        {},
        ValueError,
        "scores contains inf",
    ),
    (plot_query_attention, ([1.0], [1.0], [np.inf]), {}, ValueError, "context contains inf"),
    (
        plot_attention_weights,
        (np.zeros((0, 2)),),
        {},
        ValueError,
        "weights must have at least one",
    ),
    (
        plot_matrix,
        (np.zeros((2, 0)),),
        {},
        ValueError,
        "matrix must have at least one row and one",
    ),
    (
        plot_softmax_comparison,
        ([0.0, np.nan], {"a": [1.0, 1.0]}),
        {},
        ValueError,
        "offsets contains",
    ),
    (
        plot_softmax_comparison,
        ([0.0, 1.0], {"a": [np.inf, 1.0]}),
        {},
        ValueError,
        r"curves\['a'\] c",
    ),
    (
        plot_softmax_comparison,
        ([0.0, 1.0], {"a": [1.0, 1.0], "b": [1.0]}),
        {},
        ValueError,
        "has sha",
    ),
    (plot_softmax_comparison, ([0.0, 1.0], {}), {}, ValueError, "curves must hold at least one"),
    (
        plot_softmax_comparison,
        ([0.0, 1.0], [[1.0, 1.0]]),
        {},
        TypeError,
        "curves must be a mapping",
    ),
    (
        plot_timings,
        ([1, 2], {"a": [0.0, 1.0]}),
        {},
        ValueError,
        r"timings\['a'\] must be positive",
    ),
    (
        plot_timings,
        ([1, 2], {"a": [-1.0, 1.0]}),
        {},
        ValueError,
        r"timings\['a'\] must be positive",
    ),
    (plot_timings, ([1, 2], {"a": [np.inf, 1.0]}), {}, ValueError, r"timings\['a'\] contains inf"),
    (
        plot_timings,
        ([1, 2], {"a": [1.0, 1.0], "b": [np.nan] * 2}),
        {},
        ValueError,
        r"\['b'\] has no",
    ),
    (plot_timings, ([1, np.nan], {"a": [1.0, 1.0]}), {}, ValueError, "sizes contains NaN or inf"),
    (plot_timings, ([1, np.inf], {"a": [1.0, 1.0]}), {}, ValueError, "sizes contains NaN or inf"),
    (plot_timings, ([], {"a": []}), {}, ValueError, "sizes must hold at least one size"),
    (plot_timings, ([1, 2], {}), {}, ValueError, "timings must hold at least one curve"),
    (plot_timings, ([1, 2], {"a": [1.0, 2.0], "b": [1.0]}), {}, ValueError, "has shape"),
    (plot_bars, ([1.0],), {}, TypeError, "values must be a mapping"),
    (plot_loss_curve, ([1.0],), {"references": [1.0]}, TypeError, "references must be a mapping"),
    # Labels and texts.
    (
        plot_tokens,
        ([1, 2], "ab"),
        {},
        TypeError,
        "labels must be a sequence of labels, not one str",
    ),
    (plot_tokens, ([1, 2], 5), {}, TypeError, "labels must be a sequence of labels, got int"),
    (plot_attention_weights, (np.eye(2), "ab"), {}, TypeError, "query_labels must be a sequence"),
    (plot_query_attention, (*QUERY, "ab"), {}, TypeError, "labels must be a sequence of labels"),
    (plot_tokens, ([1, 2],), {"title": 3}, TypeError, "title must be a str or None, got 3"),
    (
        plot_matrix,
        (np.eye(2),),
        {"colorbar_label": None},
        TypeError,
        "colorbar_label must be a str",
    ),
    (
        plot_softmax_comparison,
        ([0.0], {"a": [1.0]}),
        {"xlabel": None},
        TypeError,
        "xlabel must be",
    ),
    (plot_timings, ([1], {"a": [1.0]}), {"ylabel": 1}, TypeError, "ylabel must be a str"),
    (plot_loss_curve, ([1.0],), {"title": ["a"]}, TypeError, "title must be a str or None"),
    (plot_bars, ({"a": 1.0},), {"reference_label": 1}, TypeError, "reference_label must be a str"),
    (plot_bars, ({"a": 1.0},), {"fmt": 3}, TypeError, "fmt must be a str"),
    (plot_bars, ({"a": 1.0},), {"fmt": "{:d}"}, ValueError, "fmt must format one number"),
    (plot_bars, ({"a": 1.0},), {"fmt": "{0} {1}"}, ValueError, "fmt must format one number"),
    # Where to draw.
    (plot_tokens, ([1, 2],), {"ax": "left"}, TypeError, "ax must be a matplotlib Axes or None"),
    (plot_bars, ({"a": 1.0},), {"ax": plt}, TypeError, "ax must be a matplotlib Axes or None"),
    (plot_query_attention, QUERY, {"fig": "f"}, TypeError, "fig must be a matplotlib Figure or"),
]


@pytest.mark.parametrize(
    ("function", "args", "kwargs", "error", "match"),
    BAD_CALLS,
    ids=[f"{call[0].__name__}-{i}" for i, call in enumerate(BAD_CALLS)],
)
def test_bad_arguments_raise_and_leave_no_figure(
    function: object, args: tuple, kwargs: dict, error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        function(*args, **kwargs)  # type: ignore[operator]
    assert plt.get_fignums() == []


def test_a_failed_call_draws_nothing_on_a_given_axes() -> None:
    _fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="has shape"):
        plot_softmax_comparison([0.0, 1.0], {"a": [1.0, 1.0], "b": [1.0]}, ax=ax)
    with pytest.raises(ValueError, match="positive"):
        plot_timings([1, 2], {"a": [1.0, 2.0], "b": [1.0, 0.0]}, ax=ax)
    assert len(ax.lines) == 0
    assert ax.get_xscale() == "linear"


def test_query_attention_needs_an_empty_figure() -> None:
    fig = plt.figure()
    fig.add_subplot()
    with pytest.raises(ValueError, match="fig must be empty, but it has 1 axes"):
        plot_query_attention(*QUERY, fig=fig)
    assert len(fig.axes) == 1
    subfigure = plt.figure().subfigures(1, 2)[1]
    assert plot_query_attention(*QUERY, fig=subfigure) is subfigure


def test_heatmaps_show_nan_and_inf_cells() -> None:
    m = np.array([[-np.inf, 0.5], [np.nan, -2.0]])
    ax = plot_matrix(m)
    assert [t.get_text() for t in ax.texts] == ["-inf", "0.50", "nan", "-2.00"]
    assert ax.images[0].get_clim() == (-2.0, 2.0)  # from the finite entries
    ax.figure.canvas.draw()
    weights = plot_attention_weights([[np.nan, 1.0]])
    assert [t.get_text() for t in weights.texts] == ["nan", "1.00"]


def test_query_attention_leaves_no_bar_for_nan() -> None:
    fig = plot_query_attention([1.0, np.nan], [1.0, np.nan], [0.5])
    fig.canvas.draw()
    assert [t.get_text() for t in fig.axes[2].texts] == ["1.00", ""]


def test_token_ids_may_be_any_integer_dtype() -> None:
    ax = plot_tokens(np.array([2, 0], dtype=np.uint8))
    assert [t.get_text() for t in ax.texts][::2] == ["2", "0"]


def test_bars_accept_numpy_numbers() -> None:
    ax = plot_bars({"a": np.float32(1.5), "b": np.int64(2)}, reference=np.float64(1.0))
    assert [bar.get_width() for bar in ax.patches] == [1.5, 2.0]


# --- the optional dependency ------------------------------------------------------------------


def test_missing_matplotlib_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    for name in [m for m in sys.modules if m.startswith("simple_attention.plotting")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ImportError, match=r'pip install "simple-attention\[plot\]"'):
        importlib.import_module("simple_attention.plotting")


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )


def test_the_library_does_not_import_matplotlib() -> None:
    result = run_python(
        "import sys, simple_attention; print(any(m.startswith('matplotlib') for m in sys.modules))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_the_library_works_without_matplotlib() -> None:
    result = run_python(
        "import sys; sys.modules['matplotlib'] = None\n"
        "import simple_attention as sa\n"
        "print(sa.self_attention([[1.0, 0.0], [0.0, 1.0]]).shape)\n"
        "try:\n"
        "    import simple_attention.plotting\n"
        "except ImportError as err:\n"
        "    print(err)\n"
    )
    assert result.returncode == 0, result.stderr
    shape, message = result.stdout.strip().splitlines()
    assert shape == "(2, 2)"
    assert 'pip install "simple-attention[plot]"' in message
