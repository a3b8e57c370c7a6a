"""Benchmarks of simple_attention: speed ratios measured in one run, and peak memory.

Every speed figure is a *ratio* between two implementations timed in the same run, interleaved
(A B C A B C ...) after a warm-up, with medians over the rounds: on a shared machine an absolute
time can move by 2x from one minute to the next, a ratio measured this way much less. Memory is
the peak that ``tracemalloc`` records during one call, in a fresh process per variant.

Usage::

    python benchmarks/bench_attention.py                 # full run, writes results/latest.json
    python benchmarks/bench_attention.py --quick         # small sizes: a smoke test, no file
    python benchmarks/bench_attention.py --no-torch      # leave PyTorch out even if installed

PyTorch, when installed, is the reference: its fused CPU kernel
(``torch.nn.functional.scaled_dot_product_attention`` on 4-D float32 input) with as many threads
as NumPy's BLAS. ``threadpoolctl``, when installed, reports those threads and the BLAS kernel.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import simple_attention as sa
from simple_attention.attention import blocks

HERE = Path(__file__).resolve().parent
DEFAULT_OUTPUT = HERE / "results" / "latest.json"
MiB = 2**20

# The sizes of a run: the headline shape, the sweep, the loop comparison and the memory test.
FULL = {
    "heads": 8,
    "n": 4096,
    "d": 64,
    "repeats": 9,
    "sweep_n": [256, 512, 1024, 2048],
    "sweep_repeats": 5,
    "loop_n": [16, 32, 64],
    "loop_repeats": 5,
    "memory_n": 16384,
    "layer_memory_n": 4096,
}
QUICK = {
    "heads": 2,
    "n": 256,
    "d": 16,
    "repeats": 3,
    "sweep_n": [64, 128],
    "sweep_repeats": 2,
    "loop_n": [8],
    "loop_repeats": 2,
    "memory_n": 512,
    "layer_memory_n": 256,
}
ORDER = [
    "matmul floor",
    "textbook numpy",
    "scaled_dot_product_attention",
    "chunked_attention",
    "torch fused",
]
GOALS = {
    "sdpa_vs_torch": 1.3,
    "chunked_memory_mib": 32.0,
    "loops_speedup": 100.0,
    "layer_no_weights_memory_mib": 64.0,
}


# --- the implementations being compared ------------------------------------------------------


def textbook_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, is_causal: bool) -> Any:
    """Attention as a textbook writes it: every step a new (n, n) array."""
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    if is_causal:
        scores = np.where(np.tri(q.shape[-2], k.shape[-2], dtype=bool), scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = weights / weights.sum(axis=-1, keepdims=True)
    return weights @ v


def matmul_floor(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> Callable[[], Any]:
    """The two matrix products alone, no softmax: the floor for any NumPy attention.

    They write into buffers allocated once, so that the floor measures the arithmetic only:
    mapping and freeing a fresh (n, n) array per call costs page faults, and slows down the
    function that runs next.
    """
    scores = np.empty((*q.shape[:-1], k.shape[-2]), dtype=q.dtype)
    context = np.empty((*q.shape[:-1], v.shape[-1]), dtype=q.dtype)

    def products() -> Any:
        np.matmul(q, np.swapaxes(k, -1, -2), out=scores)
        return np.matmul(scores, v, out=context)

    return products


def variants(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, is_causal: bool, torch: Any
) -> dict[str, Callable[[], Any]]:
    """The functions to time on one set of inputs, by name."""
    fns: dict[str, Callable[[], Any]] = {
        "matmul floor": matmul_floor(q, k, v),
        "textbook numpy": lambda: textbook_attention(q, k, v, is_causal),
        "scaled_dot_product_attention": lambda: sa.scaled_dot_product_attention(
            q, k, v, is_causal=is_causal
        ),
        "chunked_attention": lambda: sa.chunked_attention(q, k, v, is_causal=is_causal),
    }
    if torch is not None:
        # 4-D float32 input selects the fused CPU kernel; 3-D or float64 would not.
        tq, tk, tv = (torch.from_numpy(a)[None] for a in (q, k, v))
        fused = torch.nn.functional.scaled_dot_product_attention
        fns["torch fused"] = lambda: fused(tq, tk, tv, is_causal=is_causal)
    return fns


# --- measuring --------------------------------------------------------------------------------


def interleaved(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, list[float]]:
    """Time every function ``repeats`` times, one of each per round, after one warm-up round.

    The order rotates from round to round, so that no function always runs right after the
    same neighbour (caches, page faults and frequency changes then even out).
    """
    for fn in fns.values():
        fn()
    names = list(fns)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return times


def summarise(times: dict[str, list[float]], reference: str) -> dict[str, dict[str, Any]]:
    """Median time of each function and its ratio to ``reference`` (same run)."""
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    return {
        name: {
            "median_s": medians[name],
            "times_s": times[name],
            f"ratio_to_{reference.replace(' ', '_')}": medians[name] / medians[reference],
        }
        for name in times
    }


def random_qkv(heads: int, n: int, d: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal((heads, n, d), dtype=np.float32) for _ in range(3))


def headline(size: dict[str, Any], torch: Any) -> dict[str, Any]:
    """All variants at the headline shape, full and causal, interleaved within each."""
    h, n, d = size["heads"], size["n"], size["d"]
    q, k, v = random_qkv(h, n, d)
    flops = 4 * h * n * n * d  # the two matrix products of full attention
    out: dict[str, Any] = {"heads": h, "n": n, "d": d, "dtype": "float32", "matmul_flops": flops}
    for mode in ("full", "causal"):
        fns = variants(q, k, v, mode == "causal", torch)
        textbook = fns.pop("textbook numpy")
        result = with_torch_ratio(summarise(interleaved(fns, size["repeats"]), "matmul floor"))
        # The textbook version maps and frees half a gigabyte per call, which slows down
        # whatever runs right after it. It takes turns with the references in a round of its
        # own, and its ratios come from that round.
        references = {name: fns[name] for name in ("matmul floor", "torch fused") if name in fns}
        own_round = interleaved({"textbook numpy": textbook, **references}, size["repeats"])
        result["textbook numpy"] = with_torch_ratio(summarise(own_round, "matmul floor"))[
            "textbook numpy"
        ]
        out[mode] = {name: result[name] for name in ORDER if name in result}
    out["matmul_gflops"] = flops / out["full"]["matmul floor"]["median_s"] / 1e9
    return out


def with_torch_ratio(result: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Add each median's ratio to PyTorch's, when PyTorch took part."""
    if "torch fused" in result:
        for entry in result.values():
            entry["ratio_to_torch"] = entry["median_s"] / result["torch fused"]["median_s"]
    return result


def sweep(size: dict[str, Any], torch: Any) -> dict[str, Any]:
    """Median times against the sequence length (full attention), for a log-log plot."""
    h, d = size["heads"], size["d"]
    rows: dict[str, list[float]] = {}
    for n in size["sweep_n"]:
        times = interleaved(variants(*random_qkv(h, n, d), False, torch), size["sweep_repeats"])
        for name, ts in times.items():
            rows.setdefault(name, []).append(statistics.median(ts))
    return {"heads": h, "d": d, "n": list(size["sweep_n"]), "median_s": rows}


def loops(size: dict[str, Any]) -> dict[str, Any]:
    """The pure-Python loop version against the vectorised one (float64, d = 64)."""
    rng = np.random.default_rng(1)
    out: dict[str, Any] = {"d": 64, "dtype": "float64", "n": [], "speedup": []}
    for n in size["loop_n"]:
        x = rng.standard_normal((n, 64))
        times = interleaved(
            {
                "loops": lambda x=x: sa.self_attention_loop(x),
                "vectorised": lambda x=x: sa.self_attention(x),
            },
            size["loop_repeats"],
        )
        out["n"].append(n)
        out["speedup"].append(
            statistics.median(times["loops"]) / statistics.median(times["vectorised"])
        )
    return out


def breakdown(size: dict[str, Any]) -> dict[str, Any]:
    """Where the time of scaled_dot_product_attention goes: each step timed, summed over blocks.

    Runs the library's own blocked kernel (``blocks.attend_by_query_blocks``, what the function
    calls when the weights are not wanted) with a timer that it calls after each of its steps
    (``blocks.STEPS``); ``repeats`` runs, medians per step.
    """
    h, n, d = size["heads"], size["n"], size["d"]
    q, k, v = random_qkv(h, n, d)
    scale = 1 / math.sqrt(d)
    runs: dict[str, list[float]] = {s: [] for s in blocks.STEPS}
    for _ in range(size["repeats"] + 1):  # the first run is a warm-up
        spent = dict.fromkeys(blocks.STEPS, 0.0)
        tick = time.perf_counter()

        def lap(step: str, spent: dict[str, float] = spent) -> None:
            nonlocal tick
            now = time.perf_counter()
            spent[step] += now - tick
            tick = now

        blocks.attend_by_query_blocks(
            q, k, v, scale, None, is_causal=False, return_weights=False, timer=lap
        )
        for s in blocks.STEPS:
            runs[s].append(spent[s])
    medians = {s: statistics.median(runs[s][1:]) for s in blocks.STEPS}
    return {"heads": h, "n": n, "d": d, "median_s": medians, "total_s": sum(medians.values())}


# --- memory, one fresh process per variant ----------------------------------------------------

MEMORY_VARIANTS = ["textbook numpy", "scaled_dot_product_attention", "chunked_attention"]


def memory_child(variant: str, n: int, d: int) -> None:
    """Print the tracemalloc peak of one call, in bytes, beyond the inputs (run in a child)."""
    import tracemalloc

    q, k, v = random_qkv(1, n, d)
    fns = variants(q, k, v, False, None)
    tracemalloc.start()
    fns[variant]()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps({"variant": variant, "peak_bytes": peak}))


# A layer's forward in evaluation mode, keeping its (heads, L, L) weights for plots or not.
LAYER_VARIANTS = ["MultiHeadAttention keep_weights=True", "MultiHeadAttention keep_weights=False"]
LAYER_D_MODEL, LAYER_HEADS = 128, 2


def layer_memory_child(variant: str, n: int) -> None:
    """Print the tracemalloc peak of one layer forward on (1, n, 128) float32 (in a child)."""
    import tracemalloc

    x = np.random.default_rng(0).standard_normal((1, n, LAYER_D_MODEL)).astype(np.float32)
    keep = variant.endswith("True")
    layer = sa.MultiHeadAttention(LAYER_D_MODEL, LAYER_HEADS, keep_weights=keep, rng=0).eval()
    tracemalloc.start()
    layer(x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps({"variant": variant, "peak_bytes": peak}))


def child_peak(variant: str, n: int, d: int) -> int:
    """The peak that ``--memory-child`` measures for ``variant``, in a fresh process."""
    child = subprocess.run(
        [sys.executable, __file__, "--memory-child", variant, "--memory-n", str(n), "--d", str(d)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(json.loads(child.stdout)["peak_bytes"])


def layer_memory(size: dict[str, Any]) -> dict[str, Any]:
    n = size["layer_memory_n"]
    return {
        "shape": [1, n, LAYER_D_MODEL],
        "n_heads": LAYER_HEADS,
        "dtype": "float32",
        "weights_bytes": LAYER_HEADS * n * n * 4,
        "peak_bytes": {v: child_peak(v, n, LAYER_D_MODEL) for v in LAYER_VARIANTS},
    }


def memory(size: dict[str, Any]) -> dict[str, Any]:
    n, d = size["memory_n"], size["d"]
    peaks = {variant: child_peak(variant, n, d) for variant in MEMORY_VARIANTS}
    scores_bytes = n * n * 4
    return {
        "heads": 1,
        "n": n,
        "d": d,
        "dtype": "float32",
        "score_matrix_bytes": scores_bytes,
        "peak_bytes": peaks,
    }


# --- the machine ------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def thread_info() -> list[dict[str, Any]]:
    """The native thread pools (BLAS, OpenMP), without file paths (threadpoolctl, if any)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keep = ("user_api", "internal_api", "prefix", "version", "num_threads", "threading_layer")
    return [
        {key: pool.get(key) for key in (*keep, "architecture") if key in pool}
        for pool in threadpool_info()
    ]


def blas_threads(pools: list[dict[str, Any]]) -> int:
    """The threads of NumPy's BLAS (all cores if threadpoolctl cannot tell)."""
    for pool in pools:
        if pool.get("user_api") == "blas":
            return int(pool["num_threads"])
    return os.cpu_count() or 1


def machine(torch: Any, pools: list[dict[str, Any]]) -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "simple_attention": sa.__version__,
        "thread_pools": pools,
        "openblas_env": {
            name: os.environ.get(name) for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
        },
    }
    if torch is not None:
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    return info


def load_torch(pools: list[dict[str, Any]]) -> Any:
    try:
        import torch
    except ImportError:
        print(
            "PyTorch is not installed: the comparison with its fused kernel is skipped. "
            "Install torch==2.13.0 (CPU build) to include it, e.g. `nox -s bench -- --torch`."
        )
        return None
    torch.set_num_threads(blas_threads(pools))  # the same number of threads as NumPy's BLAS
    return torch


# --- report -----------------------------------------------------------------------------------


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    head = results["headline"]
    for mode in ("full", "causal"):
        ratio = head[mode]["scaled_dot_product_attention"].get("ratio_to_torch")
        if ratio is not None:
            limit = GOALS["sdpa_vs_torch"]
            out.append(
                {
                    "goal": f"sdpa / torch ({mode})",
                    "value": ratio,
                    "limit": limit,
                    "met": ratio <= limit,
                }
            )
    peak = results["memory"]["peak_bytes"]["chunked_attention"] / MiB
    limit = GOALS["chunked_memory_mib"]
    out.append({"goal": "chunked peak MiB", "value": peak, "limit": limit, "met": peak <= limit})
    layer_peak = results["layer_memory"]["peak_bytes"][LAYER_VARIANTS[1]] / MiB
    limit = GOALS["layer_no_weights_memory_mib"]
    out.append(
        {
            "goal": "MHA keep_weights=False peak MiB",
            "value": layer_peak,
            "limit": limit,
            "met": layer_peak <= limit,
        }
    )
    speedup = results["loops"]["speedup"][-1]
    limit = GOALS["loops_speedup"]
    out.append(
        {
            "goal": f"loops / vectorised (n={results['loops']['n'][-1]})",
            "value": speedup,
            "limit": limit,
            "met": speedup >= limit,
        }
    )
    return out


def print_report(results: dict[str, Any]) -> None:
    m = results["machine"]
    print(f"\n{m['cpu']}, {m['logical_cores']} cores, numpy {m['numpy']}")
    for pool in m["thread_pools"]:
        api, version, threads = (
            pool.get(key) for key in ("internal_api", "version", "num_threads")
        )
        print(f"  {api} {version}: {threads} threads, kernel {pool.get('architecture', '?')}")
    head = results["headline"]
    shape = f"h={head['heads']}, n={head['n']}, d={head['d']}, float32"
    print(f"\n{shape}; matmul {head['matmul_gflops']:.0f} GFLOP/s")
    for mode in ("full", "causal"):
        print(f"  {mode}:")
        for name, r in head[mode].items():
            torch_part = f"  {r['ratio_to_torch']:5.2f}x torch" if "ratio_to_torch" in r else ""
            floor = r["ratio_to_matmul_floor"]
            print(f"    {name:30s} {r['median_s'] * 1e3:9.1f} ms  {floor:5.2f}x floor{torch_part}")
    b = results["breakdown"]
    print(f"\nsteps of scaled_dot_product_attention (total {b['total_s'] * 1e3:.0f} ms):")
    for step, s in b["median_s"].items():
        print(f"    {step:16s} {s * 1e3:8.1f} ms  {s / b['total_s']:5.1%}")
    mem = results["memory"]
    print(f"\npeak extra memory, h=1, n={mem['n']}, d={mem['d']} float32:")
    for name, peak in mem["peak_bytes"].items():
        print(f"    {name:30s} {peak / MiB:9.1f} MiB")
    lm = results["layer_memory"]
    shape = "x".join(map(str, lm["shape"]))
    print(f"\npeak memory of a MultiHeadAttention forward, eval, {shape} float32:")
    for name, peak in lm["peak_bytes"].items():
        print(f"    {name:40s} {peak / MiB:9.1f} MiB")
    lp = results["loops"]
    print(
        "\nloops vs vectorised (d=64): "
        + ", ".join(f"n={n}: {s:.0f}x" for n, s in zip(lp["n"], lp["speedup"], strict=True))
    )
    print("\ngoals:")
    for g in results["goals"]:
        verdict = "met" if g["met"] else "MISSED"
        print(f"    {g['goal']:30s} {g['value']:8.2f} (limit {g['limit']}) {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--torch", action="store_true", help="require PyTorch (fail without it)")
    parser.add_argument(
        "--output",
        type=Path,
        help="results file (default: benchmarks/results/latest.json; none for --quick)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="BLAS and PyTorch threads (needs threadpoolctl; default: BLAS's)",
    )
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--memory-n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--d", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.memory_child in LAYER_VARIANTS:
        layer_memory_child(args.memory_child, args.memory_n)
        return 0
    if args.memory_child:
        memory_child(args.memory_child, args.memory_n, args.d)
        return 0

    size = QUICK if args.quick else FULL
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads, user_api="blas")
    pools = thread_info()
    torch = None if args.no_torch else load_torch(pools)
    if args.torch and torch is None:
        return 1
    started = dt.datetime.now(dt.UTC)
    results: dict[str, Any] = {
        "started_utc": started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": machine(torch, pools),
        "headline": headline(size, torch),
        "breakdown": breakdown(size),
        "sweep": sweep(size, torch),
        "loops": loops(size),
        "memory": memory(size),
        "layer_memory": layer_memory(size),
    }
    results["goals"] = goals(results)
    results["duration_s"] = (dt.datetime.now(dt.UTC) - started).total_seconds()
    print_report(results)
    output = args.output or (None if args.quick else DEFAULT_OUTPUT)
    if output is not None:
        # bench_gpt.py keeps its results under "gpt" in the same file: a run of this script
        # alone leaves them there.
        if output.is_file() and "gpt" in (previous := json.loads(output.read_text())):
            results["gpt"] = previous["gpt"]
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=1) + "\n")
        print(f"\nwritten: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
