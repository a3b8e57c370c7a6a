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
the other, as they would on one core, with BLAS's own threads inside the matrix products: the
same numbers, only slower. Each block writes its own rows of the result, so the order in which
the threads finish changes nothing, and the results are the same with and without the pool.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["attention_threads", "n_threads"]

Block = TypeVar("Block")

_lock = threading.Lock()
_state: dict[str, Any] = {
    "limit": None,
    "controller": None,
    "pool": None,
    "workers": 0,
    "pid": None,
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
    :func:`~simple_attention.attention_threads`.

    Examples
    --------
    >>> from simple_attention.attention.parallel import attention_threads, n_threads
    >>> with attention_threads(1):
    ...     n_threads()
    1
    """
    limit = _state["limit"]
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

    ``attention_threads(1)`` runs every block on the calling thread, with BLAS's own threads
    in the matrix products: useful when the caller already runs attention from several threads
    of its own, or to compare the two ways.

    Examples
    --------
    >>> import numpy as np
    >>> import simple_attention as sa
    >>> from simple_attention.attention.parallel import attention_threads
    >>> q = k = v = np.random.default_rng(0).normal(size=(4, 300, 8))
    >>> with attention_threads(1):
    ...     one = sa.scaled_dot_product_attention(q, k, v)
    >>> bool(np.allclose(one, sa.scaled_dot_product_attention(q, k, v), rtol=0, atol=1e-12))
    True
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise TypeError(f"limit must be a positive integer or None, got {limit!r}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    previous = _state["limit"]
    _state["limit"] = limit
    try:
        yield
    finally:
        _state["limit"] = previous


def _pool(workers: int) -> ThreadPoolExecutor:
    """The pool of ``workers`` threads, made again after a fork (whose child has no threads)."""
    with _lock:
        if _state["workers"] != workers or _state["pid"] != os.getpid():
            if _state["pool"] is not None and _state["pid"] == os.getpid():
                _state["pool"].shutdown(wait=False)
            _state["pool"] = ThreadPoolExecutor(
                workers, thread_name_prefix="simple-attention", initializer=_mark_inside
            )
            _state["workers"] = workers
            _state["pid"] = os.getpid()
        return _state["pool"]


def _mark_inside() -> None:
    _local.inside = True


def run_blocks(work: Callable[[Block], None], blocks: Sequence[Block]) -> None:
    """Call ``work(block)`` for every block, on one thread per core where that pays.

    ``work`` writes its results into arrays of its own (views of disjoint rows), so the blocks
    may run in any order. Runs on the calling thread when there is one block, one core, no
    ``threadpoolctl``, or when called from inside the pool. The first exception a block
    raises is raised here, after every block has stopped.

    The limit on BLAS's threads holds for the whole process while the blocks run. A program that
    calls attention from several threads of its own should run it under
    ``attention_threads(1)``, so that the calls do not change each other's BLAS threads.
    """
    workers = min(n_threads(), len(blocks))
    if workers <= 1:
        for block in blocks:
            work(block)
        return
    pool = _pool(workers)
    # One thread of BLAS per worker: the workers themselves keep the cores busy, and a BLAS
    # that also started its threads would fight them for the same cores.
    with _controller().limit(limits=1, user_api="blas"):
        futures = [pool.submit(work, block) for block in blocks]
        errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error
