"""C rendering of a `Kernel`: a loop over rows (OpenMP-parallel when the compiler has it)
around a vectorizable loop along the last axis, compiled into a shared library by
`fnad.backends.c_backend`."""

from __future__ import annotations

from fnad.jit.kernels import Kernel, parameters, row_loops

PRELUDE = """#include <math.h>
#define FNAD_INF INFINITY
#define FNAD_RESTRICT restrict
"""

_PARALLEL_MIN = 1 << 15  # below this many elements threads cost more than they give


def render(kernel: Kernel, name: str = "fnad_kernel") -> str:
    """C source defining `void name(...)` with `parameters(kernel)` as its arguments."""
    args = ", ".join(f"{t} {n}" for t, n in parameters(kernel))
    total = "n" if kernel.reduction is None else \
        "n * " + " * ".join(f"s{d}" for d in range(kernel.rank, kernel.full_rank))
    parallel = f"#pragma omp parallel for if({total} > {_PARALLEL_MIN})"
    if kernel.reduction is not None:
        parallel = f"#pragma omp parallel for if(n > 1 && {total} > {_PARALLEL_MIN})"
    lines = row_loops(kernel, parallel, "#pragma omp simd")
    return "\n".join([PRELUDE, f"void {name}({args}) {{", *("    " + x for x in lines), "}", ""])
