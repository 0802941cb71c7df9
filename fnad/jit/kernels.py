"""The kernel IR: one fused loop nest, rendered to C (CPU) and CUDA (GPU) from one body.

A `Kernel` is keyed only by dtypes, rank and each operand's access pattern; sizes and
strides are run-time arguments, so a new batch size reuses the compiled kernel. Its body
is straight-line C shared by both languages; only the loop around it differs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad.core.primitive import Elementwise, c_type

SCALAR, DENSE, STRIDED = "scalar", "dense", "strided"
# strided inputs whose innermost stride is known: 1 (rows of a view) or 0 (broadcast rows)
UNIT, FIXED = "strided_unit", "strided_fixed"
STRIDED_KINDS = (STRIDED, UNIT, FIXED)


@dataclasses.dataclass(frozen=True)
class Operand:
    """A kernel input: its dtype and how it is read (one value, contiguous, or strided)."""

    dtype: np.dtype
    access: str


@dataclasses.dataclass(frozen=True)
class Op:
    """`value = rule(args)`: one elementwise primitive (or a literal) inside the kernel."""

    prim: str
    rule: Elementwise
    args: tuple[int, ...]
    dtype: np.dtype
    params: tuple[tuple[str, Any], ...] = ()


@dataclasses.dataclass(frozen=True)
class Reduction:
    """Reduce `value` over the trailing `rank` axes of the iteration space."""

    kind: str  # "sum" | "max" | "min"
    value: int
    rank: int


@dataclasses.dataclass(frozen=True)
class Kernel:
    """Values are numbered: inputs first (0..n_in-1), then one per op."""

    inputs: tuple[Operand, ...]
    ops: tuple[Op, ...]
    outputs: tuple[int, ...]
    rank: int
    reduction: Reduction | None = None

    def value_dtype(self, v: int) -> np.dtype:
        n = len(self.inputs)
        return self.inputs[v].dtype if v < n else self.ops[v - n].dtype

    @property
    def output_dtypes(self) -> list[np.dtype]:
        if self.reduction is not None:
            return [self.value_dtype(self.reduction.value)]
        return [self.value_dtype(v) for v in self.outputs]

    @property
    def full_rank(self) -> int:
        return self.rank + (self.reduction.rank if self.reduction else 0)

    def name(self) -> str:
        return "fnad_" + hashlib.sha1(repr(self).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------- expressions

def render_op(op: Op, args: Sequence[str], arg_dtypes: Sequence[np.dtype]) -> str:
    """The C expression of one op (its primitive's `Elementwise` rule applied to `args`)."""
    return op.rule.render(args, arg_dtypes, op.dtype, dict(op.params))


def _accumulator(kind: str, dtype: np.dtype) -> tuple[str, str, str]:
    """(accumulator C type, initial value, combine statement with {acc} and {v})."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        acc_t = "double" if kind == "sum" else c_type(dtype)
        init = {"sum": "0", "max": "-FNAD_INF", "min": "FNAD_INF"}[kind]
        combine = {  # a NaN wins and then sticks, as in NumPy
            "sum": "{acc} += {v};",
            "max": "if ({acc} == {acc} && ({v} > {acc} || {v} != {v})) {acc} = {v};",
            "min": "if ({acc} == {acc} && ({v} < {acc} || {v} != {v})) {acc} = {v};",
        }[kind]
        return acc_t, init, combine
    t = c_type(dtype)
    info = np.iinfo(dtype) if dtype != np.bool_ else None
    lo = f"(({t}){info.min}{'LL' if info and info.bits == 64 and info.min < 0 else ''})" \
        if info else "0"
    hi = f"(({t}){info.max}{'ULL' if info and info.bits == 64 else ''})" if info else "1"
    init = {"sum": "0", "max": lo, "min": hi}[kind]
    combine = {"sum": "{acc} += {v};", "max": "if ({v} > {acc}) {acc} = {v};",
               "min": "if ({v} < {acc}) {acc} = {v};"}[kind]
    return t, init, combine


# ---------------------------------------------------------------------------- bodies

def parameters(kernel: Kernel) -> list[tuple[str, str]]:
    """(C type, name) of every argument, in call order: sizes, then each input (pointer and
    strides when strided), then the outputs. Outputs are always fresh buffers, so no
    pointer aliases another (FNAD_RESTRICT)."""
    params = [("long long", "n")]
    params += [("long long", f"s{d}") for d in range(kernel.full_rank)]
    for k, operand in enumerate(kernel.inputs):
        params.append((f"const {c_type(operand.dtype)}* FNAD_RESTRICT", f"in{k}"))
        if operand.access in STRIDED_KINDS:
            params += [("long long", f"st{k}_{d}") for d in range(kernel.full_rank)]
    for k, dtype in enumerate(kernel.output_dtypes):
        params.append((f"{c_type(dtype)}* FNAD_RESTRICT", f"out{k}"))
    return params


def argument_template(kernel: Kernel, shape: Sequence[int],
                      strides: Sequence[Sequence[int] | None]
                      ) -> tuple[list[Any], list[int], list[int]]:
    """The call's argument values in `parameters` order with None for the arrays, and the
    positions of the inputs and of the outputs: sizes and strides are fixed per launch
    plan, so a launch only fills in the arrays."""
    args: list[Any] = [math.prod(shape[:kernel.rank]), *shape]
    in_at = []
    for operand, st in zip(kernel.inputs, strides):
        in_at.append(len(args))
        args.append(None)
        if operand.access in STRIDED_KINDS:
            args += list(st)
    out_at = list(range(len(args), len(args) + len(kernel.output_dtypes)))
    return args + [None] * len(out_at), in_at, out_at


def arguments(kernel: Kernel, shape: Sequence[int], inputs: Sequence[Any],
              strides: Sequence[Sequence[int] | None], outputs: Sequence[Any],
              pointer: Any) -> list[Any]:
    """The call's argument values in `parameters` order; `pointer(array)` is how the
    launcher passes an array (an address for ctypes, the array itself for CuPy)."""
    args, in_at, out_at = argument_template(kernel, shape, strides)
    for i, x in zip((*in_at, *out_at), (*inputs, *outputs)):
        args[i] = pointer(x)
    return args


def _index_lines(dims: Sequence[int], flat: str) -> list[str]:
    """Split a flat row-major index into per-axis indices i{d}."""
    if not dims:
        return []
    lines = [f"long long t_{flat} = {flat};"]
    for d in reversed(dims):
        lines.append(f"long long i{d} = t_{flat} % s{d}; t_{flat} /= s{d};")
    return lines


def _ops_lines(kernel: Kernel, load: Any) -> list[str]:
    """Load every input with `load(k)`, then compute every op.

    A boolean op's users get its expression itself rather than its variable: GCC does not
    vectorize loops whose float values pass through byte-sized (or int) booleans, such as
    the `x == max(x, 0)` of ReLU's derivative."""
    n_in = len(kernel.inputs)
    lines = [f"const {c_type(o.dtype)} v{k} = {load(k)};" for k, o in enumerate(kernel.inputs)]
    inlined: dict[int, str] = {}
    for j, op in enumerate(kernel.ops):
        expr = render_op(op, [inlined.get(a, f"v{a}") for a in op.args],
                         [kernel.value_dtype(a) for a in op.args])
        t = c_type(op.dtype)
        lines.append(f"const {t} v{n_in + j} = ({t})({expr});")
        if op.dtype == np.bool_:
            inlined[n_in + j] = f"(({t})({expr}))"
    return lines


# -- flat form (CUDA): one index per element, split into axes when a strided input needs it

def _flat_load(kernel: Kernel, k: int, i: str) -> str:
    access = kernel.inputs[k].access
    if access == SCALAR:
        return f"in{k}[0]"
    if access == DENSE:
        return f"in{k}[{i}]"
    return f"in{k}[{' + '.join(f'i{d} * st{k}_{d}' for d in range(kernel.full_rank)) or '0'}]"


def _strided(kernel: Kernel) -> bool:
    return any(o.access in STRIDED_KINDS for o in kernel.inputs)


def elementwise_body(kernel: Kernel, i: str) -> list[str]:
    """The statements computing and storing every output at flat index `i`."""
    lines = _index_lines(range(kernel.rank), i) if _strided(kernel) else []
    lines += _ops_lines(kernel, lambda k: _flat_load(kernel, k, i))
    return lines + [f"out{k}[{i}] = v{v};" for k, v in enumerate(kernel.outputs)]


def reduction_body(kernel: Kernel, o: str) -> list[str]:
    """The statements reducing over the trailing axes for the output at flat index `o`."""
    red = kernel.reduction
    assert red is not None
    acc_t, init, combine = _accumulator(red.kind, kernel.value_dtype(red.value))
    size = " * ".join(f"s{d}" for d in range(kernel.rank, kernel.full_rank)) or "1"
    inner = _index_lines(range(kernel.rank, kernel.full_rank), "j")
    inner += _ops_lines(kernel, lambda k: _flat_load(kernel, k, f"({o} * ({size}) + j)"))
    inner.append(combine.format(acc="acc", v=f"v{red.value}"))
    return (_index_lines(range(kernel.rank), o)
            + [f"{acc_t} acc = {init};", f"for (long long j = 0; j < {size}; ++j) {{"]
            + ["    " + line for line in inner]
            + ["}", f"out0[{o}] = ({c_type(kernel.value_dtype(red.value))})acc;"])


# -- row form (C): index arithmetic once per row, a vectorizable loop along the last axis

def _row_load(kernel: Kernel, k: int, i: str) -> str:
    access = kernel.inputs[k].access
    last = kernel.full_rank - 1
    return {SCALAR: f"in{k}[0]", DENSE: f"in{k}[{i}]", UNIT: f"in{k}[b{k} + j]",
            FIXED: f"in{k}[b{k}]", STRIDED: f"in{k}[b{k} + j * st{k}_{last}]"}[access]


def _row_setup(kernel: Kernel, row: str, dims: Sequence[int]) -> list[str]:
    """The axis indices `dims` of a row and each strided input's offset at its start
    (nothing when every input is dense or scalar)."""
    if not _strided(kernel):
        return []
    lines = _index_lines(dims, row)
    for k, o in enumerate(kernel.inputs):
        if o.access in STRIDED_KINDS:
            terms = [f"i{d} * st{k}_{d}" for d in range(kernel.full_rank - 1)]
            lines.append(f"const long long b{k} = {' + '.join(terms) or '0'};")
    return lines


def row_loops(kernel: Kernel, parallel: str, simd: str) -> list[str]:
    """The whole loop nest of the C rendering; `parallel` and `simd` are the pragmas."""
    if kernel.full_rank == 0:
        lines = _ops_lines(kernel, lambda k: f"in{k}[0]")
        if kernel.reduction is None:
            return lines + [f"out{k}[0] = v{v};" for k, v in enumerate(kernel.outputs)]
        return lines + [f"out0[0] = v{kernel.reduction.value};"]
    if kernel.reduction is None and not _strided(kernel):
        # one flat loop: rows would leave a 1-d array on one thread
        body = _ops_lines(kernel, lambda k: _row_load(kernel, k, "i"))
        body += [f"out{k}[i] = v{v};" for k, v in enumerate(kernel.outputs)]
        return [parallel.replace(" for ", " for simd ", 1),
                "for (long long i = 0; i < n; ++i) {", *("    " + x for x in body), "}"]
    last = f"s{kernel.full_rank - 1}"
    head = ["if (n == 0) return;", f"const long long inner = {last};"]
    if kernel.reduction is None:
        body = _ops_lines(kernel, lambda k: _row_load(kernel, k, "i"))
        body += [f"out{k}[i] = v{v};" for k, v in enumerate(kernel.outputs)]
        return head + [
            "const long long rows = inner ? n / inner : 0;", parallel,
            "for (long long row = 0; row < rows; ++row) {",
            *("    " + x for x in _row_setup(kernel, "row", range(kernel.full_rank - 1))),
            "    const long long base = row * inner;", "    " + simd,
            "    for (long long j = 0; j < inner; ++j) {", "        const long long i = base + j;",
            *("        " + x for x in body), "    }", "}"]
    red = kernel.reduction
    acc_t, init, combine = _accumulator(red.kind, kernel.value_dtype(red.value))
    red_size = " * ".join(f"s{d}" for d in range(kernel.rank, kernel.full_rank))
    body = _ops_lines(kernel, lambda k: _row_load(kernel, k, "i"))
    body.append(combine.format(acc="acc", v=f"v{red.value}"))
    red_simd = simd + " reduction(+:acc)" if red.kind == "sum" else ""
    out_index = _index_lines(range(kernel.rank), "o") if _strided(kernel) else []
    return head + [
        f"const long long red_rows = inner ? ({red_size}) / inner : 0;", parallel,
        "for (long long o = 0; o < n; ++o) {",
        *("    " + x for x in out_index),
        f"    {acc_t} acc = {init};",
        "    for (long long rr = 0; rr < red_rows; ++rr) {",
        *("        " + x for x in _row_setup(kernel, "rr",
                                             range(kernel.rank, kernel.full_rank - 1))),
        "        const long long base = (o * red_rows + rr) * inner;",
        "        " + red_simd,
        "        for (long long j = 0; j < inner; ++j) {",
        "            const long long i = base + j;",
        *("            " + x for x in body), "        }", "    }",
        f"    out0[o] = ({c_type(kernel.value_dtype(red.value))})acc;", "}"]


def source_hash(source: str, *extra: str) -> str:
    return hashlib.sha256("\0".join((source, *extra)).encode()).hexdigest()[:24]
