"""Run every benchmark script's `main()`: `python -m benchmarks [name ...] [--quick]
[--markdown PATH]` (PATH gets every table: as Markdown from scripts whose `main(argv)`
takes the options, as their printed text otherwise)."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import io
import pkgutil
import sys
import time

import benchmarks
from benchmarks import _util


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--markdown", metavar="PATH")
    args = parser.parse_args(argv)
    names, options = args.names, ["--quick"] * args.quick
    if args.markdown:
        options += ["--markdown", args.markdown]
        with open(args.markdown, "w") as f:
            f.write(f"# Benchmark numbers\n\nWritten by `python -m benchmarks --markdown "
                    f"{args.markdown}` on {_util.environment()}.\n\n")
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
        if inspect.signature(module.main).parameters:
            module.main(options)
        elif args.markdown:  # a script without the options: keep its printed text
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                module.main()
            print(out.getvalue(), end="")
            with open(args.markdown, "a") as f:
                f.write(f"### {name}\n\n```text\n{out.getvalue().strip()}\n```\n\n")
        else:
            module.main()
        print(f"[{name}: {time.perf_counter() - t0:.1f} s]\n", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
