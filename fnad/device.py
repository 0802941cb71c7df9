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
from fnad.config import config
from fnad.core.errors import FnadError, check_one_device


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


class Device(str):
    """A device, named as fnad names it ("cpu", "gpu:0", "gpu:1"...) and described as JAX's
    `jax.Device` is (`platform`, `id`), so that either spelling works wherever a device goes.

    >>> d = devices("cpu")[0]
    >>> (d, d.platform, d.id)
    ('cpu', 'cpu', 0)
    """

    __slots__ = ()

    @property
    def platform(self) -> str:
        return "cpu" if self == "cpu" else "gpu"

    @property
    def id(self) -> int:
        return 0 if self == "cpu" else int(self[4:])

    @property
    def device_kind(self) -> str:
        if self == "cpu":
            return "cpu"
        cupy = require_gpu("device_kind")
        return str(cupy.cuda.runtime.getDeviceProperties(self.id)["name"].decode())

    @property
    def process_index(self) -> int:
        return 0


_BACKENDS = {"cpu": "cpu", "gpu": "gpu", "cuda": "gpu"}


def devices(backend: str | None = None) -> list[Device]:
    """The devices of `backend` ("cpu" or "gpu"; by default the default backend), as JAX's
    `jax.devices`: the CUDA devices CuPy sees on a GPU machine, else the CPU.

    >>> devices("cpu")
    ['cpu']
    """
    platform = default_backend() if backend is None else _BACKENDS.get(str(backend).lower())
    if platform == "cpu":
        return [Device("cpu")]
    if platform is None:
        raise FnadError(f"unknown backend {backend!r}; fnad's backends are 'cpu' and 'gpu'")
    require_gpu(f"devices({backend!r})")
    return [Device(f"gpu:{i}") for i in range(gpu_count())]


def local_devices(process_index: int | None = None, backend: str | None = None
                  ) -> list[Device]:
    """`devices(backend)`: fnad runs in one process, whose devices are all local."""
    return devices(backend)


def device_count(backend: str | None = None) -> int:
    """How many devices `backend` (by default the default backend) has.

    >>> device_count("cpu")
    1
    """
    return len(devices(backend))


def local_device_count(backend: str | None = None) -> int:
    """`device_count(backend)`: all devices are local to fnad's one process."""
    return device_count(backend)


def process_index() -> int:
    """This process's index among the processes of a computation: fnad runs in one."""
    return 0


def process_count() -> int:
    """How many processes take part in a computation: fnad runs in one."""
    return 1


def default_backend() -> str:
    """"gpu" when CuPy sees a CUDA device, else "cpu"; with config option `platforms` set
    (JAX's `jax_platforms`), the first of those platforms that is here.

    >>> default_backend() in ("cpu", "gpu")
    True
    """
    if config.platforms is None:
        return "gpu" if gpu_count() else "cpu"
    for name in config.platforms.split(","):
        if _BACKENDS[name] == "cpu" or gpu_count():
            return _BACKENDS[name]
    why = _cupy()[1] or "CuPy sees no CUDA device"
    raise FnadError(f"config option platforms={config.platforms!r} names no platform here "
                    f"({why}); add 'cpu', or set it to None")


def _gpu_index(device: str) -> int | None:
    """The GPU number of "gpu" (the current one: None) or "gpu:N"; FnadError otherwise."""
    if device == "gpu":
        return None
    if device.startswith("gpu:") and device[4:].isdigit():
        return int(device[4:])
    raise FnadError(f"unknown device {device!r}; use 'cpu', 'gpu' or 'gpu:N' (the GPUs are "
                    f"{[f'gpu:{i}' for i in range(gpu_count())]})")


def device_put(x: Any, device: str | None = None, *, src: Any = None, donate: bool = False,
               may_alias: bool | None = None) -> Any:
    """Copy every array leaf of `x` (a pytree) to `device` ("cpu", "gpu", "gpu:N" or a
    `Device`; by default the default backend's first device, as in JAX). `src`, `donate`
    and `may_alias` are JAX's; arrays are never updated in place here, so they change
    nothing.

    Arrays and NumPy scalars move; Python scalars stay as they are (they are weakly typed
    and work on every device). Leaves already on the device are returned as they are.

    >>> device_put({"w": np.ones(2, np.float32)}, "cpu")["w"]
    array([1., 1.], dtype=float32)
    """
    if hasattr(device, "device_set"):  # a sharding (fnad.sharding): its one device
        check_one_device("device_put", device=device)
        device = next(iter(device.device_set))
    if device is None:
        device = default_backend()
    if device == "cpu":
        return device_get(x)
    index = _gpu_index(device)
    cupy = require_gpu(f"device_put(..., {device!r})")
    if index is not None and index >= gpu_count():
        raise FnadError(f"device {device!r} does not exist; the devices are {devices('gpu')}")

    def put(leaf: Any) -> Any:
        if is_gpu_array(leaf):  # ndarray.copy() copies onto the current device
            return leaf if index is None or leaf.device.id == index else leaf.copy()
        if isinstance(leaf, (np.ndarray, np.generic)):
            return cupy.asarray(leaf)
        return leaf

    if index is None:
        return tree_util.tree_map(put, x)
    with cupy.cuda.Device(index):
        return tree_util.tree_map(put, x)


def device_get(x: Any) -> Any:
    """Every CuPy array leaf of `x` (a pytree) copied to the CPU as a NumPy array.

    >>> device_get([np.zeros(1)])
    [array([0.])]
    """
    return tree_util.tree_map(
        lambda leaf: leaf.get() if is_gpu_array(leaf) and hasattr(leaf, "get") else leaf, x)


__all__ = ["Device", "array_module", "default_backend", "device_count", "device_get",
           "device_put", "devices", "gpu_count", "is_gpu_array", "local_device_count",
           "local_devices", "process_count", "process_index", "require_gpu"]
