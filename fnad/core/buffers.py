"""Large result buffers recycled once every array viewing them is gone.

glibc serves an allocation above its mmap ceiling (32 MB, `config.keep_freed_memory`) with
fresh pages, which the kernel zeroes on first touch: a 100 MB result allocated anew each
step costs about as much as computing it. `take` hands out large arrays as views of a raw
buffer it keeps; when the buffer's only holder is this module again (the caller dropped the
array and every view of it: each view holds its base), the next request of the same size
gets the same memory. A buffer is never reused while any Python object can still reach it.
Arrays from 8 MB (past the per-core caches) come from here rather than from malloc's heap
because only here is it known that their pages are mapped, which lets the kernels filling
them use streaming stores (half the memory traffic of plain ones).
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad.config import config

MIN_BYTES = 8 << 20  # smaller results stay in the caches: malloc serves them
MAX_BUFFERS = 8  # the newest raw buffers kept (the oldest is let go, held or not)
MAX_BYTES = 1 << 30  # and at most this much in all (the heap's trim threshold)

_pool: list[np.ndarray] = []
_lock = threading.Lock()


def _holders(raw: np.ndarray) -> int:
    return sys.getrefcount(raw)


def _unheld_count() -> int:
    """`_holders` of a buffer held only by the pool, measured the way `empty` measures it
    (the count depends on the interpreter's reference borrowing, not on a constant)."""
    pool = [np.empty(1, np.uint8)]
    raw = pool[0]  # held by the list and a local name, as in `take`'s loop
    return _holders(raw)


_UNHELD = _unheld_count()


def take(shape: Sequence[int], dtype: Any) -> tuple[np.ndarray, bool]:
    """`(np.empty(shape, dtype), recycled)`: from a recycled buffer when the array is
    large; `recycled` says its pages are mapped already (a kernel filling it may use
    streaming stores, which are slower than plain ones on pages the kernel must fault in)."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < MIN_BYTES or not config.keep_freed_memory or dtype.hasobject:
        return np.empty(shape, dtype), False
    with _lock:
        for raw in _pool:
            if raw.nbytes == nbytes and _holders(raw) == _UNHELD:
                return raw.view(dtype).reshape(shape), True
        raw = np.empty(nbytes, np.uint8)
        _pool.append(raw)
        while len(_pool) > MAX_BUFFERS or sum(r.nbytes for r in _pool) > MAX_BYTES:
            _pool.pop(0)
        return raw.view(dtype).reshape(shape), False


def empty(shape: Sequence[int], dtype: Any) -> np.ndarray:
    """`np.empty(shape, dtype)`, from a recycled buffer when the array is large."""
    return take(shape, dtype)[0]


def release() -> None:
    """Let go of every kept buffer (arrays still in use keep their memory)."""
    with _lock:
        _pool.clear()
