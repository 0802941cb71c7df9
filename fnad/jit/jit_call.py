"""`jit_call`: a call of a compiled function, holding its closed jaxpr (param `jaxpr`).

`jit(f)` binds it when called under another transform. Its rules transform the inner jaxpr
(jvp, partial evaluation, transpose, batching) and bind `jit_call` again on the result, so
`grad(jit(f))` and `vmap(jit(f))` keep running compiled code. Derived jaxprs are cached on
the identity of the jaxpr they come from, so the executables compiled for them are reused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fnad.core import cache
from fnad.core.cache import IdentityCache
from fnad.core.errors import ShapeError
from fnad.core.ir import ClosedJaxpr, ShapedArray, typematch
from fnad.core.primitive import JaxprCall, Primitive, Zero
from fnad.interpreters.batching import batch_jaxpr
from fnad.interpreters.jvp import instantiate, jvp_jaxpr
from fnad.interpreters.partial_eval import partial_eval_jaxpr
from fnad.interpreters.transpose import is_undefined, transpose_jaxpr
from fnad.jit import passes
from fnad.jit.executable import compile_jaxpr

_derived = IdentityCache()


def _optimized(closed: ClosedJaxpr) -> ClosedJaxpr:
    return passes.optimize(closed)


jit_call_p = Primitive("jit_call", multiple_results=True)


def _jit_call_impl(*args: Any, jaxpr: ClosedJaxpr, name: str) -> list[Any]:
    return compile_jaxpr(jaxpr, name=name)(*args)


jit_call_p.def_impl(_jit_call_impl)
jit_call_p.def_impl(lambda *args, jaxpr, name: compile_jaxpr(jaxpr, "cupy", name=name)(*args),
                    "cupy")


@jit_call_p.def_abstract_eval
def _jit_call_abstract_eval(*avals: ShapedArray, jaxpr: ClosedJaxpr, name: str
                            ) -> list[ShapedArray]:
    if len(avals) != len(jaxpr.in_avals) or not all(map(typematch, avals, jaxpr.in_avals)):
        raise ShapeError(f"{name} was compiled for inputs {jaxpr.in_avals}, got {list(avals)}")
    return jaxpr.out_avals


def _jit_call_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, jaxpr: ClosedJaxpr,
                  name: str) -> tuple[list[Any], list[Any]]:
    nonzeros = tuple(type(t) is not Zero for t in tangents)

    def make() -> tuple[ClosedJaxpr, list[bool]]:
        closed, out_nz = jvp_jaxpr(jaxpr, nonzeros, instantiate_out=False)
        return _optimized(closed), out_nz

    closed, out_nz = _derived.get_or_make(jaxpr, ("jvp", nonzeros, cache.RULES_VERSION), make)
    outs = jit_call_p.bind(*primals, *(t for t in tangents if type(t) is not Zero),
                           jaxpr=closed, name=f"jvp({name})")
    n = len(jaxpr.out_avals)
    touts = iter(outs[n:])
    return outs[:n], [next(touts) if nz else Zero(a) for nz, a in zip(out_nz, jaxpr.out_avals)]


def _jit_call_partial_eval(trace: Any, args: Sequence[Any], params: dict) -> list[Any]:
    """Known inputs -> a compiled call now (outputs + residuals); the rest is staged as a
    second `jit_call` taking the residuals and the unknown inputs."""
    jaxpr, name = params["jaxpr"], params["name"]
    unknowns = tuple(trace.is_unknown(a) for a in args)

    def make() -> tuple[ClosedJaxpr, ClosedJaxpr, list[bool], int]:
        known, unknown, out_unknown, num_res = partial_eval_jaxpr(jaxpr, unknowns)
        return _optimized(known), _optimized(unknown), out_unknown, num_res

    known, unknown, out_unknown, num_res = _derived.get_or_make(jaxpr, ("pe", unknowns, cache.RULES_VERSION), make)
    known_outs = trace.bind_known(jit_call_p, [a for a, u in zip(args, unknowns) if not u],
                                  dict(jaxpr=known, name=name))
    n_known = len(known_outs) - num_res
    staged = trace.stage(jit_call_p, [*known_outs[n_known:],
                                      *(a for a, u in zip(args, unknowns) if u)],
                         dict(jaxpr=unknown, name=name))
    known_it, staged_it = iter(known_outs[:n_known]), iter(staged)
    return [next(staged_it) if u else next(known_it) for u in out_unknown]


def _jit_call_transpose(cts: Sequence[Any], *args: Any, jaxpr: ClosedJaxpr, name: str
                        ) -> list[Any]:
    linear = tuple(is_undefined(a) for a in args)
    closed = _derived.get_or_make(jaxpr, ("transpose", linear, cache.RULES_VERSION),
                                  lambda: _optimized(transpose_jaxpr(jaxpr, linear)))
    outs = iter(jit_call_p.bind(*(a for a in args if not is_undefined(a)),
                                *(instantiate(ct) for ct in cts),
                                jaxpr=closed, name=f"transpose({name})"))
    return [next(outs) if lin else None for lin in linear]


def _jit_call_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[int | None], *,
                    jaxpr: ClosedJaxpr, name: str) -> tuple[list[Any], list[int | None]]:
    def make() -> tuple[ClosedJaxpr, list[bool]]:
        closed, out_batched = batch_jaxpr(jaxpr, axis_size, dims)
        return _optimized(closed), out_batched

    closed, out_batched = _derived.get_or_make(jaxpr, ("batch", axis_size, getattr(axis_size, "name", None), tuple(dims),
                                          cache.RULES_VERSION), make)
    outs = jit_call_p.bind(*vals, jaxpr=closed, name=f"vmap({name})")
    return outs, [0 if b else None for b in out_batched]


jit_call_p.def_jvp(_jit_call_jvp)
jit_call_p.partial_eval = _jit_call_partial_eval
jit_call_p.def_transpose(_jit_call_transpose)
jit_call_p.def_batch(_jit_call_batch)
jit_call_p.kernel = JaxprCall("jaxpr")

__all__ = ["jit_call_p"]
