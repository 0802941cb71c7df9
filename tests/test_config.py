"""`fnad.config`: options, their checks, and `keep_freed_memory`'s effect on page faults."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fnad

config_module = importlib.import_module("fnad.config")  # `fnad.config` is the options object


def test_unknown_options_and_wrong_types_are_errors() -> None:
    with pytest.raises(fnad.FnadError, match="unknown config option 'debug_nan'"):
        fnad.config.update("debug_nan", True)
    with pytest.raises(fnad.FnadError, match="takes True or False"):
        fnad.config.update("keep_freed_memory", 1)


def test_keep_freed_memory_sets_and_restores_glibc_thresholds(monkeypatch) -> None:
    calls = []
    before = fnad.config.keep_freed_memory
    monkeypatch.setattr(config_module, "_mallopt", lambda: lambda p, v: calls.append((p, v)))
    fnad.config.update("keep_freed_memory", True)
    assert calls == [(-3, 32 << 20), (-1, 1 << 30), (-2, 64 << 20)]
    fnad.config.update("keep_freed_memory", False)
    assert calls[3:] == [(-3, 128 << 10), (-1, 128 << 10), (-2, 128 << 10)]
    object.__setattr__(fnad.config, "keep_freed_memory", before)  # glibc was not touched


def test_keep_freed_memory_without_mallopt_is_an_error(monkeypatch) -> None:
    before = fnad.config.keep_freed_memory
    monkeypatch.setattr(config_module, "_mallopt", lambda: None)
    with pytest.raises(fnad.FnadError, match="needs glibc's mallopt"):
        fnad.config.update("keep_freed_memory", True)
    assert fnad.config.keep_freed_memory is False
    object.__setattr__(fnad.config, "keep_freed_memory", before)  # glibc was not touched


@pytest.mark.skipif(not sys.platform.startswith("linux") or config_module._mallopt() is None,
                    reason="glibc's mallopt and getrusage's fault counts are Linux's")
def test_keep_freed_memory_spares_the_page_faults_of_new_arrays() -> None:
    import resource

    def faults_of_new_arrays() -> int:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(20):  # a step's temporaries: 4, 4 and 2 MB, written, then freed
            a, b, c = (np.ones(n, np.float32) for n in (1 << 20, 1 << 20, 1 << 19))
            del a, b, c
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    before = fnad.config.keep_freed_memory
    try:
        fnad.config.update("keep_freed_memory", True)
        faults_of_new_arrays()  # the heap grows once
        kept = faults_of_new_arrays()
    finally:
        fnad.config.update("keep_freed_memory", before)
    assert kept < 100  # glibc's mmap/munmap of each array faults in its pages: ~30,000


NUM_THREADS_PROBE = """
import json, os, sys
import numpy as np, threadpoolctl
import fnad
from fnad.backends import c_backend

def counts():
    return {i["user_api"]: i["num_threads"] for i in threadpoolctl.threadpool_info()}

seen = {"start": counts()}
if c_backend.available():
    fnad.jit(lambda x: fnad.numpy.tanh(x) * 2, backend="c")(np.ones(8, np.float32))
seen["kernels loaded"] = counts()
fnad.config.update("num_threads", None)
seen["reset"] = counts()
fnad.config.update("num_threads", 1)
seen["one"] = counts()
seen["omp_env"] = os.environ.get("OMP_NUM_THREADS")
print(json.dumps(seen))
"""


def test_num_threads_limits_blas_and_the_kernels_openmp_pool() -> None:
    """FNAD_NUM_THREADS=1 pins NumPy's BLAS at import and OpenMP when the C kernels load
    it later; None gives every core back; the option is applied to loaded pools."""
    env = {**os.environ, "FNAD_NUM_THREADS": "1"}
    env.pop("OMP_NUM_THREADS", None)
    out = subprocess.run([sys.executable, "-c", NUM_THREADS_PROBE], env=env, check=True,
                         capture_output=True, text=True).stdout
    seen = json.loads(out)
    cores = os.cpu_count()
    assert seen["start"].get("blas") == 1
    assert set(seen["kernels loaded"].values()) == {1}
    assert all(n == cores for n in seen["reset"].values())
    assert set(seen["one"].values()) == {1} and seen["omp_env"] == "1"


@pytest.mark.parametrize("bad", [0, -2, 1.5, "x", True])
def test_num_threads_rejects_what_is_not_a_count(bad) -> None:
    with pytest.raises(fnad.FnadError, match="num_threads takes a thread count"):
        fnad.config.update("num_threads", bad)
    assert fnad.config.num_threads is None


FREED_MEMORY_PROBE = """
import fnad
print(fnad.config.keep_freed_memory)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or config_module._mallopt() is None,
                    reason="glibc's mallopt")
@pytest.mark.parametrize("env, expected", [({}, "True"), ({"FNAD_KEEP_FREED_MEMORY": "0"}, "False"),
                                           ({"MALLOC_TRIM_THRESHOLD_": "4096"}, "False")])
def test_keep_freed_memory_is_on_by_default_unless_malloc_is_tuned(env, expected) -> None:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("MALLOC_") and k != "FNAD_KEEP_FREED_MEMORY"}
    out = subprocess.run([sys.executable, "-c", FREED_MEMORY_PROBE], env={**base, **env},
                         check=True, capture_output=True, text=True).stdout
    assert out.strip() == expected
