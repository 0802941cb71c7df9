"""Run every benchmark script's `main()`: `python -m benchmarks [name ...]`."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import benchmarks


def main(names: list[str]) -> None:
    found = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__)
                   if not m.name.startswith("_"))
    unknown = sorted(set(names) - set(found))
    if unknown:
        sys.exit(f"unknown benchmarks {unknown}; available: {found}")
    for name in names or found:
        module = importlib.import_module(f"benchmarks.{name}")
        if not hasattr(module, "main"):
            continue
        t0 = time.perf_counter()
        module.main()
        print(f"[{name}: {time.perf_counter() - t0:.1f} s]\n", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
