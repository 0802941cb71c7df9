"""C rendering of a `Kernel`: a loop over rows (OpenMP-parallel when the compiler has it)
around a vectorizable loop along the last axis, compiled into a shared library by
`fnad.backends.c_backend`."""

from __future__ import annotations

from fnad.jit.kernels import Kernel, parameters, row_loops

# Math functions with vector versions in glibc's libmvec; declaring them `declare simd`
# lets loops that call them vectorize (c_backend defines FNAD_MVEC when they link).
MVEC_UNARY = ("sin", "cos", "tan", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p",
              "sinh", "cosh", "tanh", "asin", "acos", "atan", "asinh", "acosh", "atanh",
              "cbrt", "erf", "erfc")
MVEC_BINARY = ("pow", "atan2", "hypot")


def _vector_declarations() -> str:
    lines = []
    for t, f in (("float", "f"), ("double", "")):
        lines += [f"#pragma omp declare simd notinbranch\n{t} {name}{f}({t});"
                  for name in MVEC_UNARY]
        lines += [f"#pragma omp declare simd notinbranch\n{t} {name}{f}({t}, {t});"
                  for name in MVEC_BINARY]
    return "\n".join(lines)


PRELUDE = f"""#include <math.h>
#define FNAD_INF INFINITY
#define FNAD_RESTRICT restrict
#ifdef FNAD_MVEC
{_vector_declarations()}
#endif
"""

# Below this many elements a kernel runs on the calling thread: waking OpenMP's team costs
# more than it gives, and a team spinning beside the BLAS's own threads on a small machine
# takes turns with them in scheduler slices (issue 21: a 128x512 kernel took 5 ms with one
# core busy elsewhere, 0.05 ms serial).
_PARALLEL_MIN = 1 << 22


def render(kernel: Kernel, name: str = "fnad_kernel") -> str:
    """C source defining `void name(...)` with `parameters(kernel)` as its arguments, and
    `void name_packed(const long long *a)` taking them as one array."""
    return PRELUDE + function(kernel, name)


def function(kernel: Kernel, name: str) -> str:
    """The definitions of `name` and `name_packed` alone (sources of several kernels share
    one `PRELUDE`)."""
    args = ", ".join(f"{t} {n}" for t, n in parameters(kernel))
    total = "n" if kernel.reduction is None else \
        "n * " + " * ".join(f"s{d}" for d in range(kernel.rank, kernel.full_rank))
    # `if(parallel: ...)`: a bare `if` on `parallel for simd` would turn off simd too
    parallel = f"#pragma omp parallel for if(parallel: {total} > {_PARALLEL_MIN})"
    if kernel.reduction is not None:
        parallel = (f"#pragma omp parallel for if(parallel: n > 1 && {total} > "
                    f"{_PARALLEL_MIN})")
    lines = row_loops(kernel, parallel, "#pragma omp simd")
    # the same call with every argument in one array: one entry point of one C signature,
    # which c_backend's launcher calls without building a ctypes call per launch
    unpacked = ", ".join(f"a[{i}]" if t == "long long" else f"(void *)(__INTPTR_TYPE__)a[{i}]"
                         for i, (t, _) in enumerate(parameters(kernel)))
    return "\n".join(["", f"void {name}({args}) {{", *("    " + x for x in lines), "}",
                      f"void {name}_packed(const long long *a) {{ {name}({unpacked}); }}", ""])
