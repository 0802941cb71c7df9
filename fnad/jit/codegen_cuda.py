"""CUDA rendering of a `Kernel`: the same body as the C rendering inside a grid-stride
loop, compiled with NVRTC (through CuPy on a GPU, or `fnad.backends.nvrtc` without one)."""

from __future__ import annotations

from fnad.jit.kernels import Kernel, elementwise_body, parameters, reduction_body

PRELUDE = """#define FNAD_INF __int_as_float(0x7f800000)
#define FNAD_RESTRICT __restrict__
"""


def render(kernel: Kernel, name: str = "fnad_kernel") -> str:
    """CUDA source defining `extern "C" __global__ void name(...)`, one thread per output
    element (grid-stride)."""
    args = ", ".join(f"{t} {n}" for t, n in parameters(kernel))
    body = (elementwise_body(kernel, "i") if kernel.reduction is None
            else reduction_body(kernel, "i"))
    lines = [PRELUDE, f'extern "C" __global__ void {name}({args}) {{',
             "    const long long step = (long long)blockDim.x * gridDim.x;",
             "    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; "
             "i += step) {"]
    lines += ["        " + s for s in body]
    lines += ["    }", "}", ""]
    return "\n".join(lines)
