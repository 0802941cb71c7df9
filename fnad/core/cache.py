"""The one cache facility: bounded, thread-safe LRU maps, all cleared by `clear_caches()`.

Every cache of derived things (traced jaxprs, compiled executables, cached rules, dtype
plans) is a `Cache` or an `IdentityCache`; a cache of derived rules puts
`RULES_VERSION` in its keys, so a redefined rule is never served stale.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

# Bumped whenever a primitive's rule is (re)defined (`Primitive.__setattr__`): caches of
# derived rules put it in their keys.
RULES_VERSION = 0

_ALL: weakref.WeakSet[Cache] = weakref.WeakSet()
_MISSING = object()


class Cache:
    """A bounded LRU map, safe to read and write from several threads at once: writes take
    a lock; a read is one atomic lookup, then marks the entry recent unless another thread
    evicted it meanwhile (reads sit on every eager operation, so they take no lock)."""

    def __init__(self, maxsize: int = 4096):
        self.maxsize = maxsize
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        # `peek(key, default)`: a lookup without the recency update, in C (for the caches
        # every eager operation reads: derived rules, dtype plans)
        self.peek = self._entries.get
        _ALL.add(self)

    def get(self, key: Hashable, default: Any = None) -> Any:
        entries = self._entries
        value = entries.get(key, _MISSING)
        if value is _MISSING:
            return default
        try:
            entries.move_to_end(key)
        except KeyError:  # evicted by another thread since the lookup: still a hit
            pass
        return value

    def put(self, key: Hashable, value: Any) -> Any:
        """Store `value` (evicting the least recently used entry when full); returns it."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            if len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
        return value

    def get_or_make(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The cached value, or `make()` stored (made outside the lock: it may recurse)."""
        value = self.get(key, _MISSING)
        return self.put(key, make()) if value is _MISSING else value

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[Hashable]:
        """The keys, least recently used first (a snapshot)."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class IdentityCache(Cache):
    """A `Cache` keyed on an object's identity (plus a hashable extra key). Entries hold
    the object itself, so its id cannot be reused while the entry lives."""

    def get(self, obj: Any, extra: Hashable = None) -> Any:  # type: ignore[override]
        entry = Cache.get(self, (id(obj), extra))
        return None if entry is None or entry[0] is not obj else entry[1]

    def put(self, obj: Any, extra: Hashable, value: Any) -> Any:  # type: ignore[override]
        Cache.put(self, (id(obj), extra), (obj, value))
        return value

    def get_or_make(self, obj: Any, extra: Hashable,  # type: ignore[override]
                    make: Callable[[], Any]) -> Any:
        value = self.get(obj, extra)
        return value if value is not None else self.put(obj, extra, make())


def clear_caches() -> None:
    """Empty every cache fnad keeps: traced and compiled functions, derived rules, plans.

    >>> import fnad
    >>> fnad.clear_caches()
    """
    for cache in list(_ALL):
        cache.clear()


__all__ = ["Cache", "IdentityCache", "clear_caches"]
