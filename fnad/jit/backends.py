"""The registry of backends the jit compiler lowers to, by name.

A backend is a module with `lower(closed, donated, name, compile_sub) -> Lowered`
(`fn(*args) -> list`, `source`, `stats`; the NumPy and C backends also take `loop=`, a
scan or while body to lower as its whole loop). Backends sit above the compiler, so they
register themselves here (`fnad.backends` does, when `fnad` is imported) and the compiler
imports them by the module name they gave, only when one is first used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType

from fnad.core.errors import FnadError

# name -> (module name, whether it can run here, whether "auto" may pick it)
_BACKENDS: dict[str, tuple[str, Callable[[], bool], bool]] = {}


def register_backend(name: str, module: str, available: Callable[[], bool] = lambda: True,
                     auto: bool = False) -> None:
    """Make `jit(f, backend=name)` lower with the module named `module`. Among the `auto`
    backends that are available, the one registered last is what "auto" means."""
    _BACKENDS[name] = (module, available, auto)


def available_backends() -> list[str]:
    """The backends that can run here, in registration order ("numpy" first)."""
    return [n for n, (_, available, _) in _BACKENDS.items() if available()]


def resolve(name: str) -> str:
    """The backend "auto" stands for here (the C backend when a C compiler is found, else
    NumPy); any other name as it is."""
    if name != "auto":
        return name
    return [n for n, (_, available, auto) in _BACKENDS.items() if auto and available()][-1]


def get_backend(name: str) -> ModuleType:
    """The backend module called `name` ("auto" resolved)."""
    name = resolve(name)
    try:
        return importlib.import_module(_BACKENDS[name][0])
    except KeyError:
        raise FnadError(f"unknown jit backend {name!r}; available: "
                        f"{', '.join(available_backends())}") from None


__all__ = ["available_backends", "get_backend", "register_backend", "resolve"]
