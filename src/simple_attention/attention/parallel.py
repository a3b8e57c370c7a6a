"""Using every core: independent blocks of attention on a pool of threads.

NumPy's matrix products run on every core that its BLAS library uses, but its element-wise
steps (``exp``, ``sum``, the divisions) run on one thread. In attention those steps take about
as long as the matrix products, so one core idles for half of the time. The blocks of queries of
the blocked kernels are independent of each other, so ``run_blocks`` gives them to a small
pool of threads, one per core, and holds BLAS to one thread inside them: the two cores then run
a matrix product and an exponential side by side. NumPy releases the GIL in both, so Python
threads are enough.

Holding BLAS to one thread takes `threadpoolctl <https://github.com/joblib/threadpoolctl>`_, an
optional, small and well-kept package (``pip install simple-attention[fast]``) that knows how to
reach OpenBLAS, MKL or BLIS behind NumPy on every platform. Without it the blocks run one after
the other, as they would on one core, with BLAS's own threads inside the matrix products. Each
block writes its own rows of the result, so the order in which the threads finish changes
nothing; with and without the pool the results agree to rounding (a BLAS on one thread may add up
a product in another order, and large slices take the blocked kernels).
"""

from __future__ import annotations

import contextlib
import contextvars
import numbers
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["attention_threads", "n_threads"]

Block = TypeVar("Block")

# The limit of attention_threads, per calling thread (and per asyncio task): one thread's
# ``with attention_threads(1)`` does not hold back another's calls.
_limit: contextvars.ContextVar[int | None] = contextvars.ContextVar("limit", default=None)
_lock = threading.Lock()
_state: dict[str, Any] = {
    "controller": None,  # threadpoolctl's ThreadpoolController, False without threadpoolctl
    "pools": {},  # one pool per size, never shut down: another call may be submitting to it
    "pid": os.getpid(),
    "active": 0,  # calls of run_blocks running now, in any thread
    "blas_limit": None,  # the limit on BLAS's threads they share, restored by the last one
}
_local = threading.local()  # set inside the pool's threads: no pool within the pool


def _controller() -> Any:
    """threadpoolctl's view of the native thread pools, made once (``False`` without it)."""
    if _state["controller"] is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _state["controller"] = False
        else:
            _state["controller"] = ThreadpoolController()
    return _state["controller"]


def n_threads() -> int:
    """How many threads ``run_blocks`` uses: 1 without ``threadpoolctl`` or on one core.

    At most the number of cores this process may run on, and at most the limit set with
    :func:`~simple_attention.attention_threads` in the calling thread.

    Examples
    --------
    >>> from simple_attention.attention.parallel import attention_threads, n_threads
    >>> with attention_threads(1):
    ...     n_threads()
    1
    """
    limit = _limit.get()
    if limit == 1 or getattr(_local, "inside", False) or not _controller():
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores if limit is None else min(cores, limit))


@contextlib.contextmanager
def attention_threads(limit: int | None) -> Iterator[None]:
    """Limit the threads of the attention kernels inside a ``with`` block (``None``: no limit).

    The limit holds for the calls made by the thread that entered the block.
    ``attention_threads(1)`` runs every block on the calling thread, with BLAS's own threads in
    the matrix products: useful when a program already runs attention from several threads of
    its own, or to compare the two ways.

    Examples
    --------
    >>> import numpy as np
    >>> import simple_attention as sa
    >>> q = k = v = np.random.default_rng(0).normal(size=(4, 300, 8))
    >>> with sa.attention_threads(1):
    ...     one = sa.scaled_dot_product_attention(q, k, v)
    >>> bool(np.allclose(one, sa.scaled_dot_product_attention(q, k, v), rtol=0, atol=1e-12))
    True
    """
    token = _limit.set(_checked_limit(limit))
    try:
        yield
    finally:
        _limit.reset(token)


def _checked_limit(limit: object) -> int | None:
    """``limit`` as an int of at least 1, or ``None``; ``TypeError``/``ValueError`` otherwise."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, numbers.Integral):
        raise TypeError(f"limit must be a positive integer or None, got {limit!r}")
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return int(limit)


def _pool(workers: int) -> ThreadPoolExecutor:
    """The pool of ``workers`` threads, made on first use."""
    with _lock:
        pools = _state["pools"]
        if workers not in pools:
            pools[workers] = ThreadPoolExecutor(
                workers, thread_name_prefix="simple-attention", initializer=_mark_inside
            )
        return pools[workers]


def _mark_inside() -> None:
    _local.inside = True


def _after_fork_in_child() -> None:
    """A forked child has none of the parent's threads: new pools, and BLAS's threads back."""
    global _lock
    _lock = threading.Lock()  # the parent may have held it while forking
    _state["pools"] = {}
    _state["pid"] = os.getpid()
    if _state["blas_limit"] is not None:
        _state["blas_limit"].restore_original_limits()
    _state["active"] = 0
    _state["blas_limit"] = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@contextlib.contextmanager
def _blas_on_one_thread() -> Iterator[None]:
    """BLAS on one thread while any call of ``run_blocks`` runs, in any thread of the process.

    The limit is a setting of the whole process: the first call to start sets it and the last
    one to finish restores it, so that overlapping calls from several threads never leave BLAS
    held to one thread.
    """
    with _lock:
        if _state["active"] == 0:
            _state["blas_limit"] = _controller().limit(limits=1, user_api="blas")
        _state["active"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["active"] -= 1
            if _state["active"] == 0 and _state["blas_limit"] is not None:
                _state["blas_limit"].restore_original_limits()
                _state["blas_limit"] = None


def run_blocks(work: Callable[[Block], None], blocks: Sequence[Block]) -> None:
    """Call ``work(block)`` for every block, on one thread per core where that pays.

    ``work`` writes its results into arrays of its own (views of disjoint rows), so the blocks
    may run in any order. Runs on the calling thread when there is one block, one core, no
    ``threadpoolctl``, or when called from inside the pool. The first exception a block
    raises is raised here, after every block has stopped.

    While the blocks run, BLAS is held to one thread, for the whole process: a matrix product
    that another thread of the program computes meanwhile also runs on one thread.
    """
    workers = n_threads()
    if workers <= 1 or len(blocks) <= 1:
        for block in blocks:
            work(block)
        return
    pool = _pool(workers)
    # One thread of BLAS per worker: the workers themselves keep the cores busy, and a BLAS
    # that also started its threads would fight them for the same cores.
    with _blas_on_one_thread():
        futures = [pool.submit(work, block) for block in blocks]
        errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error
