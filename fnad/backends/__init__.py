"""The backends: compile a source string, allocate, launch, move data.

`numpy` is always available, `c` when a C compiler is found, `cupy` when CuPy sees a CUDA
device (it takes NumPy arguments too, moving them, and returns CuPy arrays). Importing
this package registers them with the jit compiler (`fnad.jit.backends`) and installs the
loader of CuPy's eager impls, which runs the first time a primitive meets a CuPy array.
"""

from __future__ import annotations

import importlib

from fnad.backends import c_backend
from fnad.core import trace
from fnad.device import gpu_count
from fnad.jit.backends import available_backends, get_backend, register_backend, resolve

register_backend("numpy", "fnad.backends.numpy_backend", auto=True)
register_backend("c", "fnad.backends.c_backend", available=c_backend.available, auto=True)
register_backend("cupy", "fnad.backends.cupy_backend", available=lambda: gpu_count() > 0)
trace.IMPL_LOADERS["cupy"] = lambda: importlib.import_module(
    "fnad.backends.cupy_backend").register()

__all__ = ["available_backends", "get_backend", "register_backend", "resolve"]
