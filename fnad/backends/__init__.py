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
                             "c": "fnad.backends.c_backend",
                             "cupy": "fnad.backends.cupy_backend"}


def register_backend(name: str, module: str) -> None:
    """Make `jit(f, backend=name)` lower with the module named `module`."""
    _BACKENDS[name] = module


def available_backends() -> list[str]:
    """The backends that can run here, "numpy" first ("c" needs a C compiler, "cupy" a
    CUDA device; it takes NumPy arguments too, moving them, and returns CuPy arrays)."""
    from fnad.backends import c_backend
    from fnad.device import gpu_count
    return [n for n in _BACKENDS if (n != "c" or c_backend.available())
            and (n != "cupy" or gpu_count() > 0)]


def resolve(name: str) -> str:
    """The backend "auto" stands for here: "c" when a C compiler is found, else "numpy"."""
    if name != "auto":
        return name
    from fnad.backends import c_backend
    return "c" if c_backend.available() else "numpy"


def get_backend(name: str) -> ModuleType:
    """The backend module called `name` ("auto" resolved)."""
    name = resolve(name)
    try:
        return importlib.import_module(_BACKENDS[name])
    except KeyError:
        raise FnadError(f"unknown jit backend {name!r}; available: "
                        f"{', '.join(available_backends())}") from None
