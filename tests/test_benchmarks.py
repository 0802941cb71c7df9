"""Smoke tests of the benchmark suite: every script imports and runs its `--quick` mode
(tiny sizes, one timed call) and writes its tables as Markdown; the GPU script runs against
a stand-in CuPy backed by NumPy, since no GPU is at hand."""

from __future__ import annotations

import inspect
import os
import pkgutil
import types

import numpy as np
import pytest

import benchmarks
import fnad
from benchmarks import __main__ as runner, _util

SCRIPTS = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__)
                 if not m.name.startswith("_"))


@pytest.fixture(autouse=True)
def _cpus_given_back():
    """The pinned mode holds the process to one CPU (see `_util.pin_threads`); these tests
    run the scripts inside the test worker, which must get its CPUs back afterwards."""
    if not hasattr(os, "sched_getaffinity"):
        yield
        return
    cpus = os.sched_getaffinity(0)
    yield
    os.sched_setaffinity(0, cpus)


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity here")
def test_pinned_mode_holds_the_process_to_its_thread_count(monkeypatch):
    monkeypatch.setattr(_util, "PINNED", True)
    monkeypatch.setattr(_util, "THREADS", 1)
    _util.pin_threads()
    assert len(os.sched_getaffinity(0)) == 1


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_runs_quick_and_writes_markdown(name, tmp_path, capsys):
    module = __import__(f"benchmarks.{name}", fromlist=["main"])
    if not inspect.signature(module.main).parameters:
        pytest.skip(f"benchmarks.{name}.main() takes no argv, so it has no --quick mode")
    path = tmp_path / "numbers.md"
    module.main(["--quick", "--markdown", str(path)])
    printed, text = capsys.readouterr().out, path.read_text()
    assert printed.strip()
    assert "|---|" in text or "Skipped:" in text, text


def test_runner_passes_options_and_writes_a_header(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FNAD_BENCH_THREADS", "1")  # restored after the runner sets it
    path = tmp_path / "numbers.md"
    runner.main(["elementwise_chain", "--quick", "--markdown", str(path), "--threads", "1"])
    text = path.read_text()
    assert text.startswith("## 1 thread(s)")
    assert "### elementwise_chain: 10 ops on 2^12 float32" in text
    assert "[elementwise_chain:" in capsys.readouterr().out


def test_runner_reports_default_threading_and_one_pinned_thread(tmp_path, capfd,
                                                               monkeypatch):
    """`make bench` runs every workload twice, each mode in its own process (thread pools
    are set before the libraries load), into one Markdown file."""
    monkeypatch.delenv("FNAD_BENCH_THREADS", raising=False)
    path = tmp_path / "numbers.md"
    runner.main(["elementwise_chain", "--quick", "--markdown", str(path)])
    text = path.read_text()
    assert text.startswith("# Benchmark numbers")
    default, pinned = text.index("## default threading"), text.index("## 1 thread(s)")
    assert default < pinned
    assert text.count("### elementwise_chain") == 2
    assert "default thread(s) per system" in capfd.readouterr().out


def fake_cupy() -> types.SimpleNamespace:
    """The slice of CuPy the GPU script uses, on NumPy arrays."""
    stream = types.SimpleNamespace(synchronize=lambda: None)
    runtime = types.SimpleNamespace(getDeviceCount=lambda: 1,
                                    getDeviceProperties=lambda i: {"name": b"stand-in GPU"})
    return types.SimpleNamespace(
        asarray=np.asarray, asnumpy=np.asarray, copyto=np.copyto, empty_like=np.empty_like,
        abs=np.abs, minimum=np.minimum, maximum=np.maximum, sqrt=np.sqrt,
        cuda=types.SimpleNamespace(runtime=runtime, get_current_stream=lambda: stream))


def test_gpu_script_with_a_stand_in_gpu(monkeypatch, capsys):
    from benchmarks import gpu
    monkeypatch.setattr(gpu, "find_gpu", lambda: (fake_cupy(), "stand-in GPU"))
    monkeypatch.setattr(fnad, "device_put",
                        lambda tree, device: fnad.tree.tree_map(np.array, tree), raising=False)
    gpu.main(["--quick"])
    printed = capsys.readouterr().out
    for title in ("MLP 784-256-128-10 train step", "CNN train step",
                  "10-op elementwise chain"):
        assert title in printed
    assert "CuPy by hand" in printed and "fused kernel bandwidth / device copy's" in printed


def test_gpu_script_explains_why_it_skips(capsys):
    from benchmarks import gpu
    cupy, reason = gpu.find_gpu()
    if cupy is not None:
        pytest.skip("a GPU with CuPy and fnad's CuPy backend is present")
    gpu.main(["--quick"])
    assert f"gpu: skipped: {reason}" in capsys.readouterr().out


def test_table_text_markdown_and_targets():
    table = _util.timing_table("t", {"a": 2e-3, "b": 1e-3}, "b")
    table.target("a / b <= 1", 2.0, 1.0)
    table.target("b / a >= 0.4", 0.5, 0.4, above=True)
    table.target("a / missing", None)
    lines = table.markdown().splitlines()
    assert lines[2] == "| system | median | x b |" and lines[3] == "|---|---:|---:|"
    assert lines[4] == "| a | 2.000 ms | 2.00 |" and lines[5] == "| b | 1.000 ms | 1.00 |"
    text = table.text()
    assert "(NOT met)" in text and "(met)" in text and "not measured" in text
    rows = text.splitlines()[1:4]
    assert len({len(r) for r in rows}) == 1  # columns aligned


@pytest.mark.parametrize("seconds, shown", [(2.5, "2.500 s"), (0.0125, "12.500 ms"),
                                            (3.2e-6, "3.200 us"), (5e-8, "50.0 ns")])
def test_fmt_time(seconds, shown):
    assert _util.fmt_time(seconds) == shown
