"""Run every benchmark script's `main()`: `python -m benchmarks [name ...] [--quick]
[--markdown PATH] [--threads both|default|N]` (PATH gets every table: as Markdown from
scripts whose `main(argv)` takes the options, as their printed text otherwise).

`--threads both` (the default) runs everything twice, each in its own process: first with
every library's default threading (as users run it), then with every system pinned to
one thread; `default` or a count runs one mode (FNAD_BENCH_THREADS does the same)."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import io
import os
import pkgutil
import subprocess
import sys
import time


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--markdown", metavar="PATH")
    parser.add_argument("--threads", default=os.environ.get("FNAD_BENCH_THREADS", "both"),
                        help="both (default), default, or a thread count to pin to")
    parser.add_argument("--append", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads == "both":
        if args.markdown:
            with open(args.markdown, "w") as f:
                f.write(f"# Benchmark numbers\n\nWritten by `python -m benchmarks "
                        f"--markdown {args.markdown}`.\n\n")
        rest = [*args.names, *["--quick"] * args.quick,
                *(["--markdown", args.markdown, "--append"] if args.markdown else [])]
        for mode in ("default", "1"):
            subprocess.run([sys.executable, "-m", "benchmarks", *rest, "--threads", mode],
                           check=True,
                           env={**os.environ, "FNAD_BENCH_THREADS": mode})
        return
    os.environ["FNAD_BENCH_THREADS"] = args.threads  # read by _util on import
    import benchmarks
    from benchmarks import _util
    _util.pin_threads()  # before any benchmark starts JAX's pool
    names, options = args.names, ["--quick"] * args.quick
    mode = "default threading" if args.threads == "default" else f"{args.threads} thread(s)"
    print(f"## {mode}: {_util.environment()}\n", flush=True)
    if args.markdown:
        options += ["--markdown", args.markdown]
        with open(args.markdown, "a" if args.append else "w") as f:
            f.write(f"## {mode}\n\nOn {_util.environment()}.\n\n")
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
