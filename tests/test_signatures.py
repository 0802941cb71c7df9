"""Every fnad callable that mirrors a JAX (or optax) one accepts JAX's parameters: the same
names at the same positions, keyword-only where JAX's are, a default wherever JAX has one
(the same default when it is a literal), and nothing more that a JAX call would leave out.

JAX's signatures are vendored in `data/jax_signatures.json` (parameters as a Python
signature writes them: 'x', 'axis=None', 'fn=...' for a default that is not a literal, '/'
and '*' markers, '*args', '**kwargs'), so this test needs no JAX.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pathlib
from typing import Any

import pytest

_DATA = json.loads((pathlib.Path(__file__).parent / "data" / "jax_signatures.json").read_text())

# (module, name) -> why fnad's signature deliberately differs from JAX's
ALLOWED: dict[tuple[str, str], str] = {
    ("fnad.numpy", "array"): "JAX's *args only catches its deprecated positional copy/order/"
                             "ndmin; fnad takes them positionally in NumPy's order as well",
    ("fnad.numpy", "vectorize"): "NumPy's class signature (pyfunc, otypes, doc, excluded, "
                                 "cache, signature): JAX's keyword calls work",
    ("fnad", "jit"): "options positional as well as keyword (every JAX call works); () and "
                     "None both mean none (fnad/jit/api.py is not this test's owner's)",
    ("fnad.tree", "tree_all"): "not yet: is_leaf is positional-or-keyword (JAX's is "
                               "keyword-only); every JAX call works",
    ("fnad.tree (jax.tree)", "all"): "as fnad.tree.tree_all",
    **{("fnad.lax", n): "fnad's gather/scatter take NumPy-style indices instead of XLA's "
                        "dimension numbers (listed in fnad/_not_planned.py)"
       for n in ("gather", "scatter", "scatter_add", "scatter_apply", "scatter_max",
                 "scatter_min", "scatter_mul", "scatter_sub")},
}

P = inspect.Parameter
_KINDS = {P.POSITIONAL_ONLY: "positional-only", P.POSITIONAL_OR_KEYWORD: "positional",
          P.KEYWORD_ONLY: "keyword-only"}


def _jax_params(spec: list[str]) -> list[tuple[str, Any, str | None]]:
    """(name, kind, default as written or None) for each parameter of a vendored spec."""
    out: list[tuple[str, Any, str | None]] = []
    keyword_only = False
    for item in spec:
        if item == "/":
            out = [(n, P.POSITIONAL_ONLY, d) for n, _, d in out]
        elif item == "*":
            keyword_only = True
        elif item.startswith("**"):
            out.append((item[2:], P.VAR_KEYWORD, None))
        elif item.startswith("*"):
            out.append((item[1:], P.VAR_POSITIONAL, None))
            keyword_only = True
        else:
            name, _, default = item.partition("=")
            out.append((name, P.KEYWORD_ONLY if keyword_only else P.POSITIONAL_OR_KEYWORD,
                        default if _ else None))
    return out


def _module(key: str) -> Any:
    return importlib.import_module(key.split(" ")[0])


def _cases() -> list[tuple[str, str]]:
    return [(key, name) for key, table in sorted(_DATA["modules"].items())
            for name in sorted(table["names"])]


def mismatches(spec: list[str], fn: Any) -> list[str]:
    """What a call written for JAX's signature `spec` would find wrong with `fn`'s."""
    sig = inspect.signature(fn)
    ours = list(sig.parameters.values())
    by_name = sig.parameters
    var_pos = any(p.kind == P.VAR_POSITIONAL for p in ours)
    var_kw = any(p.kind == P.VAR_KEYWORD for p in ours)
    positional = [p for p in ours if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)]
    problems = []
    theirs = _jax_params(spec)
    jax_positional = [t for t in theirs if t[1] in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)]
    for i, (name, kind, _) in enumerate(jax_positional):
        if name.startswith("_"):  # JAX's private hooks (_dot_general, _split_transpose)
            continue
        if i >= len(positional):
            if not var_pos or kind == P.POSITIONAL_OR_KEYWORD:
                problems.append(f"no positional parameter {i} ({name!r})")
            continue
        p = positional[i]
        if kind == P.POSITIONAL_OR_KEYWORD and (p.name != name or p.kind != kind):
            problems.append(f"positional parameter {i} is {_KINDS[p.kind]} {p.name!r}, "
                            f"JAX's is {name!r}")
    jax_names = {name for name, *_ in theirs}
    for name, kind, default in theirs:
        if name.startswith("_"):
            continue
        if kind == P.VAR_POSITIONAL:
            if not var_pos and len(jax_positional):
                problems.append(f"no *{name}")
            continue
        if kind == P.VAR_KEYWORD:
            if not var_kw:
                problems.append(f"no **{name}")
            continue
        p = by_name.get(name)
        if kind == P.KEYWORD_ONLY:
            if p is None:
                if not var_kw:
                    problems.append(f"lacks keyword {name!r}")
                continue
            if p.kind != P.KEYWORD_ONLY:
                problems.append(f"{name!r} is {_KINDS.get(p.kind, p.kind)}, JAX's is keyword-only")
        if p is None or kind == P.POSITIONAL_ONLY:
            continue
        if default is not None and p.default is P.empty:
            problems.append(f"{name!r} has no default, JAX's is {default}")
        elif default not in (None, "...") and p.default is not P.empty \
                and repr(p.default) != default and not _same_default(p.default, default):
            problems.append(f"default {name}={p.default!r}, JAX's is {default}")
    jax_var_pos = any(kind == P.VAR_POSITIONAL for _, kind, _ in theirs)
    for i, p in enumerate(positional):
        if i < len(jax_positional) or jax_var_pos:
            continue  # JAX's positional parameter there (or its *args) takes it
        if p.default is P.empty:
            problems.append(f"requires positional {p.name!r}, which JAX does not have")
    for p in ours:
        if p.kind == P.KEYWORD_ONLY and p.default is P.empty and p.name not in jax_names:
            problems.append(f"requires keyword {p.name!r}, which JAX does not have")
    return problems


def _same_default(ours: Any, theirs: str) -> bool:
    """1 and 1.0, 'float32' and float32: the same default written differently."""
    try:
        return bool(ours == eval(theirs, {"__builtins__": {}}))  # noqa: S307 (literals only)
    except Exception:
        return False


@pytest.mark.parametrize("key,name", _cases(), ids=lambda v: v)
def test_jax_signature(key: str, name: str) -> None:
    module = _module(key)
    fn = getattr(module, name, None)
    if fn is None:
        pytest.skip(f"{key} has no {name} (test_api_coverage checks the names)")
    try:
        inspect.signature(fn)
    except (TypeError, ValueError):
        pytest.skip(f"{key}.{name} has no Python signature")
    problems = mismatches(_DATA["modules"][key]["names"][name], fn)
    reason = ALLOWED.get((key, name))
    if reason is not None:
        assert problems, f"{key}.{name} now matches JAX: remove it from ALLOWED"
        return
    assert not problems, f"{key}.{name}{inspect.signature(fn)}: " + "; ".join(problems)


def test_mismatches_catches_missing_and_reordered() -> None:
    def ok(a, axis=None, *, where=None): ...
    def missing(a, axis=None): ...
    def reordered(axis, a=None, *, where=None): ...
    def positional_kw(a, axis=None, where=None): ...
    spec = ["a", "axis=None", "*", "where=None"]
    assert mismatches(spec, ok) == []
    assert mismatches(spec, missing) == ["lacks keyword 'where'"]
    assert any("positional parameter 0" in m for m in mismatches(spec, reordered))
    assert mismatches(spec, positional_kw) == ["'where' is positional, JAX's is keyword-only"]


def test_vendored_signatures_cover_the_api() -> None:
    """The table is JAX's whole mapped API (so that an emptied file cannot pass silently),
    and every allowlisted difference names a vendored function."""
    modules = _DATA["modules"]
    for key in ("fnad.numpy", "fnad.numpy.linalg", "fnad.lax", "fnad.random", "fnad.nn",
                "fnad.scipy.special", "fnad.scipy.linalg", "fnad.scipy.stats.norm", "fnad.optim",
                "fnad"):
        assert len(modules[key]["names"]) >= 10 or key == "fnad.scipy.stats.norm", key
    assert len(_cases()) > 1000
    for key, name in ALLOWED:
        assert name in modules[key]["names"], (key, name)
