"""NVRTC through ctypes: compile CUDA source to PTX with no GPU, driver or CuPy.

The test suite uses it to prove every generated CUDA kernel compiles on machines without a
GPU; the `nvidia-cuda-nvrtc-cu12` wheel (test extra) provides the library.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import glob
import os

from fnad.core.errors import FnadError


class KernelCompileError(FnadError, RuntimeError):
    """Generated kernel source failed to compile; the message holds the log and source."""


@functools.cache
def library() -> ctypes.CDLL | None:
    """libnvrtc from the nvidia-cuda-nvrtc wheel, CUDA_PATH or the system; None if absent."""
    candidates = []
    try:
        import nvidia.cuda_nvrtc as pkg
        for root in pkg.__path__:
            candidates += sorted(glob.glob(os.path.join(root, "lib", "libnvrtc.so*")))
    except ImportError:
        pass
    for var in ("CUDA_PATH", "CUDA_HOME"):
        if os.environ.get(var):
            candidates += sorted(glob.glob(os.path.join(os.environ[var], "lib64", "libnvrtc.so*")))
    found = ctypes.util.find_library("nvrtc")
    if found:
        candidates.append(found)
    for path in candidates:
        if "builtins" in path or ".alt." in path:
            continue
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def _check(lib: ctypes.CDLL, status: int, what: str) -> None:
    if status != 0:
        lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        raise KernelCompileError(f"{what}: {lib.nvrtcGetErrorString(status).decode()}")


def compile_ptx(source: str, arch: str = "compute_90", name: str = "fnad_kernel.cu") -> str:
    """PTX for `source`; a compile error raises `KernelCompileError` with log and source."""
    lib = library()
    if lib is None:
        raise FnadError("libnvrtc was not found: install the test extra "
                        "(pip install 'fnad[test]') or set CUDA_PATH")
    prog = ctypes.c_void_p()
    _check(lib, lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), name.encode(), 0,
                                       None, None), "nvrtcCreateProgram")
    try:
        opts = [f"--gpu-architecture={arch}".encode(), b"--std=c++14"]
        arr = (ctypes.c_char_p * len(opts))(*opts)
        status = lib.nvrtcCompileProgram(prog, len(opts), arr)
        if status != 0:
            size = ctypes.c_size_t()
            lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
            log = ctypes.create_string_buffer(size.value)
            lib.nvrtcGetProgramLog(prog, log)
            raise KernelCompileError(f"NVRTC failed to compile a generated kernel for {arch}:\n"
                                     f"{log.value.decode(errors='replace')}\n--- source ---\n"
                                     f"{source}")
        size = ctypes.c_size_t()
        _check(lib, lib.nvrtcGetPTXSize(prog, ctypes.byref(size)), "nvrtcGetPTXSize")
        ptx = ctypes.create_string_buffer(size.value)
        _check(lib, lib.nvrtcGetPTX(prog, ptx), "nvrtcGetPTX")
        return ptx.value.decode()
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))
