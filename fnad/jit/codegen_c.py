"""C rendering of a `Kernel`: a function looping over the iteration space (OpenMP when the
compiler has it), compiled into a shared library by `fnad.backends.c_backend`."""

from __future__ import annotations

from fnad.jit.kernels import Kernel, elementwise_body, parameters

PRELUDE = """#include <math.h>
#define FNAD_INF INFINITY
"""

_PARALLEL_MIN = 1 << 15  # below this many iterations threads cost more than they give


def render(kernel: Kernel, name: str = "fnad_kernel") -> str:
    """C source defining `void name(...)` with `parameters(kernel)` as its arguments."""
    args = ", ".join(f"{t} {n}" for t, n in parameters(kernel))
    lines = [PRELUDE, f"void {name}({args}) {{"]
    if kernel.reduction is None:
        lines.append(f"    #pragma omp parallel for simd if(n > {_PARALLEL_MIN})")
        lines.append("    for (long long i = 0; i < n; ++i) {")
        lines += ["        " + s for s in elementwise_body(kernel, "i")]
    else:
        from fnad.jit.kernels import reduction_body
        lines.append(f"    #pragma omp parallel for if(n > 1 && n * s{kernel.full_rank - 1} > "
                     f"{_PARALLEL_MIN})")
        lines.append("    for (long long o = 0; o < n; ++o) {")
        lines += ["        " + s for s in reduction_body(kernel, "o")]
    lines += ["    }", "}", ""]
    return "\n".join(lines)
