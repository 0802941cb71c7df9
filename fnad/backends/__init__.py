"""Backends the jit compiler lowers to, by name.

A backend is a module with `lower(closed, donated, name, compile_sub) -> Lowered`
(`fn(*args) -> list`, `source`, `stats`). `numpy` is always available; others register
themselves with `register_backend` when their toolchain is found.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from fnad.core.errors import FnadError

_BACKENDS: dict[str, str] = {"numpy": "fnad.backends.numpy_backend",
                             "c": "fnad.backends.c_backend"}


def register_backend(name: str, module: str) -> None:
    """Make `jit(f, backend=name)` lower with the module named `module`."""
    _BACKENDS[name] = module


def available_backends() -> list[str]:
    """The names `jit(..., backend=...)` accepts here, "numpy" first."""
    return list(_BACKENDS)


def get_backend(name: str) -> ModuleType:
    """The backend module called `name`."""
    try:
        return importlib.import_module(_BACKENDS[name])
    except KeyError:
        raise FnadError(f"unknown jit backend {name!r}; available: "
                        f"{', '.join(available_backends())}") from None
