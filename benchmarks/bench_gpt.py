"""Benchmarks of TinyGPT: a training step against PyTorch eager, generation speed and memory.

Three measurements, each in the style of ``bench_attention.py`` (ratios measured in one run,
medians after a warm-up, memory as a ``tracemalloc`` peak in a fresh process per variant):

* **training step**: forward, cross-entropy over every position, backward and an Adam update
  of ``TinyGPT(vocab_size=103, max_len=64, d_model=64, n_heads=4, n_layers=2)`` on a batch of
  32 x 64 tokens, in float32 and float64, against the same architecture written in PyTorch
  (eager mode, ``scaled_dot_product_attention`` on 4-D input, ``torch.optim.Adam``). Each side
  runs in a process of its own, the processes alternating (A B A B ...): two libraries with
  their own thread pools slow each other down when they take turns in one process. Each
  process starts from the same weights and batch, and both report the loss of their first
  step, which must agree: the two models compute the same function. When the step misses its
  goal, a ``cProfile`` breakdown of ours says where the time goes.
* **generation speed**: the time of one new token when the context holds ``n`` tokens, with
  the key-value cache (one :meth:`~simple_attention.TinyGPT.decode_step`) and without (a full
  forward pass over the ``n`` tokens, what :func:`~simple_attention.generate` recomputes at
  every step without the cache), and the time to generate up to ``n`` tokens.
* **memory**: the ``tracemalloc`` peak of generating up to ``n`` tokens, with and without the
  cache, and the bytes the caches hold.

Usage::

    python benchmarks/bench_gpt.py                 # full run, adds "gpt" to results/latest.json
    python benchmarks/bench_gpt.py --quick         # small sizes: a smoke test, no file
    python benchmarks/bench_gpt.py --no-torch      # leave PyTorch out even if installed

The results go under the key ``"gpt"`` of the results file; every other key of the file is
kept as it was.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import importlib.metadata
import importlib.util
import json
import os
import platform
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import simple_attention as sa

HERE = Path(__file__).resolve().parent
# The sibling script reports the machine the same way; its helpers are reused, not copied.
sys.path.insert(0, str(HERE))
from bench_attention import run_script, set_threads, thread_info  # noqa: E402

DEFAULT_OUTPUT = HERE / "results" / "latest.json"
MiB = 2**20

# The tutorial's model; generation uses the same widths with room for 1024 positions.
MODEL = {"vocab_size": 103, "max_len": 64, "d_model": 64, "n_heads": 4, "n_layers": 2}
LR = 3e-3
FULL = {
    "model": MODEL,
    "batch": 32,
    "n": 64,
    "dtypes": ["float32", "float64"],
    "pairs": 5,  # A B A B ... rounds of processes
    "warmup": 3,  # steps before timing, in each process
    "steps": 7,  # timed steps per process
    "profile_steps": 5,
    "gen_max_len": 1024,
    "gen_n": [64, 256, 1024],
    "gen_repeats": 15,
    "gen_total_n": [64, 256],  # generate() up to n, uncached too (quadratic in n)
    "gen_total_cached_n": [64, 256, 1024],
    "memory_n": [256, 512, 1024],
}
QUICK = {
    "model": {"vocab_size": 11, "max_len": 8, "d_model": 8, "n_heads": 2, "n_layers": 2},
    "batch": 2,
    "n": 8,
    "dtypes": ["float32"],
    "pairs": 1,
    "warmup": 1,
    "steps": 2,
    "profile_steps": 1,
    "gen_max_len": 32,
    "gen_n": [8, 16],
    "gen_repeats": 2,
    "gen_total_n": [8],
    "gen_total_cached_n": [8],
    "memory_n": [16, 32],
}
GOALS = {"train_step_vs_torch": 1.5}
# How far the two sides' first losses may differ (same weights, same batch).
LOSS_TOLERANCE = {"float32": 1e-4, "float64": 1e-10}
SIDES = ("ours", "torch")
GEN_DTYPE = "float32"
PROFILE_TOP = 15


# --- the training step, one side per process --------------------------------------------------


def batch_ids(size: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The batch both sides train on: random ids, the targets shifted by one position."""
    vocab = size["model"]["vocab_size"]
    ids = np.random.default_rng(0).integers(0, vocab, (size["batch"], size["n"] + 1))
    return ids[:, :-1], ids[:, 1:]


def our_model(config: dict[str, Any], dtype: str) -> sa.TinyGPT:
    return sa.TinyGPT(**config, rng=0).astype(np.dtype(dtype))


def our_step(size: dict[str, Any], dtype: str) -> Any:
    """A function running one training step of ours (and returning its loss)."""
    model = our_model(size["model"], dtype)
    optimizer = sa.Adam(model.params, lr=LR)
    inputs, targets = batch_ids(size)

    def step() -> float:
        loss, grad_logits = sa.softmax_cross_entropy(model(inputs), targets)
        model.backward(grad_logits)
        optimizer.step(model.grads)
        return loss

    return step


def torch_step(size: dict[str, Any], dtype: str, torch: Any) -> Any:
    """The same step in PyTorch eager: the same architecture, weights and batch."""
    nn, F = torch.nn, torch.nn.functional
    config = size["model"]
    d, heads = config["d_model"], config["n_heads"]
    tdtype = getattr(torch, dtype)

    class Block(nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.q, self.k, self.v, self.o = (nn.Linear(d, d, bias=False) for _ in range(4))
            self.up, self.down = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

        def forward(self, x: Any) -> Any:
            b, n, _ = x.shape
            h = self.ln1(x)
            # (B, n, d) -> (B, heads, n, d_head): 4-D input for the fused kernel.
            q, k, v = (
                f(h).view(b, n, heads, d // heads).transpose(1, 2)
                for f in (self.q, self.k, self.v)
            )
            att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.o(att.transpose(1, 2).reshape(b, n, d))
            return x + self.down(F.gelu(self.up(self.ln2(x)), approximate="tanh"))

    class GPT(nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(config["vocab_size"], d)
            self.positions = nn.Parameter(torch.zeros(config["max_len"], d))
            self.blocks = nn.ModuleList(Block() for _ in range(config["n_layers"]))
            self.ln_f = nn.LayerNorm(d)

        def forward(self, ids: Any) -> Any:
            x = self.embedding(ids) + self.positions[: ids.shape[1]]
            for block in self.blocks:
                x = block(x)
            return self.ln_f(x) @ self.embedding.weight.T  # the head tied to the embedding

    model = GPT().to(tdtype)
    copy_weights(our_model(config, dtype), model, torch)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    inputs, targets = (torch.from_numpy(a) for a in batch_ids(size))

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        logits = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def copy_weights(ours: sa.TinyGPT, model: Any, torch: Any) -> None:
    """Give the PyTorch model our weights (ours computes ``x @ W``, PyTorch ``x @ W.T``)."""
    p = ours.params
    pairs = {model.embedding.weight: p["embedding.weight"], model.positions: p["positions.weight"]}
    pairs.update({model.ln_f.weight: p["ln_f.gamma"], model.ln_f.bias: p["ln_f.beta"]})
    for i, block in enumerate(model.blocks):
        name = f"block{i}"
        for ln in ("ln1", "ln2"):
            pairs[getattr(block, ln).weight] = p[f"{name}.{ln}.gamma"]
            pairs[getattr(block, ln).bias] = p[f"{name}.{ln}.beta"]
        for short, ours_name in (("q", "query"), ("k", "key"), ("v", "value"), ("o", "out")):
            pairs[getattr(block, short).weight] = p[f"{name}.attention.W_{ours_name}"].T
        for lin in ("up", "down"):
            pairs[getattr(block, lin).weight] = p[f"{name}.ffn.{lin}.W"].T
            pairs[getattr(block, lin).bias] = p[f"{name}.ffn.{lin}.b"]
    with torch.no_grad():
        for param, value in pairs.items():
            param.copy_(torch.from_numpy(np.ascontiguousarray(value)))


def train_child(side: str, dtype: str, quick: bool, threads: int | None, profile: bool) -> None:
    """Print the median time of a training step of one side, as JSON (run in a child)."""
    size = QUICK if quick else FULL
    torch = None
    if side == "torch":
        import torch
    if threads is not None:
        set_threads(threads, torch)
    step = our_step(size, dtype) if torch is None else torch_step(size, dtype, torch)
    first_loss = step()  # the warm-up starts with the first step, from the shared weights
    for _ in range(size["warmup"] - 1):
        step()
    times = []
    for _ in range(size["steps"]):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    out: dict[str, Any] = {
        "side": side,
        "dtype": dtype,
        "first_loss": first_loss,
        "median_s": statistics.median(times),
        "times_s": times,
        "thread_pools": thread_info(),
    }
    if torch is not None:
        out["torch_threads"] = torch.get_num_threads()
    if profile:
        out["profile"] = profile_steps(step, size["profile_steps"])
    print(json.dumps(out))


def profile_steps(step: Any, steps: int) -> dict[str, Any]:
    """cProfile of ``steps`` training steps: the top functions by their own time (tottime)."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        step()
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    for (file, line, name), (_, ncalls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": function_label(file, line, name),
                "ncalls": ncalls // steps,
                "tottime_per_step_s": tottime / steps,
                "cumtime_per_step_s": cumtime / steps,
                "share": tottime / total,
            }
        )
    rows.sort(key=lambda r: r["tottime_per_step_s"], reverse=True)
    return {"steps": steps, "total_per_step_s": total / steps, "top": rows[:PROFILE_TOP]}


def function_label(file: str, line: int, name: str) -> str:
    """``package/module.py:line(name)``, without the folders above the package."""
    if file == "~":  # a built-in: numpy's ufuncs and methods, for instance
        return name
    parts = Path(file).parts
    for root in ("simple_attention", "numpy", "torch"):
        if root in parts:
            file = "/".join(parts[len(parts) - parts[::-1].index(root) - 1 :])
            break
    else:
        file = Path(file).name
    return f"{file}:{line}({name})"


def run_child(*args: str) -> dict[str, Any]:
    """This script as a child process (``--train-child``, ``--memory-child``)."""
    return run_script(__file__, *args)


def train_step(
    size: dict[str, Any], quick: bool, threads: int, with_torch: bool
) -> dict[str, Any]:
    """Each dtype: ours and PyTorch's step, alternating processes, and the per-pair ratios."""
    sides = SIDES if with_torch else SIDES[:1]
    common = ["--threads", str(threads)] + (["--quick"] if quick else [])
    out: dict[str, Any] = {
        "model": size["model"],
        "batch": [size["batch"], size["n"]],
        "lr": LR,
        "pairs": size["pairs"],
        "warmup_steps": size["warmup"],
        "timed_steps": size["steps"],
        "threads": threads,
    }
    for dtype in size["dtypes"]:
        runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        for _ in range(size["pairs"]):
            for side in sides:
                runs[side].append(run_child("--train-child", side, "--dtype", dtype, *common))
        entry: dict[str, Any] = {
            side: {
                "median_s": statistics.median(r["median_s"] for r in runs[side]),
                "process_medians_s": [r["median_s"] for r in runs[side]],
                "first_loss": runs[side][0]["first_loss"],
                "thread_pools": runs[side][0]["thread_pools"],
                **({"torch_threads": runs[side][0]["torch_threads"]} if side == "torch" else {}),
            }
            for side in sides
        }
        if with_torch:
            ratios = [
                a["median_s"] / b["median_s"]
                for a, b in zip(runs["ours"], runs["torch"], strict=True)
            ]
            entry["pair_ratios"] = ratios
            entry["ratio_to_torch"] = statistics.median(ratios)
            entry["ratio_spread"] = [min(ratios), max(ratios)]
            # The same weights and batch: the first losses agree if the models do.
            entry["first_loss_difference"] = abs(
                entry["ours"]["first_loss"] - entry["torch"]["first_loss"]
            )
            if entry["first_loss_difference"] > LOSS_TOLERANCE[dtype]:
                raise RuntimeError(
                    f"{dtype}: the first losses differ ({entry['ours']['first_loss']} and "
                    f"{entry['torch']['first_loss']}): the two models do not compute the same "
                    "function, so their times are not comparable"
                )
            if entry["ratio_to_torch"] > GOALS["train_step_vs_torch"]:
                profiled = run_child(
                    "--train-child", "ours", "--dtype", dtype, "--profile", *common
                )
                entry["ours_profile"] = profiled["profile"]
        out[dtype] = entry
    return out


# --- generation -------------------------------------------------------------------------------


def generation_model(size: dict[str, Any]) -> sa.TinyGPT:
    """The model's widths with room for the longest context, untrained, evaluation mode."""
    config = {**size["model"], "max_len": size["gen_max_len"]}
    return our_model(config, GEN_DTYPE).eval()


def per_token(size: dict[str, Any]) -> dict[str, Any]:
    """The time of the token that makes the context ``n`` long, cached and uncached.

    Cached: one ``decode_step`` with ``n - 1`` positions in the caches; the caches are put
    back as they were after each timed step (a step stores new arrays, it never writes into
    the old ones). Uncached: a forward pass over the ``n`` tokens, as ``generate`` runs
    without the cache. The two take turns, after a warm-up of each.
    """
    model = generation_model(size)
    ids = np.random.default_rng(1).integers(0, model.vocab_size, (1, size["gen_max_len"]))
    out: dict[str, Any] = {"n": list(size["gen_n"]), "cached_s": [], "uncached_s": []}
    for n in size["gen_n"]:
        caches = model.new_caches()
        model.decode_step(ids[:, : n - 1], caches)
        saved = [(c.keys, c.values) for c in caches]

        def cached(n: int = n, caches: list[sa.KVCache] = caches, saved: Any = saved) -> None:
            model.decode_step(ids[:, n - 1 : n], caches)
            for cache, (keys, values) in zip(caches, saved, strict=True):
                cache.keys, cache.values = keys, values

        def uncached(n: int = n) -> None:
            model(ids[:, :n])

        times: dict[str, list[float]] = {"cached": [], "uncached": []}
        cached(), uncached()
        for _ in range(size["gen_repeats"]):
            for name, fn in (("cached", cached), ("uncached", uncached)):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
        out["cached_s"].append(statistics.median(times["cached"]))
        out["uncached_s"].append(statistics.median(times["uncached"]))
    out["cached_tokens_per_s"] = [1 / t for t in out["cached_s"]]
    out["uncached_tokens_per_s"] = [1 / t for t in out["uncached_s"]]
    out["speedup"] = [u / c for u, c in zip(out["uncached_s"], out["cached_s"], strict=True)]
    out["growth_exponent"] = {
        name: growth_exponent(out["n"], out[f"{name}_s"]) for name in ("cached", "uncached")
    }
    return out


def growth_exponent(ns: list[int], times: list[float]) -> float:
    """The least-squares slope of log time against log n: 1 if linear, 2 if quadratic."""
    return float(np.polyfit(np.log(ns), np.log(times), 1)[0])


def generation_totals(size: dict[str, Any]) -> dict[str, Any]:
    """The time of ``generate`` from a one-token prompt up to ``n`` tokens (greedy)."""
    model = generation_model(size)
    prompt = np.zeros(1, dtype=np.int64)
    sa.generate(model, prompt, 4, temperature=0)  # warm-up
    out: dict[str, Any] = {}
    for name, use_cache, lengths in (
        ("cached", True, size["gen_total_cached_n"]),
        ("uncached", False, size["gen_total_n"]),
    ):
        rows = []
        for n in lengths:
            start = time.perf_counter()
            sa.generate(model, prompt, n - 1, temperature=0, use_cache=use_cache)
            seconds = time.perf_counter() - start
            rows.append({"n": n, "seconds": seconds, "tokens_per_s": (n - 1) / seconds})
        out[name] = rows
    return out


# --- memory, one fresh process per variant ----------------------------------------------------


def memory_child(variant: str, n: int, quick: bool) -> None:
    """Print the tracemalloc peak of generating up to ``n`` tokens, and the caches' bytes."""
    import tracemalloc

    size = QUICK if quick else FULL
    model = generation_model(size)
    ids = np.random.default_rng(1).integers(0, model.vocab_size, n)
    if variant == "cached":
        prompt, new = ids[:1], n - 1  # the whole generation: the caches grow to n
    else:
        # Without the cache every step is a full pass, the longest one last; its peak is that
        # of the whole generation, and what the step before left behind counts in it too.
        # The last two steps only: the quadratic generation of every step would take minutes.
        prompt, new = ids[: n - 2], 2
    tracemalloc.start()
    sa.generate(model, prompt, new, temperature=0, use_cache=variant == "cached")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    out: dict[str, Any] = {"variant": variant, "n": n, "peak_bytes": peak}
    if variant == "cached":
        # What the caches hold at n positions: the keys and values of every block.
        caches = model.new_caches()
        model.decode_step(np.zeros((1, n), dtype=np.int64), caches)
        out["cache_bytes_per_layer"] = [c.keys.nbytes + c.values.nbytes for c in caches]  # type: ignore[union-attr]
    print(json.dumps(out))


def memory(size: dict[str, Any], quick: bool, threads: int) -> dict[str, Any]:
    config = size["model"]
    itemsize = np.dtype(GEN_DTYPE).itemsize
    out: dict[str, Any] = {
        "n": list(size["memory_n"]),
        "dtype": GEN_DTYPE,
        "n_layers": config["n_layers"],
        # What one block keeps of an uncached forward pass: (n_heads, n, n) attention weights.
        "weights_bytes_per_layer": [
            config["n_heads"] * n * n * itemsize for n in size["memory_n"]
        ],
        "peak_bytes": {"cached": [], "uncached": []},
        "cache_bytes_per_layer": [],
    }
    flags = ["--quick"] if quick else []
    flags += ["--threads", str(threads)]
    for n in size["memory_n"]:
        for variant in ("cached", "uncached"):
            child = run_child("--memory-child", variant, "--n", str(n), *flags)
            out["peak_bytes"][variant].append(child["peak_bytes"])
            if variant == "cached":
                out["cache_bytes_per_layer"].append(child["cache_bytes_per_layer"][0])
    # Bytes per cached position and layer: 2 (keys and values) x d_model x itemsize if linear.
    out["cache_bytes_per_position"] = [
        b / n for b, n in zip(out["cache_bytes_per_layer"], out["n"], strict=True)
    ]
    return out


# --- the machine and the report ----------------------------------------------------------------


def blas_threads() -> int:
    for pool in thread_info():
        if pool.get("user_api") == "blas":
            return int(pool["num_threads"])
    return os.cpu_count() or 1


def machine(with_torch: bool) -> dict[str, Any]:
    """Versions and thread pools of this process; each side's pools are in its own entry."""
    info: dict[str, Any] = {
        "logical_cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "simple_attention": sa.__version__,
        "thread_pools": thread_info(),
    }
    if with_torch:
        # Its version only: importing it here would start its thread pool in this process.
        info["torch"] = importlib.metadata.version("torch")
    return info


def has_torch() -> bool:
    return importlib.util.find_spec("torch") is not None


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for dtype, entry in results["train_step"].items():
        if isinstance(entry, dict) and "ratio_to_torch" in entry:
            limit = GOALS["train_step_vs_torch"]
            ratio = entry["ratio_to_torch"]
            out.append(
                {
                    "goal": f"train step / torch ({dtype})",
                    "value": ratio,
                    "limit": limit,
                    "met": ratio <= limit,
                }
            )
    return out


def print_report(results: dict[str, Any]) -> None:
    ts = results["train_step"]
    batch = "x".join(map(str, ts["batch"]))
    print(f"\nTinyGPT training step, batch {batch}, {ts['threads']} threads:")
    for dtype in results["dtypes"]:
        entry = ts[dtype]
        line = f"  {dtype}: ours {entry['ours']['median_s'] * 1e3:7.1f} ms"
        if "torch" in entry:
            spread = entry["ratio_spread"]
            line += (
                f", torch {entry['torch']['median_s'] * 1e3:7.1f} ms, ratio "
                f"{entry['ratio_to_torch']:.2f}x (pairs {spread[0]:.2f}-{spread[1]:.2f}), "
                f"first losses differ by {entry['first_loss_difference']:.1e}"
            )
        print(line)
        if "ours_profile" in entry:
            prof = entry["ours_profile"]
            print(f"    profile of our step ({prof['total_per_step_s'] * 1e3:.0f} ms profiled):")
            for row in prof["top"]:
                print(
                    f"      {row['tottime_per_step_s'] * 1e3:7.2f} ms {row['share']:6.1%} "
                    f"{row['ncalls']:5d}x  {row['function']}"
                )
    pt = results["generation"]["per_token"]
    print(
        "\none new token at context n (TinyGPT widths, "
        f"max_len {results['generation']['max_len']}):"
    )
    for i, n in enumerate(pt["n"]):
        print(
            f"  n={n:5d}: cached {pt['cached_s'][i] * 1e3:8.2f} ms "
            f"({pt['cached_tokens_per_s'][i]:7.0f} tok/s), "
            f"uncached {pt['uncached_s'][i] * 1e3:8.2f} ms "
            f"({pt['uncached_tokens_per_s'][i]:7.0f} tok/s), {pt['speedup'][i]:.1f}x"
        )
    ge = pt["growth_exponent"]
    print(f"  growth exponent: cached {ge['cached']:.2f}, uncached {ge['uncached']:.2f}")
    for name, rows in results["generation"]["totals"].items():
        print(
            f"  generate to n, {name}: "
            + ", ".join(
                f"n={r['n']}: {r['seconds']:.2f} s ({r['tokens_per_s']:.0f} tok/s)" for r in rows
            )
        )
    mem = results["memory"]
    print(f"\npeak memory of generate() up to n ({mem['dtype']}):")
    for i, n in enumerate(mem["n"]):
        print(
            f"  n={n:5d}: cached {mem['peak_bytes']['cached'][i] / MiB:7.2f} MiB "
            f"(caches {mem['cache_bytes_per_layer'][i] / MiB:.3f} MiB per layer), uncached "
            f"{mem['peak_bytes']['uncached'][i] / MiB:7.2f} MiB "
            f"(weights {mem['weights_bytes_per_layer'][i] / MiB:.1f} MiB per layer)"
        )
    if results["goals"]:
        print("\ngoals:")
    for g in results["goals"]:
        verdict = "met" if g["met"] else "MISSED"
        print(f"    {g['goal']:30s} {g['value']:8.2f} (limit {g['limit']}) {verdict}")


def run(quick: bool, with_torch: bool, threads: int | None) -> dict[str, Any]:
    size = QUICK if quick else FULL
    threads = blas_threads() if threads is None else threads
    started = dt.datetime.now(dt.UTC)
    results: dict[str, Any] = {
        "started_utc": started.isoformat(timespec="seconds"),
        "quick": quick,
        "dtypes": list(size["dtypes"]),
        "machine": machine(with_torch),
        "train_step": train_step(size, quick, threads, with_torch),
        "generation": {
            "max_len": size["gen_max_len"],
            "threads": threads,
            "dtype": GEN_DTYPE,
            "per_token": per_token(size),
            "totals": generation_totals(size),
        },
        "memory": memory(size, quick, threads),
    }
    results["goals"] = goals(results)
    results["duration_s"] = (dt.datetime.now(dt.UTC) - started).total_seconds()
    return results


def write(results: dict[str, Any], output: Path) -> None:
    """Put ``results`` under ``"gpt"`` in ``output``, keeping the file's other keys."""
    existing = json.loads(output.read_text()) if output.is_file() else {}
    existing["gpt"] = results
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_suffix(".tmp")
    temporary.write_text(json.dumps(existing, indent=1) + "\n")
    temporary.replace(output)


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
    parser.add_argument("--threads", type=int, help="BLAS and PyTorch threads (default: BLAS's)")
    parser.add_argument("--train-child", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--dtype", default="float32", help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", choices=("cached", "uncached"), help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.train_child:
        train_child(args.train_child, args.dtype, args.quick, args.threads, args.profile)
        return 0
    if args.memory_child:
        if args.threads is not None:
            set_threads(args.threads)
        memory_child(args.memory_child, args.n, args.quick)
        return 0

    with_torch = not args.no_torch and has_torch()
    if args.torch and not with_torch:
        print("PyTorch is not installed: install torch==2.13.0 (CPU build) for --torch.")
        return 1
    if not with_torch and not args.no_torch:
        print("PyTorch is not installed: the training step is timed on our side only.")
    if args.threads is not None:
        set_threads(args.threads)  # for the generation timed in this process
    results = run(args.quick, with_torch, args.threads)
    print_report(results)
    output = args.output or (None if args.quick else DEFAULT_OUTPUT)
    if output is not None:
        write(results, output)
        print(f"\nwritten: {output} (key 'gpt')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
