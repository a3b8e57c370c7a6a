"""Benchmarks of simple_attention: speed ratios measured in one run, and peak memory.

Every speed figure is a *ratio* between two implementations timed in the same run: on a shared
machine an absolute time can move by 2x from one minute to the next, a ratio measured this way
much less. The method:

* **each implementation in a process of its own**, one process per implementation and round,
  the processes taking turns (A B C A B C ...) and the order rotating from round to round. Two
  libraries with their own thread pools must not take turns inside one process: after a call,
  the threads of NumPy's BLAS and those of PyTorch's OpenMP keep spinning for a while, and
  whichever side runs next loses cores;
* each process builds the inputs (seed 0), warms up, times every case several times and reports
  the median of each case;
* a ratio is the **median of the per-round ratios** of those medians; their range (min, max) is
  recorded too, and the spread of each implementation's process medians (max / min - 1).

A single measurement keeps the old method on purpose, as the lesson: ``"interleaved"`` calls our
``scaled_dot_product_attention`` and PyTorch's fused kernel alternately in one process, so that
the two methods can be compared on figures taken in the same run. No other figure uses it.

The per-step breakdown of our kernel and the loop comparison run in this process (ours only).
Memory is the peak that ``tracemalloc`` records during one call, in a fresh process per variant.

Usage::

    python benchmarks/bench_attention.py                 # full run, writes results/latest.json
    python benchmarks/bench_attention.py --quick         # small sizes: a smoke test, no file
    python benchmarks/bench_attention.py --no-torch      # leave PyTorch out even if installed
    python benchmarks/bench_attention.py --threads 1     # BLAS and PyTorch on one thread

PyTorch, when installed, is the reference: ``torch.nn.functional.scaled_dot_product_attention``
on 4-D input ``(1, h, n, d)`` (the shape that selects its fused CPU kernel), with as many threads
as NumPy's BLAS. ``threadpoolctl``, when installed, reports those threads and the BLAS kernel,
and lets ``--threads`` set them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import simple_attention as sa
from simple_attention.attention import blocks

HERE = Path(__file__).resolve().parent
DEFAULT_OUTPUT = HERE / "results" / "latest.json"
MiB = 2**20

# The sizes of a run. "rounds" processes per implementation; in each, "warmup" calls and then
# "repeats" timed calls per case, or "small_repeats" for cases of at most "small_n" tokens
# (calls of a few milliseconds, whose medians need more of them).
FULL: dict[str, Any] = {
    "heads": 8,
    "n": 4096,
    "d": 64,
    "rounds": 5,
    "warmup": 1,
    "repeats": 5,
    "small_n": 1024,
    "small_repeats": 15,
    "sweep_n": [256, 512, 1024, 2048],
    "sizes_n": [256, 1024],
    "float64_n": 1024,
    "backward_n": 2048,
    "interleaved_repeats": 5,
    "breakdown_repeats": 5,
    "loop_n": [16, 32, 64],
    "loop_repeats": 5,
    "memory_n": 16384,
    "layer_memory_n": 4096,
}
QUICK: dict[str, Any] = {
    "heads": 2,
    "n": 256,
    "d": 16,
    "rounds": 3,
    "warmup": 1,
    "repeats": 2,
    "small_n": 0,
    "small_repeats": 2,
    "sweep_n": [64, 128],
    "sizes_n": [64, 128],
    "float64_n": 128,
    "backward_n": 128,
    "interleaved_repeats": 2,
    "breakdown_repeats": 2,
    "loop_n": [8],
    "loop_repeats": 2,
    "memory_n": 1024,  # two threads hold two 256 x 256 blocks: half of a 512 x 512 matrix
    "layer_memory_n": 256,
}
FLOOR, TEXTBOOK, SDPA, CHUNKED, TORCH = (
    "matmul floor",
    "textbook numpy",
    "scaled_dot_product_attention",
    "chunked_attention",
    "torch fused",
)
ORDER = [FLOOR, TEXTBOOK, SDPA, CHUNKED, TORCH]
PAIR = [SDPA, TORCH]  # the cases that compare the library with PyTorch alone
GOALS = {
    "sdpa_vs_torch_full": 1.20,
    "sdpa_vs_torch_causal": 1.20,
    "backward_vs_torch": 1.5,
    "chunked_vs_torch_full": 1.4,
    "sdpa_spread": 0.15,
    "chunked_memory_mib": 32.0,
    "loops_speedup": 100.0,
    "layer_no_weights_memory_mib": 64.0,
}
# How far the outputs' checksums of two implementations of one case may differ, relatively.
CHECKSUM_TOLERANCE = {"float32": 1e-4, "float64": 1e-9}


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
    mapping and freeing a fresh (n, n) array per call costs page faults.
    """
    scores = np.empty((*q.shape[:-1], k.shape[-2]), dtype=q.dtype)
    context = np.empty((*q.shape[:-1], v.shape[-1]), dtype=q.dtype)

    def products() -> Any:
        np.matmul(q, np.swapaxes(k, -1, -2), out=scores)
        return np.matmul(scores, v, out=context)

    return products


def numpy_variants(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, is_causal: bool
) -> dict[str, Callable[[], Any]]:
    """The NumPy functions to time on one set of inputs, by name."""
    return {
        FLOOR: matmul_floor(q, k, v),
        TEXTBOOK: lambda: textbook_attention(q, k, v, is_causal),
        SDPA: lambda: sa.scaled_dot_product_attention(q, k, v, is_causal=is_causal),
        CHUNKED: lambda: sa.chunked_attention(q, k, v, is_causal=is_causal),
    }


def random_qkv(
    heads: int, n: int, d: int, seed: int = 0, dtype: Any = np.float32
) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal((heads, n, d), dtype=dtype) for _ in range(3))


# --- the cases: one shape, dtype and mask each, and the implementations that time it ---------


def case_id(kind: str, dtype: str, heads: int, n: int, d: int, causal: bool) -> str:
    return f"{kind} {dtype} h={heads} n={n} d={d} {'causal' if causal else 'full'}"


def all_cases(size: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every case of a run, by id, in the order a process times them; each shape once.

    The headline shape (full and causal) and the sweep take every implementation; the other
    sizes, float64, and forward + backward compare the library with PyTorch.
    """
    h, d = size["heads"], size["d"]
    cases: dict[str, dict[str, Any]] = {}

    def add(
        n: int, causal: bool, names: Sequence[str], dtype: str = "float32", kind: str = "forward"
    ) -> None:
        key = case_id(kind, dtype, h, n, d, causal)
        case = cases.setdefault(
            key,
            {"id": key, "kind": kind, "dtype": dtype, "heads": h, "n": n, "d": d}
            | {"causal": causal, "variants": []},
        )
        case["variants"] += [name for name in names if name not in case["variants"]]

    for causal in (False, True):
        add(size["n"], causal, ORDER)
    for n in size["sweep_n"]:
        add(n, False, ORDER)
    for n in size["sizes_n"]:
        for causal in (False, True):
            add(n, causal, PAIR)
    add(size["float64_n"], False, PAIR, dtype="float64")
    add(size["backward_n"], False, PAIR, kind="forward+backward")
    return cases


def case_call(variant: str, case: dict[str, Any], torch: Any) -> Callable[[], Sequence[Any]]:
    """A function running ``variant`` once on ``case``, returning its output arrays."""
    dtype = np.dtype(case["dtype"])
    causal = case["causal"]
    q, k, v = random_qkv(case["heads"], case["n"], case["d"], dtype=dtype)
    sdpa: Any = None if torch is None else torch.nn.functional.scaled_dot_product_attention
    if case["kind"] == "forward+backward":
        grad = np.random.default_rng(1).standard_normal(q.shape, dtype=dtype)
        if variant == SDPA:

            def ours() -> Sequence[Any]:
                _, weights = sa.scaled_dot_product_attention(
                    q, k, v, is_causal=causal, return_weights=True
                )
                return sa.scaled_dot_product_attention_backward(grad, q, k, v, weights)

            return ours
        if variant == TORCH:
            leaves = [torch.from_numpy(a[None]).requires_grad_() for a in (q, k, v)]
            tgrad = torch.from_numpy(grad[None])

            def theirs() -> Sequence[Any]:
                for leaf in leaves:
                    leaf.grad = None  # a fresh gradient per call, not one accumulated
                sdpa(*leaves, is_causal=causal).backward(tgrad)
                return [leaf.grad for leaf in leaves]

            return theirs
        raise ValueError(f"no forward + backward for {variant!r}")
    if variant == TORCH:
        # 4-D input (1, h, n, d): with 3-D input PyTorch takes its slow "math" path.
        tq, tk, tv = (torch.from_numpy(a[None]) for a in (q, k, v))
        return lambda: [sdpa(tq, tk, tv, is_causal=causal)]
    fn = numpy_variants(q, k, v, causal)[variant]
    return lambda: [fn()]


def torch_backend(torch: Any, case: dict[str, Any]) -> str:
    """The kernel PyTorch's dispatcher picks for ``case`` (its private query, if it has one)."""
    try:
        from torch.nn.attention import SDPBackend

        shape = (1, case["heads"], case["n"], case["d"])
        t = torch.zeros(shape, dtype=getattr(torch, case["dtype"]))
        t.requires_grad_(case["kind"] == "forward+backward")
        return str(SDPBackend(torch._fused_sdp_choice(t, t, t, is_causal=case["causal"])).name)
    except (ImportError, AttributeError, RuntimeError, ValueError):
        return "unknown"


def checksum(arrays: Sequence[Any]) -> float:
    """The sum of the absolute values of every output, in float64: equal if the outputs are."""
    total = 0.0
    for a in arrays:
        if hasattr(a, "detach"):  # a PyTorch tensor
            a = a.detach().numpy()
        total += float(np.abs(np.asarray(a, dtype=np.float64)).sum())
    return total


def set_threads(threads: int, torch: Any = None) -> None:
    """Hold NumPy's BLAS (and PyTorch) to ``threads`` threads (BLAS needs threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        threadpool_limits(threads, user_api="blas")
    if torch is not None:
        torch.set_num_threads(threads)


def time_child(variant: str, quick: bool, threads: int | None) -> None:
    """Time every case of ``variant`` and print the medians as one JSON line (in a child)."""
    size = QUICK if quick else FULL
    torch: Any = None
    if variant == TORCH:
        import torch
    if threads is not None:
        set_threads(threads, torch)
    out: dict[str, Any] = {"variant": variant, "cases": {}}
    for key, case in all_cases(size).items():
        if variant not in case["variants"]:
            continue
        call = case_call(variant, case, torch)
        for _ in range(size["warmup"]):
            call()
        repeats = size["small_repeats"] if case["n"] <= size["small_n"] else size["repeats"]
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            result = call()
            times.append(time.perf_counter() - start)
        entry: dict[str, Any] = {"median_s": statistics.median(times), "times_s": times}
        # The floor computes something else than attention: no output to compare.
        entry["checksum"] = None if variant == FLOOR else checksum(result)
        if torch is not None:
            entry["torch_backend"] = torch_backend(torch, case)
        out["cases"][key] = entry
        # Free this case's inputs and outputs before the next case allocates its own.
        del call, result
    out["thread_pools"] = thread_info()
    if torch is not None:
        out["torch_threads"] = torch.get_num_threads()
    print(json.dumps(out))


def interleaved(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, list[float]]:
    """Time every function ``repeats`` times, one of each per round, after one warm-up round.

    The order rotates from round to round, so that no function always runs right after the
    same neighbour.
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


def interleaved_child(quick: bool, threads: int | None) -> None:
    """The old method, kept as the lesson: ours and PyTorch's calls alternating in one process."""
    import torch

    size = QUICK if quick else FULL
    if threads is not None:
        set_threads(threads, torch)
    q, k, v = random_qkv(size["heads"], size["n"], size["d"])
    tq, tk, tv = (torch.from_numpy(a[None]) for a in (q, k, v))
    fused = torch.nn.functional.scaled_dot_product_attention
    fns = {
        SDPA: lambda: sa.scaled_dot_product_attention(q, k, v),
        TORCH: lambda: fused(tq, tk, tv),
    }
    times = interleaved(fns, size["interleaved_repeats"])
    print(json.dumps({"times_s": times, "torch_threads": torch.get_num_threads()}))


# --- the rounds of processes and their summaries ---------------------------------------------


def run_script(script: str, *args: str) -> dict[str, Any]:
    """Run ``script`` with ``args`` in a fresh Python process; its last line of output as JSON."""
    child = subprocess.run(
        [sys.executable, script, *args], capture_output=True, text=True, check=False
    )
    if child.returncode != 0:
        raise RuntimeError(f"benchmark child {args} failed:\n{child.stderr}")
    return dict(json.loads(child.stdout.strip().splitlines()[-1]))


def run_child(*args: str) -> dict[str, Any]:
    """This script as a child process (``--time-child``, ``--interleaved-child``, ...)."""
    return run_script(__file__, *args)


def time_rounds(
    size: dict[str, Any], quick: bool, threads: int, names: list[str]
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """``rounds`` rounds of one process per implementation, the order rotating per round.

    Returns each round's child reports by implementation, and for each case the largest
    relative difference between the checksums of two implementations' outputs.
    """
    cases = all_cases(size)
    flags = ["--threads", str(threads)] + (["--quick"] if quick else [])
    rounds: list[dict[str, Any]] = []
    agreement = dict.fromkeys(cases, 0.0)
    started = time.perf_counter()
    for r in range(size["rounds"]):
        order = names[r % len(names) :] + names[: r % len(names)]
        runs = {name: run_child("--time-child", name, *flags) for name in order}
        for key, case in cases.items():
            sums = {
                name: runs[name]["cases"][key]["checksum"]
                for name in case["variants"]
                if name in runs and name != FLOOR
            }
            reference = sums[SDPA]
            for name, value in sums.items():
                difference = abs(value - reference) / abs(reference)
                if difference > CHECKSUM_TOLERANCE[case["dtype"]]:
                    raise RuntimeError(
                        f"{key}: {name} and {SDPA} do not compute the same outputs "
                        f"(checksums {value} and {reference}): their times are not comparable"
                    )
                agreement[key] = max(agreement[key], difference)
        rounds.append(runs)
        elapsed = time.perf_counter() - started
        print(f"round {r + 1}/{size['rounds']} done, {elapsed:.0f} s", file=sys.stderr)
    return rounds, agreement


def ratio_key(reference: str) -> str:
    return "torch" if reference == TORCH else reference.replace(" ", "_")


def summarise(
    rounds: list[dict[str, Any]],
    case: dict[str, Any],
    references: Sequence[str],
    names: Sequence[str] = ORDER,
) -> dict[str, dict[str, Any]]:
    """Each implementation's figures on one case, from every round's processes.

    ``median_s`` is the median of the process medians, ``spread`` their max / min - 1; each
    ratio to a reference is the median of the per-round ratios, with their range.
    """
    present = [n for n in names if n in case["variants"] and n in rounds[0]]
    out: dict[str, dict[str, Any]] = {}
    for name in present:
        runs = [rnd[name]["cases"][case["id"]] for rnd in rounds]
        medians = [run["median_s"] for run in runs]
        entry: dict[str, Any] = {
            "median_s": statistics.median(medians),
            "process_medians_s": medians,
            "spread": max(medians) / min(medians) - 1,
            "times_s": [run["times_s"] for run in runs],
        }
        for reference in references:
            if reference not in case["variants"] or reference not in rounds[0]:
                continue
            ratios = [
                rnd[name]["cases"][case["id"]]["median_s"]
                / rnd[reference]["cases"][case["id"]]["median_s"]
                for rnd in rounds
            ]
            key = ratio_key(reference)
            entry[f"ratio_to_{key}"] = statistics.median(ratios)
            entry[f"pair_ratios_to_{key}"] = ratios
            entry[f"ratio_to_{key}_range"] = [min(ratios), max(ratios)]
        if "torch_backend" in runs[0]:
            entry["torch_backend"] = runs[0]["torch_backend"]
        out[name] = entry
    return out


def headline(
    size: dict[str, Any], cases: dict[str, Any], rounds: list[dict[str, Any]]
) -> dict[str, Any]:
    """Every implementation at the headline shape, full and causal."""
    h, n, d = size["heads"], size["n"], size["d"]
    flops = 4 * h * n * n * d  # the two matrix products of full attention
    out: dict[str, Any] = {"heads": h, "n": n, "d": d, "dtype": "float32", "matmul_flops": flops}
    for mode in ("full", "causal"):
        case = cases[case_id("forward", "float32", h, n, d, mode == "causal")]
        out[mode] = summarise(rounds, case, (FLOOR, TORCH))
    out["matmul_gflops"] = flops / out["full"][FLOOR]["median_s"] / 1e9
    return out


def sweep(
    size: dict[str, Any], cases: dict[str, Any], rounds: list[dict[str, Any]]
) -> dict[str, Any]:
    """Median times against the sequence length (full attention), for a log-log plot."""
    h, d = size["heads"], size["d"]
    rows: dict[str, list[float]] = {}
    spreads: dict[str, list[float]] = {}
    for n in size["sweep_n"]:
        summary = summarise(rounds, cases[case_id("forward", "float32", h, n, d, False)], ())
        for name, entry in summary.items():
            rows.setdefault(name, []).append(entry["median_s"])
            spreads.setdefault(name, []).append(entry["spread"])
    return {"heads": h, "d": d, "n": list(size["sweep_n"]), "median_s": rows, "spread": spreads}


def sizes(
    size: dict[str, Any], cases: dict[str, Any], rounds: list[dict[str, Any]]
) -> dict[str, Any]:
    """The library against PyTorch at smaller sizes, full and causal (lists follow ``n``)."""
    h, d = size["heads"], size["d"]
    out: dict[str, Any] = {"heads": h, "d": d, "dtype": "float32", "n": list(size["sizes_n"])}
    for mode in ("full", "causal"):
        out[mode] = [
            summarise(
                rounds,
                cases[case_id("forward", "float32", h, n, d, mode == "causal")],
                (TORCH,),
                names=PAIR,
            )
            for n in size["sizes_n"]
        ]
    return out


def one_case(rounds: list[dict[str, Any]], case: dict[str, Any]) -> dict[str, Any]:
    """The library against PyTorch on one case, the ratio also at the top level."""
    summary = summarise(rounds, case, (TORCH,), names=PAIR)
    out: dict[str, Any] = {
        key: case[key] for key in ("kind", "dtype", "heads", "n", "d", "causal")
    } | {"variants": summary}
    if TORCH in summary:
        out["torch_backend"] = summary[TORCH]["torch_backend"]
        for key in ("ratio_to_torch", "pair_ratios_to_torch", "ratio_to_torch_range"):
            out[key] = summary[SDPA][key]
    return out


def interleaved_summary(
    size: dict[str, Any], threads: int, quick: bool, head: dict[str, Any]
) -> dict[str, Any]:
    """Ours and PyTorch's fused kernel taking turns in one process (the method not to use)."""
    flags = ["--threads", str(threads)] + (["--quick"] if quick else [])
    times = run_child("--interleaved-child", *flags)["times_s"]
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    return {
        "heads": size["heads"],
        "n": size["n"],
        "d": size["d"],
        "dtype": "float32",
        "mode": "full",
        "repeats": size["interleaved_repeats"],
        **{name: {"median_s": medians[name], "times_s": times[name]} for name in times},
        "ratio_to_torch": medians[SDPA] / medians[TORCH],
        # The same shape measured in separate processes in this run, for the comparison.
        "separate_processes_ratio_to_torch": head["full"][SDPA]["ratio_to_torch"],
        "separate_processes_ratio_to_torch_range": head["full"][SDPA]["ratio_to_torch_range"],
    }


def method(size: dict[str, Any], threads: int, names: list[str]) -> dict[str, Any]:
    return {
        "timing": "separate processes, alternating",
        "implementations": names,
        "rounds": size["rounds"],
        "order": "one process per implementation and round, the order rotating per round",
        "warmup": size["warmup"],
        "repeats": size["repeats"],
        "small_n": size["small_n"],
        "small_repeats": size["small_repeats"],
        "median_s": "median of the process medians",
        "ratio": "median of the per-round ratios of the process medians",
        "spread": "max / min - 1 of the process medians",
        "threads": threads,
        "in_one_process": ["breakdown", "loops", "interleaved"],
    }


# --- measured in this process: ours only ------------------------------------------------------


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
    (``blocks.STEPS``); ``breakdown_repeats`` runs after a warm-up, medians per step.
    """
    h, n, d = size["heads"], size["n"], size["d"]
    q, k, v = random_qkv(h, n, d)
    scale = 1 / math.sqrt(d)
    runs: dict[str, list[float]] = {s: [] for s in blocks.STEPS}
    for _ in range(size["breakdown_repeats"] + 1):  # the first run is a warm-up
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

MEMORY_VARIANTS = [TEXTBOOK, SDPA, CHUNKED]


def memory_child(variant: str, n: int, d: int) -> None:
    """Print the tracemalloc peak of one call, in bytes, beyond the inputs (run in a child).

    The call measured is the second: the first imports what the kernels load on first use and
    starts their threads, allocations that belong to the process rather than to a call.
    """
    import tracemalloc

    q, k, v = random_qkv(1, n, d)
    fns = numpy_variants(q, k, v, False)
    fns[variant]()
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
    layer(x)  # the second call is measured, as in memory_child
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


def machine(with_torch: bool, pools: list[dict[str, Any]]) -> dict[str, Any]:
    """This process's machine, versions and pools (PyTorch's threads come from its processes)."""
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
    if with_torch:
        # Its version only: importing it here would start its thread pool in this process.
        info["torch"] = importlib.metadata.version("torch")
    return info


def has_torch() -> bool:
    return importlib.util.find_spec("torch") is not None


# --- report -----------------------------------------------------------------------------------


def ratio_goal(name: str, entry: dict[str, Any] | None, limit: float) -> list[dict[str, Any]]:
    """A goal on an entry's ratio to PyTorch, if PyTorch took part."""
    if entry is None or "ratio_to_torch" not in entry:
        return []
    ratio = entry["ratio_to_torch"]
    return [
        {
            "goal": name,
            "value": ratio,
            "limit": limit,
            "met": ratio <= limit,
            "range": entry["ratio_to_torch_range"],
        }
    ]


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    head, back = results["headline"], results["backward"]
    n = head["n"]
    out = ratio_goal(
        f"sdpa / torch (full, n={n})", head["full"].get(SDPA), GOALS["sdpa_vs_torch_full"]
    )
    out += ratio_goal(
        f"sdpa / torch (causal, n={n})", head["causal"].get(SDPA), GOALS["sdpa_vs_torch_causal"]
    )
    out += ratio_goal(f"fwd+bwd / torch (n={back['n']})", back, GOALS["backward_vs_torch"])
    out += ratio_goal(
        f"chunked / torch (full, n={n})", head["full"].get(CHUNKED), GOALS["chunked_vs_torch_full"]
    )
    spread = head["full"][SDPA]["spread"]
    limit = GOALS["sdpa_spread"]
    out.append(
        {
            "goal": f"sdpa spread (full, n={n})",
            "value": spread,
            "limit": limit,
            "met": spread <= limit,
        }
    )
    peak = results["memory"]["peak_bytes"][CHUNKED] / MiB
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


def ratio_text(entry: dict[str, Any], key: str, label: str) -> str:
    """``1.23x label [1.10-1.40]``: the median per-round ratio and the range of them."""
    if f"ratio_to_{key}" not in entry:
        return ""
    low, high = entry[f"ratio_to_{key}_range"]
    return f"  {entry[f'ratio_to_{key}']:5.2f}x {label} [{low:.2f}-{high:.2f}]"


def entry_line(name: str, entry: dict[str, Any]) -> str:
    medians = entry["process_medians_s"]
    return (
        f"    {name:30s} {entry['median_s'] * 1e3:9.2f} ms"
        f" (processes {min(medians) * 1e3:.2f}-{max(medians) * 1e3:.2f}, "
        f"spread {entry['spread']:5.1%})"
        + ratio_text(entry, "matmul_floor", "floor")
        + ratio_text(entry, "torch", "torch")
    )


def print_report(results: dict[str, Any]) -> None:
    m = results["machine"]
    print(f"\n{m['cpu']}, {m['logical_cores']} cores, numpy {m['numpy']}")
    for pool in m["thread_pools"]:
        api, version, threads = (
            pool.get(key) for key in ("internal_api", "version", "num_threads")
        )
        print(f"  {api} {version}: {threads} threads, kernel {pool.get('architecture', '?')}")
    if "torch" in m:
        print(f"  torch {m['torch']}: {m.get('torch_threads', '?')} threads")
    me = results["method"]
    small = f" ({me['small_repeats']} up to n={me['small_n']})" if me["small_n"] else ""
    print(
        f"\n{me['timing']}: {me['rounds']} rounds, {me['warmup']} warm-up and {me['repeats']} "
        f"timed calls per case{small}, {me['threads']} threads; "
        "ratio = median of the per-round ratios [their range]"
    )
    head = results["headline"]
    shape = f"h={head['heads']}, n={head['n']}, d={head['d']}, float32"
    print(f"\n{shape}; matmul {head['matmul_gflops']:.0f} GFLOP/s")
    for mode in ("full", "causal"):
        print(f"  {mode}:")
        for name, r in head[mode].items():
            print(entry_line(name, r))
    sw = results["sweep"]
    print(f"\nsweep, full attention, h={sw['heads']}, d={sw['d']} (median ms):")
    print(" " * 34 + "".join(f"{n:>10d}" for n in sw["n"]))
    for name, times in sw["median_s"].items():
        print(f"    {name:30s}" + "".join(f"{t * 1e3:10.2f}" for t in times))
    sz = results["sizes"]
    print(f"\nother sizes, h={sz['heads']}, d={sz['d']}, float32:")
    for mode in ("full", "causal"):
        for n, row in zip(sz["n"], sz[mode], strict=True):
            print(f"  n={n} {mode}:")
            for name, r in row.items():
                print(entry_line(name, r))
    for key in ("float64", "backward"):
        c = results[key]
        backend = f", torch kernel {c['torch_backend']}" if "torch_backend" in c else ""
        print(f"\n{c['kind']}, {c['dtype']}, h={c['heads']}, n={c['n']}, d={c['d']}{backend}:")
        for name, r in c["variants"].items():
            print(entry_line(name, r))
    if "interleaved" in results:
        il = results["interleaved"]
        low, high = il["separate_processes_ratio_to_torch_range"]
        print(
            f"\ninterleaved in one process (n={il['n']}, full): sdpa "
            f"{il[SDPA]['median_s'] * 1e3:.1f} ms, torch {il[TORCH]['median_s'] * 1e3:.1f} ms, "
            f"ratio {il['ratio_to_torch']:.2f}x; separate processes "
            f"{il['separate_processes_ratio_to_torch']:.2f}x [{low:.2f}-{high:.2f}]"
        )
    b = results["breakdown"]
    print(f"\nsteps of scaled_dot_product_attention (total {b['total_s'] * 1e3:.0f} ms):")
    for step, s in b["median_s"].items():
        print(f"    {step:24s} {s * 1e3:8.1f} ms  {s / b['total_s']:5.1%}")
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
        spread = f" [{g['range'][0]:.2f}-{g['range'][1]:.2f}]" if "range" in g else ""
        print(f"    {g['goal']:34s} {g['value']:8.2f}{spread} (limit {g['limit']}) {verdict}")


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
    parser.add_argument("--time-child", choices=ORDER, help=argparse.SUPPRESS)
    parser.add_argument("--interleaved-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--memory-n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--d", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.time_child:
        time_child(args.time_child, args.quick, args.threads)
        return 0
    if args.interleaved_child:
        interleaved_child(args.quick, args.threads)
        return 0
    if args.memory_child in LAYER_VARIANTS:
        layer_memory_child(args.memory_child, args.memory_n)
        return 0
    if args.memory_child:
        memory_child(args.memory_child, args.memory_n, args.d)
        return 0

    size = QUICK if args.quick else FULL
    with_torch = not args.no_torch and has_torch()
    if args.torch and not with_torch:
        print("PyTorch is not installed: install torch==2.13.0 (CPU build) for --torch.")
        return 1
    if not with_torch and not args.no_torch:
        print(
            "PyTorch is not installed: the comparison with its fused kernel is skipped. "
            "Install torch==2.13.0 (CPU build) to include it, e.g. `nox -s bench -- --torch`."
        )
    if args.threads is not None:
        set_threads(args.threads)  # for what runs in this process: breakdown and loops
    pools = thread_info()
    threads = blas_threads(pools) if args.threads is None else args.threads
    names = [name for name in ORDER if with_torch or name != TORCH]
    started = dt.datetime.now(dt.UTC)
    cases = all_cases(size)
    rounds, agreement = time_rounds(size, args.quick, threads, names)
    results: dict[str, Any] = {
        "started_utc": started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": machine(with_torch, pools),
        "method": method(size, threads, names),
        "headline": headline(size, cases, rounds),
    }
    if with_torch:
        results["machine"]["torch_threads"] = rounds[0][TORCH]["torch_threads"]
        results["machine"]["torch_thread_pools"] = rounds[0][TORCH]["thread_pools"]
    results["sweep"] = sweep(size, cases, rounds)
    results["sizes"] = sizes(size, cases, rounds)
    h, d = size["heads"], size["d"]
    results["float64"] = one_case(
        rounds, cases[case_id("forward", "float64", h, size["float64_n"], d, False)]
    )
    results["backward"] = one_case(
        rounds, cases[case_id("forward+backward", "float32", h, size["backward_n"], d, False)]
    )
    results["agreement"] = {
        "what": "largest relative difference between two implementations' output checksums",
        "max_relative_difference": agreement,
    }
    if with_torch:
        results["interleaved"] = interleaved_summary(
            size, threads, args.quick, results["headline"]
        )
    results["breakdown"] = breakdown(size)
    results["loops"] = loops(size)
    results["memory"] = memory(size)
    results["layer_memory"] = layer_memory(size)
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
