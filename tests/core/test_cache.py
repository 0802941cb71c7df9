"""The one cache facility (fnad/core/cache.py): bounded LRU, safe under threads, cleared by
`fnad.clear_caches()`."""

from __future__ import annotations

import threading

import numpy as np

import fnad
import fnad.numpy as fnp
from fnad.core.cache import Cache, IdentityCache


def test_lru_bound_and_order() -> None:
    c = Cache(maxsize=3)
    for k in "abc":
        c.put(k, k.upper())
    assert c.get("a") == "A"  # now most recently used
    c.put("d", "D")
    assert c.keys() == ["c", "a", "d"] and c.get("b") is None and len(c) == 3
    assert c.get_or_make("e", lambda: "E") == "E" and "c" not in c


def test_identity_cache_keys_on_the_object_itself() -> None:
    c = IdentityCache(maxsize=8)
    a, b = [1], [1]
    c.put(a, "x", 1)
    assert c.get(a, "x") == 1 and c.get(b, "x") is None and c.get(a, "y") is None


def test_readers_and_writers_in_threads_never_fail() -> None:
    """Readers hitting entries a writer evicts (the IdentityCache race of issue 16:
    `KeyError`s from a get then move_to_end without a lock)."""
    c = IdentityCache(maxsize=16)
    objs = [object() for _ in range(64)]
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                for o in objs:
                    c.get(o, 0)
        except BaseException as e:  # noqa: BLE001 -- recorded for the assertion
            errors.append(e)

    def writer() -> None:
        try:
            for _ in range(300):
                for o in objs:
                    c.put(o, 0, o)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
        finally:
            stop.set()

    threads = [threading.Thread(target=reader) for _ in range(3)] + [
        threading.Thread(target=writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(c) <= 16


def test_clear_caches_empties_every_cache_and_fnad_still_works() -> None:
    f = fnad.jit(lambda x: fnp.sin(x) * 2.0)
    x = np.ones(3, np.float32)
    want = f(x)
    mine = Cache()
    mine.put("k", 1)
    fnad.clear_caches()
    assert len(mine) == 0 and f._cache.keys() == []
    np.testing.assert_array_equal(f(x), want)
    np.testing.assert_allclose(fnad.grad(lambda v: fnp.sum(fnp.sin(v)))(x), np.cos(x), rtol=1e-6)
