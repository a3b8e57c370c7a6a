"""The benchmark script and its figures: they run and record what they claim (never timed)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from simple_attention.attention import blocks  # noqa: E402
from simple_attention.plotting import plot_bars  # noqa: E402

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_attention.py"


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


class TestPlotBars:
    def test_one_bar_per_label_top_to_bottom(self) -> None:
        ax = plot_bars({"a": 3.0, "b": 1.0, "c": 2.0}, xlabel="ratio", title="t")
        widths = [bar.get_width() for bar in ax.patches]
        heights = [bar.get_y() for bar in ax.patches]
        assert widths == [3.0, 1.0, 2.0]
        assert heights == sorted(heights, reverse=True)  # first label on top
        assert [t.get_text() for t in ax.texts] == [" 3.00", " 1.00", " 2.00"]
        assert ax.get_xlabel() == "ratio"
        assert ax.get_title() == "t"

    def test_reference_line_and_log_axis(self) -> None:
        ax = plot_bars(
            {"big": 3072.0, "small": 10.0},
            reference=32.0,
            reference_label="goal",
            fmt="{:.0f} MiB",
            log=True,
        )
        assert ax.get_xscale() == "log"
        assert [line.get_label() for line in ax.lines] == ["goal"]
        assert ax.lines[0].get_xdata()[0] == 32.0
        assert ax.texts[0].get_text() == " 3072 MiB"

    @pytest.mark.parametrize("bad", [np.nan, -1.0, np.inf])
    def test_bad_values_raise(self, bad: float) -> None:
        with pytest.raises(ValueError, match="finite and non-negative"):
            plot_bars({"a": bad})

    def test_zero_is_refused_on_a_log_axis(self) -> None:
        with pytest.raises(ValueError, match="positive on a logarithmic axis"):
            plot_bars({"a": 0.0}, log=True)


def test_quick_benchmark_runs_and_records_everything(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--no-torch", "--output", str(output)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    results = json.loads(output.read_text())
    assert results["quick"] is True
    assert {"cpu", "logical_cores", "numpy", "thread_pools"} <= set(results["machine"])
    for mode in ("full", "causal"):
        names = set(results["headline"][mode])
        assert names == {
            "matmul floor",
            "textbook numpy",
            "scaled_dot_product_attention",
            "chunked_attention",
        }
        for entry in results["headline"][mode].values():
            assert len(entry["times_s"]) == 3
            assert entry["median_s"] > 0
    # The steps are those the kernel reports to its timer, not a copy of them.
    assert list(results["breakdown"]["median_s"]) == list(blocks.STEPS)
    memory = results["memory"]
    assert set(memory["peak_bytes"]) == {
        "textbook numpy",
        "scaled_dot_product_attention",
        "chunked_attention",
    }
    # The textbook version holds several (n, n) float32 arrays; the chunked one never one.
    assert memory["peak_bytes"]["textbook numpy"] > 2 * memory["score_matrix_bytes"]
    assert memory["peak_bytes"]["chunked_attention"] < memory["score_matrix_bytes"]
    # The layer's peaks come from fresh processes too; tests/layers checks the memory they save
    # at a size where the weights dominate.
    layer = results["layer_memory"]
    assert set(layer["peak_bytes"]) == {
        "MultiHeadAttention keep_weights=True",
        "MultiHeadAttention keep_weights=False",
    }
    assert all(peak > 0 for peak in layer["peak_bytes"].values())
    assert [g["goal"] for g in results["goals"]][-3:] == [
        "chunked peak MiB",
        "MHA keep_weights=False peak MiB",
        "loops / vectorised (n=8)",
    ]
