"""The benchmark script and its figures: they run and record what they claim (never timed)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


GPT_SCRIPT = SCRIPT.parent / "bench_gpt.py"


@pytest.fixture
def bench_gpt(monkeypatch: pytest.MonkeyPatch) -> Any:
    """benchmarks/bench_gpt.py as a module, its child processes run in this one (faster)."""
    spec = importlib.util.spec_from_file_location("bench_gpt", GPT_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def run_child(*args: str) -> dict[str, Any]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert module.main(list(args)) == 0
        return dict(json.loads(out.getvalue().strip().splitlines()[-1]))

    monkeypatch.setattr(module, "run_child", run_child)
    return module


def test_quick_gpt_benchmark_records_every_figure(bench_gpt: Any, tmp_path: Path) -> None:
    output = tmp_path / "latest.json"
    output.write_text(json.dumps({"headline": {"n": 1}}))  # another benchmark's results
    with contextlib.redirect_stdout(io.StringIO()):
        assert bench_gpt.main(["--quick", "--no-torch", "--output", str(output)]) == 0
    results = json.loads(output.read_text())
    assert results["headline"] == {"n": 1}  # kept as it was
    gpt = results["gpt"]
    assert gpt["quick"] is True
    config = bench_gpt.QUICK["model"]
    for dtype in gpt["dtypes"]:
        entry = gpt["train_step"][dtype]
        assert set(entry) == {"ours"}  # no PyTorch side, no ratio
        ours = entry["ours"]
        assert len(ours["process_medians_s"]) == bench_gpt.QUICK["pairs"]
        assert ours["median_s"] > 0
        # Random ids from a model that barely departs from uniform: about log(vocab) nats.
        assert abs(ours["first_loss"] - np.log(config["vocab_size"])) < 0.5
    per_token = gpt["generation"]["per_token"]
    assert per_token["n"] == bench_gpt.QUICK["gen_n"]
    assert len(per_token["cached_s"]) == len(per_token["uncached_s"]) == len(per_token["n"])
    assert set(per_token["growth_exponent"]) == {"cached", "uncached"}
    totals = gpt["generation"]["totals"]
    assert [r["n"] for r in totals["cached"]] == bench_gpt.QUICK["gen_total_cached_n"]
    memory = gpt["memory"]
    # Keys and values of every position, float32: 2 x d_model x 4 bytes per position and layer.
    per_position = 2 * config["d_model"] * 4
    assert memory["cache_bytes_per_position"] == [per_position] * len(memory["n"])
    assert all(
        peak > 0 for variant in ("cached", "uncached") for peak in memory["peak_bytes"][variant]
    )
    assert gpt["goals"] == []  # the only goal is the ratio to PyTorch


def test_profile_of_our_training_step(bench_gpt: Any) -> None:
    """The cProfile breakdown that a missed goal adds: top functions by their own time."""
    child = bench_gpt.run_child(
        "--train-child", "ours", "--dtype", "float64", "--quick", "--profile"
    )
    assert child["dtype"] == "float64"
    profile = child["profile"]
    assert 0 < len(profile["top"]) <= bench_gpt.PROFILE_TOP
    own = [row["tottime_per_step_s"] for row in profile["top"]]
    assert own == sorted(own, reverse=True)
    # Labels name the package module, never the folders above it.
    assert all(not row["function"].startswith("/") for row in profile["top"])
    assert any("simple_attention/" in row["function"] for row in profile["top"])


def test_pair_ratios_with_a_stand_in_for_pytorch(
    bench_gpt: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ratio is the median of the per-pair ratios, the spread their range, the goal checked."""
    medians = iter([3.0, 1.0, 2.0, 1.0, 9.0, 1.0])  # ours, torch, ours, torch, ...
    torch_offset = 0.0

    def fake_child(*args: str) -> dict[str, Any]:
        side = args[1]
        if "--profile" in args:
            return {"profile": {"top": []}}
        loss = 4.0 + (side == "torch") * torch_offset
        out = {"median_s": next(medians), "first_loss": loss, "thread_pools": []}
        return {**out, "torch_threads": 1} if side == "torch" else out

    monkeypatch.setattr(bench_gpt, "run_child", fake_child)
    size = {**bench_gpt.QUICK, "pairs": 3, "dtypes": ["float32"]}
    result = bench_gpt.train_step(size, True, 1, with_torch=True)
    entry = result["float32"]
    assert entry["pair_ratios"] == [3.0, 2.0, 9.0]
    assert entry["ratio_to_torch"] == 3.0
    assert entry["ratio_spread"] == [2.0, 9.0]
    assert entry["first_loss_difference"] == 0.0
    assert entry["ours_profile"] == {"top": []}  # 3x misses the 1.5x goal: profiled
    goals = bench_gpt.goals({"train_step": result})
    assert goals == [
        {"goal": "train step / torch (float32)", "value": 3.0, "limit": 1.5, "met": False}
    ]
    # Two models that compute different functions: their times are not compared.
    torch_offset = 1e-3
    medians = iter([1.0] * 6)
    with pytest.raises(RuntimeError, match="do not compute the same function"):
        bench_gpt.train_step(size, True, 1, with_torch=True)
