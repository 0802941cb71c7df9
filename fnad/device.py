"""Devices: where arrays live. NumPy arrays are on the CPU, CuPy arrays on a GPU.

There is no device object on arrays: a value's device is its array type, and every eager
primitive and the jit pick their backend from it. CuPy is imported only when asked about.
(This module is `fnad.device`, so that `fnad.devices` can be the function.)
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType
from typing import Any

import numpy as np

from fnad import tree as tree_util
from fnad.core.errors import FnadError


def is_gpu_array(x: Any) -> bool:
    """Whether `x` is a CuPy array (decided by type, without importing CuPy)."""
    return type(x).__module__.startswith("cupy")


def array_module(arrays: Any) -> ModuleType:
    """`numpy`, or `cupy` when one of `arrays` is a CuPy array: results go where inputs are.

    >>> array_module([np.ones(2)]).__name__
    'numpy'
    """
    for x in arrays:
        if type(x) is not np.ndarray and is_gpu_array(x):
            return importlib.import_module("cupy")
    return np


@functools.cache
def _cupy() -> tuple[ModuleType | None, str]:
    """(cupy, "") when CuPy imports, else (None, why)."""
    try:
        return importlib.import_module("cupy"), ""
    except Exception as e:  # ImportError, or CuPy failing to find its CUDA libraries
        return None, f"CuPy is not importable ({type(e).__name__}: {e})"


@functools.cache
def gpu_count() -> int:
    """How many CUDA devices CuPy sees (0 without CuPy, a driver or a device)."""
    cupy, _ = _cupy()
    if cupy is None:
        return 0
    try:
        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # cupy.cuda.runtime.CUDARuntimeError: no driver or no device
        return 0


def require_gpu(what: str) -> ModuleType:
    """The cupy module, or a FnadError saying why `what` cannot run on a GPU here."""
    cupy, why = _cupy()
    if cupy is None:
        raise FnadError(f"{what} needs a GPU, but {why}. Install CuPy for your CUDA version "
                        "(pip install 'fnad[cuda12]' or 'fnad[cuda13]'), or stay on the CPU.")
    if gpu_count() == 0:
        raise FnadError(f"{what} needs a GPU, but CuPy sees no CUDA device (check the driver "
                        "and CUDA_VISIBLE_DEVICES), or stay on the CPU.")
    return cupy


def devices() -> list[str]:
    """The devices arrays can live on: "cpu", then "gpu:0", "gpu:1"... for each CUDA device.

    >>> devices()[0]
    'cpu'
    """
    return ["cpu"] + [f"gpu:{i}" for i in range(gpu_count())]


def default_backend() -> str:
    """"gpu" when CuPy sees a CUDA device, else "cpu".

    >>> default_backend() in ("cpu", "gpu")
    True
    """
    return "gpu" if gpu_count() else "cpu"


def _gpu_index(device: str) -> int | None:
    """The GPU number of "gpu" (the current one: None) or "gpu:N"; FnadError otherwise."""
    if device == "gpu":
        return None
    if device.startswith("gpu:") and device[4:].isdigit():
        return int(device[4:])
    raise FnadError(f"unknown device {device!r}; use 'cpu', 'gpu' or one of {devices()}")


def device_put(tree: Any, device: str = "gpu") -> Any:
    """Copy every array leaf of `tree` to `device` ("cpu", "gpu" or "gpu:N").

    Arrays and NumPy scalars move; Python scalars stay as they are (they are weakly typed
    and work on every device). Leaves already on the device are returned as they are.

    >>> device_put({"w": np.ones(2, np.float32)}, "cpu")["w"]
    array([1., 1.], dtype=float32)
    """
    if device == "cpu":
        return device_get(tree)
    index = _gpu_index(device)
    cupy = require_gpu(f"device_put(..., {device!r})")
    if index is not None and index >= gpu_count():
        raise FnadError(f"device {device!r} does not exist; the devices are {devices()}")

    def put(x: Any) -> Any:
        if is_gpu_array(x):  # ndarray.copy() copies onto the current device
            return x if index is None or x.device.id == index else x.copy()
        if isinstance(x, (np.ndarray, np.generic)):
            return cupy.asarray(x)
        return x

    if index is None:
        return tree_util.tree_map(put, tree)
    with cupy.cuda.Device(index):
        return tree_util.tree_map(put, tree)


def device_get(tree: Any) -> Any:
    """Every CuPy array leaf of `tree` copied to the CPU as a NumPy array.

    >>> device_get([np.zeros(1)])
    [array([0.])]
    """
    return tree_util.tree_map(lambda x: x.get() if is_gpu_array(x) and hasattr(x, "get")
                              else x, tree)


__all__ = ["array_module", "default_backend", "device_get", "device_put", "devices",
           "gpu_count", "is_gpu_array", "require_gpu"]
