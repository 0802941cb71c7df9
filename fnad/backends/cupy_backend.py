"""The CuPy backend: every primitive's eager impl on `cupy.ndarray`s, and the jit backend
"cupy", whose fused kernels are CUDA C compiled by NVRTC through `cupy.RawModule`.

Importing this module does not import CuPy. `register()` does, the first time a primitive
meets a CuPy array (`EvalTrace`), and installs `prim.impls["cupy"]` for every primitive:
its own CuPy impl where its module registered one (`prim.def_impl(fn, "cupy")`: cuBLAS,
cuDNN, `cupyx.scipy.special`, sorts and scatters CuPy does differently), else its NumPy
impl, which is written against the array API NumPy and CuPy share (`fnad.device.
array_module`) or runs on CuPy arrays as it is (ufuncs and NumPy functions dispatch to
CuPy by `__array_ufunc__` / `__array_function__`). Either way NumPy operands move to the
device first. The backend itself holds no table of primitives.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad.backends.nvrtc import KernelCompileError
from fnad.core.cache import Cache
from fnad.core.ir import ClosedJaxpr, Jaxpr
from fnad.core.primitive import Primitive, fnad_primitives
from fnad.device import is_gpu_array, require_gpu
from fnad.jit import codegen_cuda
from fnad.jit.kernels import Kernel, arguments, source_hash

cp: Any = None  # the cupy module, bound by `register()`

NUMPY = "numpy"  # the NumPy impl runs on CuPy arrays as it is
OWN = "own"      # the primitive's own module registers its CuPy impl


# ---------------------------------------------------------------------------- eager impls

def impl_for(prim: Primitive) -> Callable[..., Any]:
    """The function `register` installs as `prim.impls["cupy"]`: the primitive's own CuPy
    impl (registered in its module) or else its NumPy impl, which runs on CuPy arrays as it
    is (ufuncs by `__array_ufunc__`, functions by `__array_function__`), with NumPy
    operands (weak scalars, jaxpr literals and constants) moved to the device first, so
    the work runs there. Every result is a CuPy array: one made on the host (`iota`,
    `axis_index`: no operands say where) is copied to the device."""
    fn = prim.impls.get("cupy") or prim.impls["numpy"]

    def on_device(x: Any) -> Any:
        return cp.asarray(x) if isinstance(x, (np.ndarray, np.generic)) else x

    @functools.wraps(fn)
    def impl(*args: Any, **params: Any) -> Any:
        out = fn(*[on_device(a) for a in args], **params)
        return [on_device(o) for o in out] if prim.multiple_results else on_device(out)

    return impl


def register() -> None:
    """Import CuPy and install every primitive's CuPy impl (once)."""
    global cp
    if cp is not None:
        return
    cupy = require_gpu("the CuPy backend")
    impls = {prim: impl_for(prim) for prim in fnad_primitives().values()
             if "numpy" in prim.impls or "cupy" in prim.impls}
    cp = cupy
    for prim, fn in impls.items():
        prim.def_impl(fn, "cupy")


# ---------------------------------------------------------------------------- kernels

BLOCK = 256          # threads per block
MAX_BLOCKS = 65535   # the grid-stride loop covers the rest
OPTIONS = ("--std=c++14",)


def kernel_source(kernel: Kernel) -> tuple[str, str]:
    """(function name, CUDA source) of a fused kernel, as `compile_cuda` compiles it."""
    name = kernel.name()
    return name, codegen_cuda.render(kernel, name)


def launch_args(kernel: Kernel, shape: Sequence[int], inputs: Sequence[Any],
                strides: Sequence[Sequence[int] | None], outputs: Sequence[Any]
                ) -> tuple[Any, ...]:
    """The kernel's arguments: arrays as they are, sizes and strides as `numpy.int64`
    (the kernel's `long long`), in `kernels.parameters` order."""
    return tuple(np.int64(a) if isinstance(a, (int, np.integer)) else a
                 for a in arguments(kernel, shape, inputs, strides, outputs, lambda x: x))


def grid_size(n: int) -> int:
    """Blocks for n threads' worth of work: ceil(n / BLOCK), at most MAX_BLOCKS."""
    return max(1, min(-(-int(n) // BLOCK), MAX_BLOCKS))


_MODULES = Cache()  # (device, source hash) -> RawKernel


class CudaKernel:
    """A fused kernel compiled with NVRTC through `cupy.RawModule`, per device, and cached
    by source hash (CuPy also caches the binary on disk)."""

    def __init__(self, kernel: Kernel):
        self.kernel = kernel
        self.name, self.source = kernel_source(kernel)
        self.key = source_hash(self.source, *OPTIONS)

    def function(self) -> Any:
        device = cp.cuda.runtime.getDevice()
        fn = _MODULES.get((device, self.key))
        if fn is None:
            try:
                module = cp.RawModule(code=self.source, options=OPTIONS)
                fn = module.get_function(self.name)  # compiles (NVRTC) and loads
            except importlib.import_module("cupy.cuda.compiler").CompileException as e:
                raise KernelCompileError(f"NVRTC (through CuPy) failed to compile a generated "
                                         f"kernel:\n{e}\n--- source ---\n{self.source}") from e
            _MODULES.put((device, self.key), fn)
        return fn

    def __call__(self, shape: Sequence[int], inputs: Sequence[Any],
                 strides: Sequence[Sequence[int] | None], outputs: Sequence[Any]) -> None:
        """Launch over the iteration space `shape` (see `c_backend.CompiledKernel`)."""
        args = launch_args(self.kernel, shape, inputs, strides, outputs)
        if args[0] > 0:
            self.function()((grid_size(args[0]),), (BLOCK,), args)

    def launcher(self, shape: Sequence[int], strides: Sequence[Sequence[int] | None]
                 ) -> Callable[[Sequence[Any], Sequence[Any]], None]:
        """`launch(inputs, outputs)` for arrays of this plan's shapes and strides."""
        return lambda inputs, outputs: self(shape, inputs, strides, outputs)


def compile_cuda(kernel: Kernel) -> CudaKernel:
    """The launcher of a fused kernel: `(shape, inputs, strides, outputs) -> None`."""
    return _LAUNCHERS.get_or_make(kernel, lambda: CudaKernel(kernel))


_LAUNCHERS = Cache()


# ---------------------------------------------------------------------------- lowering

def lower(closed: ClosedJaxpr, donated: Sequence[bool], name: str,
          compile_sub: Callable[[ClosedJaxpr], Any]) -> Any:
    """Fuse elementwise regions into CUDA kernels; lower the rest like the NumPy backend,
    calling the CuPy impls. Constants, and the literals fused kernels read, move to the
    device once, as leading inputs; NumPy arguments are moved at each call. Donation is
    not used on this backend."""
    register()
    return lower_with(closed, name, compile_sub, compile_cuda)


def lower_with(closed: ClosedJaxpr, name: str, compile_sub: Callable[[ClosedJaxpr], Any],
               compile_kernel: Callable[[Kernel], Any]) -> Any:
    """`lower` with the fused kernels compiled by `compile_kernel` (tests run this path on
    CPUs with NumPy standing in for CuPy and C kernels for CUDA ones)."""
    from fnad.backends import numpy_backend
    from fnad.jit.fusion import describe, fuse

    jaxpr = closed.jaxpr
    fused = fuse(closed, compile_kernel, launch_us=0)  # a GPU launch is cheap: fuse it all
    # constants go to the device once, as leading arguments (fused kernels hold their
    # literals in their own code)
    lead, values = list(jaxpr.constvars), [cp.asarray(c) for c in closed.consts]
    flat = ClosedJaxpr(Jaxpr([], [*lead, *jaxpr.invars], fused.eqns, jaxpr.outvars), [])
    lowered = numpy_backend.lower(flat, (), name, compile_sub, impl_backend="cupy")
    run = lowered.fn

    def fn(*args: Any) -> list[Any]:
        args = [a if is_gpu_array(a) else cp.asarray(a) for a in args]
        return [o if is_gpu_array(o) else cp.asarray(o) for o in run(*values, *args)]

    lowered.fn = fn
    lowered.stats.update(constants=len(closed.consts), fusion=describe(closed, fused),
                         constant_bytes=sum(int(c.nbytes) for c in values))
    return lowered


__all__ = ["compile_cuda", "grid_size", "impl_for", "kernel_source",
           "launch_args", "lower", "lower_with", "register"]
