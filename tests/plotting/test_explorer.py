"""Tests of simple_attention.plotting.attention_explorer: the data the site's explorer draws."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from simple_attention import TinyGPT  # noqa: E402
from simple_attention.plotting import AttentionExplorer, attention_explorer  # noqa: E402


@pytest.fixture(scope="module")
def model_weights() -> tuple[list[str], tuple[np.ndarray, ...]]:
    model = TinyGPT(vocab_size=7, max_len=8, d_model=8, n_heads=2, n_layers=3, rng=0)
    model(np.array([0, 1, 2, 3, 4, 5]))
    return list("abcdef"), tuple(w.copy() for w in model.attention_weights)


def payload(view: AttentionExplorer) -> dict:  # type: ignore[type-arg]
    """The JSON exactly as the page holds it, read back."""
    found = re.search(r'class="sa-explorer-data">(.*?)</script>', view._repr_html_(), re.S)
    assert found is not None
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def test_data_holds_every_layer_and_head_rounded_to_thousandths(model_weights) -> None:  # type: ignore[no-untyped-def]
    tokens, weights = model_weights
    view = attention_explorer(tokens, weights, prompt_length=2)
    data = payload(view)
    assert data == view.data
    assert (data["layers"], data["heads"], data["prompt"]) == (3, 2, 2)
    assert data["tokens"] == tokens
    for b in range(3):
        for h in range(2):
            for i in range(6):
                row = np.array(data["weights"][b][h][i]) / data["scale"]
                assert len(row) == i + 1  # causal: only the keys the query may see
                np.testing.assert_allclose(row, weights[b][h, i, : i + 1], atol=5e-4)


def test_without_prompt_there_are_no_steps(model_weights) -> None:  # type: ignore[no-untyped-def]
    tokens, weights = model_weights
    assert attention_explorer(tokens, weights).data["prompt"] == len(tokens)


def test_non_causal_weights_keep_whole_rows() -> None:
    weights = [np.full((1, 3, 3), 1 / 3)]
    data = attention_explorer(["x", "y", "z"], weights).data
    assert data["weights"][0][0] == [[333, 333, 333]] * 3


def test_tokens_cannot_close_the_script_element() -> None:
    tokens = ["</script>", "<!--", "&"]
    view = attention_explorer(tokens, [np.tril(np.full((1, 3, 3), 0.5))])
    page = view._repr_html_()
    assert page.count("</script>") == 1
    assert "<!--" not in page
    assert payload(view)["tokens"] == tokens


def test_fallback_is_an_svg_heatmap_and_no_figure_is_left_open(model_weights) -> None:  # type: ignore[no-untyped-def]
    tokens, weights = model_weights
    before = plt.get_fignums()
    page = attention_explorer(tokens, weights)._repr_html_()
    assert plt.get_fignums() == before
    encoded = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', page)
    assert encoded is not None
    svg = base64.b64decode(encoded.group(1)).decode()
    assert svg.lstrip().startswith("<?xml")
    assert "<svg" in svg
    assert "block 2, head 1" in svg  # one panel per block (layer) and head


def test_repr_is_short(model_weights) -> None:  # type: ignore[no-untyped-def]
    tokens, weights = model_weights
    assert repr(attention_explorer(tokens, weights, prompt_length=3)) == (
        "AttentionExplorer(6 tokens, 3 layers, 2 heads, prompt of 3)"
    )


@pytest.mark.parametrize(
    ("tokens", "weights", "kwargs", "error", "match"),
    [
        ("abc", [np.eye(3)[None]], {}, TypeError, "tokens"),
        ([1, 2, 3], [np.eye(3)[None]], {}, TypeError, "tokens"),
        ([], [np.zeros((1, 0, 0))], {}, ValueError, "tokens"),
        (list("abc"), 5, {}, TypeError, "weights"),
        (list("abc"), [], {}, ValueError, "weights"),
        (list("abc"), [np.eye(3)], {}, ValueError, r"weights\[0\]"),
        (list("abc"), [np.eye(4)[None]], {}, ValueError, "n = 3"),
        (list("abc"), [np.eye(3)[None].astype(bool)], {}, TypeError, r"weights\[0\]"),
        (list("abc"), [np.eye(3)[None], np.ones((2, 3, 3)) / 3], {}, ValueError, "heads"),
        (list("abc"), [np.eye(3)[None] * np.nan], {}, ValueError, r"\[0, 1\]"),
        (list("abc"), [np.eye(3)[None] * 2], {}, ValueError, r"\[0, 1\]"),
        (list("abc"), [np.eye(3)[None]], {"prompt_length": 0}, ValueError, "prompt_length"),
        (list("abc"), [np.eye(3)[None]], {"prompt_length": 4}, ValueError, "prompt_length"),
        (list("abc"), [np.eye(3)[None]], {"prompt_length": 1.0}, TypeError, "prompt_length"),
        (list("abc"), [np.ones((1, 3, 3)) / 3], {"prompt_length": 1}, ValueError, "causal"),
        (list("abc"), [np.eye(3)[None]], {"title": 3}, TypeError, "title"),
    ],
)
def test_bad_arguments_name_the_argument_and_draw_nothing(  # type: ignore[no-untyped-def]
    tokens, weights, kwargs, error, match
) -> None:
    before = plt.get_fignums()
    with pytest.raises(error, match=match):
        attention_explorer(tokens, weights, **kwargs)
    assert plt.get_fignums() == before
