"""`jit`: trace once per (argument structure, shapes and dtypes, static values), optimize,
compile, cache; later calls only flatten, look up and run the generated code. Under another
transform a jitted function binds `jit_call`, whose rules keep the work compiled.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from fnad import tree as tree_util
from fnad.config import config
from fnad.core.cache import Cache
from fnad.core.errors import ArgumentError, ArgumentTypeError, api_boundary
from fnad.core.ir import (
    ClosedJaxpr,
    Jaxpr,
    ShapedArray,
    abstractify,
    short_dtype,
    weak_array,
    weak_default,
)
from fnad.core.trace import EvalTrace, Tracer, escaped_error, state
from fnad.device import is_gpu_array
from fnad.interpreters.batching import named_axes
from fnad.interpreters.staging import trace_to_jaxpr
from fnad.jit import passes
from fnad.jit.executable import Executable, compile_jaxpr
from fnad.jit.jit_call import jit_call_p

logger = logging.getLogger("fnad.jit")

# set inside `disable_jit` blocks; None outside them, where config.disable_jit decides
_disabled: contextvars.ContextVar[bool | None] = contextvars.ContextVar("fnad_disable_jit",
                                                                         default=None)
_ndarray = np.ndarray
_PY_NUMBERS = (bool, int, float, complex)


@contextlib.contextmanager
def disable_jit(disable: bool = True) -> Iterator[None]:
    """Run jitted functions as plain Python inside this block (for print and pdb debugging).

    >>> import numpy as np, fnad
    >>> f = fnad.jit(lambda x: print("got", type(x).__name__) or x + 1)
    >>> with fnad.disable_jit():
    ...     y = f(np.ones(2, np.float32))
    got ndarray
    """
    token = _disabled.set(disable)
    try:
        yield
    finally:
        _disabled.reset(token)


def _leaf_key(x: Any) -> tuple:
    """(shape, dtype) of a leaf that is not an ndarray (a NumPy or Python scalar), with a
    third entry True for a weakly typed one: JAX's cache key holds weak types, so a Python
    float and a float64 array trace separately (they promote differently)."""
    if type(x) in _PY_NUMBERS:  # weakly typed, but for bools (see `abstractify`)
        return _aval_key(abstractify(x))
    if isinstance(x, np.generic):
        return (), x.dtype
    if isinstance(x, Tracer):
        raise escaped_error(x)
    if is_gpu_array(x):  # a CuPy array: run by the "cupy" executable (see Jitted.__call__)
        return tuple(x.shape), x.dtype
    raise ArgumentTypeError(f"jit: an argument leaf of type {type(x).__name__} ({x!r}) is not "
                            "an array; pass arrays (or pytrees of them), or mark the argument "
                            "static with static_argnums / static_argnames")


def _as_arrays(leaves: Sequence[Any]) -> list[Any]:
    return [weak_array(x) for x in leaves]


def _non_ndarrays(leaves: list[Any]) -> tuple[bool, list[Any]]:
    """(whether a leaf is a CuPy array, the leaves with Python numbers as 0-d arrays),
    looking only at the leaves that are not ndarrays (a step count among many weights)."""
    gpu, out = False, list(leaves)
    for i, x in enumerate(out):
        if type(x) is not _ndarray:
            gpu = gpu or is_gpu_array(x)
            out[i] = weak_array(x)
    return gpu, out


def _aval_key(a: ShapedArray) -> tuple:
    return (a.shape, a.dtype, True) if a.weak_type else (a.shape, a.dtype)


def _output_leaf(x: Any) -> Any:
    if type(x) in _PY_NUMBERS:  # a Python number returned: its default dtype, as fnad.numpy's
        from fnad.lax.elementwise import asarray_like
        return asarray_like(x)[0]
    if not hasattr(x, "dtype"):
        raise ArgumentTypeError(f"a jitted function returned {type(x).__name__}, which is not "
                                "an array; return arrays (or pytrees of them)")
    return x


class _Entry:
    """One cache entry: the traced and optimized jaxprs and, once run eagerly, the executable.

    `extra` holds tracers of enclosing transforms that the function closed over; they are
    passed to `jit_call` as leading operands (such entries are used once, not cached).
    """

    __slots__ = ("traced", "closed", "out_tree", "donated", "extra", "executable",
                 "gpu_executable", "weak_out")

    def __init__(self, traced: ClosedJaxpr, closed: ClosedJaxpr, out_tree: Any,
                 donated: tuple[bool, ...], extra: list[Any]):
        self.traced, self.closed, self.out_tree = traced, closed, out_tree
        self.donated, self.extra = donated, extra
        # weakly typed outputs leave as their kind's default dtype (float32...), eagerly
        weak = [a.weak_type for a in closed.out_avals]
        self.weak_out = weak if any(weak) else None
        self.executable: Executable | None = None
        self.gpu_executable: Executable | None = None  # for CuPy arguments


def _hoist_tracer_consts(closed: ClosedJaxpr) -> tuple[ClosedJaxpr, list[Any]]:
    """Turn constants that are tracers of an enclosing transform into leading inputs."""
    jaxpr = closed.jaxpr
    pairs = list(zip(jaxpr.constvars, closed.consts))
    moved = [(v, c) for v, c in pairs if isinstance(c, Tracer)]
    if not moved:
        return closed, []
    kept = [(v, c) for v, c in pairs if not isinstance(c, Tracer)]
    new = Jaxpr([v for v, _ in kept], [v for v, _ in moved] + jaxpr.invars, jaxpr.eqns,
                jaxpr.outvars)
    return ClosedJaxpr(new, [c for _, c in kept]), [c for _, c in moved]


def _dyn_positions(args: tuple, statics: Any) -> list[int]:
    """The original positions of the dynamic positional arguments."""
    fixed = {i for i, _ in statics[0]} if statics is not None else set()
    return [i for i in range(len(args) + len(fixed)) if i not in fixed]


def _describe_aval(key: tuple) -> str:
    weak = "~" if len(key) == 3 else ""
    return f"{weak}{short_dtype(key[1])}[{','.join(map(str, key[0]))}]"


# (function, options) -> its traces: `jit(f)` made twice (as in `jit(f)(x)` in a loop)
# shares one cache, as JAX's jit does, instead of tracing and compiling on every call
_SHARED_ENTRIES = Cache(maxsize=1024)


def _entries_of(f: Callable[..., Any], options: tuple) -> Cache:
    """The cache of call signature -> _Entry for `f` jitted with `options`."""
    try:
        return _SHARED_ENTRIES.get_or_make((f, options), lambda: Cache(maxsize=4096))
    except TypeError:  # an unhashable callable: a cache of its own
        return Cache(maxsize=4096)


def _as_set(option: Any, one: type) -> set:
    """A jit option given as one `one` (an index or a name), a sequence of them, or None."""
    return {option} if isinstance(option, one) else set(option or ())


class Jitted:
    """A jitted function: call it like the original. See `jit`."""

    def __init__(self, f: Callable[..., Any], static_argnums: int | Sequence[int] | None = (),
                 static_argnames: str | Sequence[str] | None = (),
                 donate_argnums: int | Sequence[int] | None = (), backend: str | None = None,
                 donate_argnames: str | Sequence[str] | None = ()):
        functools.update_wrapper(self, f)
        self._f = f
        self._name = getattr(f, "__name__", type(f).__name__)
        nums, names = _as_set(static_argnums, int), _as_set(static_argnames, str)
        try:
            params = list(inspect.signature(f).parameters.values())
        except (TypeError, ValueError):
            params = []
        self._param_names = [p.name for p in params if p.kind in (
            p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if params and not any(p.kind is p.VAR_POSITIONAL for p in params):
            n = len(self._param_names)
            if any(not -n <= i < n for i in nums):
                raise ArgumentError(f"jit({self._name}): static_argnums {sorted(nums)} is out "
                                    f"of range for a function of {n} positional parameters")
        if params and not any(p.kind is p.VAR_KEYWORD for p in params):
            unknown = sorted(names - {p.name for p in params})
            if unknown:
                raise ArgumentError(f"jit({self._name}): static_argnames {unknown} name no "
                                    f"parameter of {self._name}{tuple(p.name for p in params)}")
        for i, n in enumerate(self._param_names):  # a static arg may come either way
            if n in names:
                nums.add(i)
            if i in nums and params[i].kind is not params[i].POSITIONAL_ONLY:
                names.add(n)
        self._static_argnums = frozenset(nums)
        self._static_argnames = frozenset(names)
        self._has_static = bool(nums or names)
        donate_names = _as_set(donate_argnames, str)
        self._donate = frozenset(_as_set(donate_argnums, int) | {
            i for i, n in enumerate(self._param_names) if n in donate_names})
        if self._donate & self._static_argnums:
            raise ArgumentError(f"jit({self._name}): arguments "
                                f"{sorted(self._donate & self._static_argnums)} are both static "
                                "and donated; only array arguments can be donated")
        self._backend = backend
        self._cache = _entries_of(f, (self._static_argnums, self._static_argnames,
                                      self._donate, backend))
        self.trace_count = 0
        self.compile_count = 0

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else functools.partial(self, obj)

    def __repr__(self) -> str:
        return f"<jit({self._name})>"

    # ------------------------------------------------------------------ calling

    @functools.partial(api_boundary, name="jit", wrap_results=False)
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        disabled = _disabled.get()
        if config.disable_jit if disabled is None else disabled:
            return self._f(*args, **kwargs)
        statics = None
        if self._has_static:
            args, kwargs, statics = self._split(args, kwargs)
        leaves, treedef = tree_util.tree_flatten((args, kwargs))
        if type(state.trace) is not EvalTrace:
            return self._call_traced(leaves, treedef, statics, args, kwargs)
        key = (treedef, tuple([(x.shape, x.dtype) if type(x) is _ndarray else _leaf_key(x)
                               for x in leaves]), statics, ())
        entry = self._cache.get(key)
        if entry is None:
            entry = self._miss(key, args, kwargs)
        gpu = False
        for x in leaves:
            if type(x) is not _ndarray:  # a scalar or a CuPy array among them
                gpu, leaves = _non_ndarrays(leaves)
                break
        exe = (entry.gpu_executable or self._compile(entry, "cupy")) if gpu else \
            (entry.executable or self._compile(entry))
        outs = exe.fn(*leaves)
        if config.debug_nans or config.debug_infs:
            exe.check_finite(leaves, outs)
        if entry.weak_out is not None:
            outs = [o.astype(weak_default(o.dtype)) if w else o
                    for o, w in zip(outs, entry.weak_out)]
        return tree_util.tree_unflatten(entry.out_tree, outs)

    def _call_traced(self, leaves: list[Any], treedef: Any, statics: Any, args: tuple,
                     kwargs: dict) -> Any:
        """Under another transform: bind `jit_call` on the (cached) optimized jaxpr."""
        avals = tuple(_aval_key(abstractify(x)) for x in leaves)
        leaves = _as_arrays(leaves)
        # collectives bake the sizes of the named vmap axes in effect into the trace
        key = (treedef, avals, statics, named_axes(state.trace))
        entry = self._cache.get(key)
        if entry is None:
            entry = self._miss(key, args, kwargs)
        outs = jit_call_p.bind(*entry.extra, *leaves, jaxpr=entry.closed, name=self._name)
        return tree_util.tree_unflatten(entry.out_tree, outs)

    def _split(self, args: tuple, kwargs: dict) -> tuple[tuple, dict, Any]:
        """(dynamic args, dynamic kwargs, hashable static values)."""
        n = len(args)
        pos = sorted({i % n for i in self._static_argnums if -n <= i < n})
        static_pos = tuple((i, args[i]) for i in pos)
        static_kw = tuple(sorted((k, v) for k, v in kwargs.items()
                                 if k in self._static_argnames))
        for where, value in [(f"argument {i}", v) for i, v in static_pos] + \
                            [(f"argument '{k}'", v) for k, v in static_kw]:
            try:
                hash(value)
            except TypeError:
                raise ArgumentError(
                    f"jit({self._name}): static {where} is a {type(value).__name__}, which is "
                    "not hashable. Static arguments are part of the cache key: pass a "
                    "hashable value (a tuple instead of a list, a frozen dataclass), or make "
                    "the argument a regular traced one.") from None
        dyn_args = tuple(a for i, a in enumerate(args) if i not in pos)
        dyn_kwargs = {k: v for k, v in kwargs.items() if k not in self._static_argnames}
        return dyn_args, dyn_kwargs, (static_pos, static_kw)

    # ------------------------------------------------------------------ tracing, compiling

    def _miss(self, key: Any, args: tuple, kwargs: dict) -> _Entry:
        treedef, avals, statics, _ = key
        if config.explain_cache_misses and self.trace_count:
            logger.warning("jit(%s): retracing (trace %d): %s", self._name,
                           self.trace_count + 1, self._explain_miss(key, args, kwargs))
        static_pos, static_kw = statics if statics is not None else ((), ())
        store: dict[str, Any] = {}

        def flat(*xs: Any) -> list[Any]:
            dyn, kw = tree_util.tree_unflatten(treedef, xs)
            it, fixed = iter(dyn), dict(static_pos)
            full = [fixed[i] if i in fixed else next(it)
                    for i in range(len(dyn) + len(static_pos))]
            out = self._f(*full, **kw, **dict(static_kw))
            out_leaves, store["tree"] = tree_util.tree_flatten(out)
            return [_output_leaf(x) for x in out_leaves]

        self.trace_count += 1
        traced = trace_to_jaxpr(flat, [ShapedArray(k[0], k[1], len(k) == 3) for k in avals],
                                transform="jit")
        traced, extra = _hoist_tracer_consts(traced)
        with EvalTrace(None):
            closed = passes.optimize(traced)
        donated = tuple(i in self._donate for i, a in zip(_dyn_positions(args, statics), args)
                        for _ in tree_util.tree_leaves(a))
        donated += (False,) * (len(avals) - len(donated))
        entry = _Entry(traced, closed, store["tree"], donated, extra)
        if not extra:
            self._cache.put(key, entry)
        return entry

    def _compile(self, entry: _Entry, backend: str | None = None) -> Executable:
        """The entry's executable for `backend` ("cupy" for CuPy arguments, else jit's)."""
        self.compile_count += 1
        logger.log(logging.WARNING if config.log_compiles else logging.DEBUG,
                   "compiling %s for %s on the %s backend", self._name,
                   ", ".join(str(a) for a in entry.closed.in_avals),
                   backend or self._backend or config.jit_backend)
        exe = compile_jaxpr(entry.closed, backend or self._backend, entry.donated,
                            self._name, optimize=False, traced=entry.traced)
        if backend == "cupy":
            entry.gpu_executable = exe
        else:
            entry.executable = exe
        return exe

    def _explain_miss(self, key: Any, args: tuple, kwargs: dict) -> str:
        """Which argument's structure, shape, dtype or static value differs from the
        closest cached call."""
        treedef, avals, statics, axes = key
        keys = self._cache.keys()
        if not keys:
            return "the cache was cleared"
        if all(k[3] != axes for k in keys):
            return f"the named vmap axes in effect changed to {axes}"
        same_tree = [k for k in keys if k[0] == treedef]
        if not same_tree:
            old = keys[-1][0]
            return f"the argument structure changed from {old} to {treedef}"
        names = self._leaf_names(args, kwargs, statics)

        def diffs(old: Any) -> list[tuple[int, str]]:
            """(how many components differ, description) per difference."""
            out = []
            for name, a, b in zip(names, old[1], avals):
                what = [w for w, x, y in (("shape", a[0], b[0]), ("dtype", a[1], b[1]),
                                          ("weak type", a[2:], b[2:])) if x != y]
                if what:
                    out.append((len(what), f"{name} changed {' and '.join(what)} "
                                           f"{_describe_aval(a)} -> {_describe_aval(b)}"))
            old_static = dict(old[2][0] + old[2][1]) if old[2] else {}
            for k, v in (statics[0] + statics[1]) if statics else ():
                if k in old_static and old_static[k] != v:
                    what = f"argument {k}" if isinstance(k, int) else f"argument '{k}'"
                    out.append((1, f"static {what} changed value {old_static[k]!r} -> {v!r}"))
            return out

        closest = min((diffs(k) for k in same_tree), key=lambda d: sum(n for n, _ in d))
        return "; ".join(text for _, text in closest) or "no difference found"

    def _leaf_names(self, args: tuple, kwargs: dict, statics: Any) -> list[str]:
        names = []
        for i, a in zip(_dyn_positions(args, statics), args):
            label = (f"argument {i} ('{self._param_names[i]}')"
                     if i < len(self._param_names) else f"argument {i}")
            n = len(tree_util.tree_leaves(a))
            names += [label if n == 1 else f"{label} leaf {j}" for j in range(n)]
        for k in sorted(kwargs):
            n = len(tree_util.tree_leaves(kwargs[k]))
            names += [f"argument '{k}'" if n == 1 else f"argument '{k}' leaf {j}"
                      for j in range(n)]
        return names

    # ------------------------------------------------------------------ inspection

    def _entry(self, args: tuple, kwargs: dict) -> tuple[_Entry, Any]:
        """The cache entry for these arguments, and their static values."""
        statics = None
        if self._has_static:
            args, kwargs, statics = self._split(args, kwargs)
        leaves, treedef = tree_util.tree_flatten((args, kwargs))
        avals = tuple(_aval_key(abstractify(x)) for x in leaves)
        key = (treedef, avals, statics, ())
        return self._cache.get(key) or self._miss(key, args, kwargs), statics

    def trace(self, *args: Any, **kwargs: Any) -> Traced:
        """The traced function for these arguments (JAX's `jit(f).trace`): its `jaxpr`
        before the passes, `out_info`, and `lower()`."""
        return Traced(self, *self._entry(args, kwargs))

    def lower(self, *args: Any, **kwargs: Any) -> Lowered:
        """The optimized jaxpr this function runs for these arguments (a `ClosedJaxpr`), with
        JAX's `Lowered` methods: `as_text()`, `compile()`."""
        return self.trace(*args, **kwargs).lower()

    def eval_shape(self, *args: Any, **kwargs: Any) -> Any:
        """The outputs' `ShapeDtypeStruct`s for these arguments, without running."""
        return self.trace(*args, **kwargs).out_info

    def explain(self, *args: Any, **kwargs: Any) -> str:
        """Print and return the executable plan for these arguments: equations before and
        after the passes, buffers allocated and reused, bytes, the generated code."""
        entry, _ = self._entry(args, kwargs)
        text = (entry.executable or self._compile(entry)).explain()
        print(text)
        return text

    def clear_cache(self) -> None:
        """Forget every traced and compiled version (the next call traces again)."""
        self._cache.clear()


class Traced:
    """A jitted function traced for some arguments (JAX's `Traced`)."""

    def __init__(self, jitted: Jitted, entry: _Entry, statics: Any):
        self._jitted, self._entry, self._statics = jitted, entry, statics
        self.jaxpr = entry.traced

    @property
    def out_info(self) -> Any:
        """The outputs' shapes and dtypes, a pytree of `ShapeDtypeStruct`s."""
        from fnad.api_extra import _struct
        return tree_util.tree_unflatten(self._entry.out_tree,
                                        [_struct(a) for a in self.jaxpr.out_avals])

    def lower(self) -> Lowered:
        return Lowered(self)


class Lowered(ClosedJaxpr):
    """The optimized jaxpr of a jitted function for some arguments, with JAX's `Lowered`
    methods: `as_text()` prints it, `compile()` gives the function to call on them."""

    __slots__ = ("_traced",)

    def __init__(self, traced: Traced):
        closed = traced._entry.closed
        super().__init__(closed.jaxpr, closed.consts)
        self._traced = traced

    out_info = property(lambda self: self._traced.out_info)

    def as_text(self) -> str:
        return str(self)

    def compile(self) -> Compiled:
        return Compiled(self._traced)


class Compiled:
    """A jitted function compiled for some arguments (JAX's `Compiled`): called with the
    arguments it was lowered for, less the static ones."""

    def __init__(self, traced: Traced):
        self._traced = traced

    out_info = property(lambda self: self._traced.out_info)

    def as_text(self) -> str:
        return str(self._traced._entry.closed)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        static_pos, static_kw = self._traced._statics or ((), ())
        full, it = [], iter(args)
        fixed = dict(static_pos)
        for i in range(len(args) + len(fixed)):
            full.append(fixed[i] if i in fixed else next(it))
        return self._traced._jitted(*full, **kwargs, **dict(static_kw))


def jit(f: Callable[..., Any] | None = None,
        static_argnums: int | Sequence[int] | None = (),
        static_argnames: str | Sequence[str] | None = (),
        donate_argnums: int | Sequence[int] | None = (), backend: str | None = None,
        donate_argnames: str | Sequence[str] | None = (),
        **options: Any) -> Any:
    """Compile `f`: trace it once per argument structure, shapes, dtypes and static values,
    optimize the jaxpr and run it as generated code on later calls.

    Static arguments (hashable) are baked into the trace; donated arguments' buffers may be
    overwritten by the call. Under grad, vmap or another jit the function stays compiled.

    >>> import numpy as np, fnad
    >>> f = fnad.jit(lambda x, n: x * n, static_argnums=1)
    >>> f(np.ones(2, np.float32), 3)
    array([3., 3.], dtype=float32)

    Without `f`, the decorator with these options (`@fnad.jit(static_argnames="n")`).
    JAX's placement and layout options (`in_shardings`, `out_shardings`, `device`,
    `keep_unused`, `inline`, `compiler_options`, ...) are accepted and change nothing on
    one process.
    """
    unknown = set(options) - _JAX_ONLY_OPTIONS
    if unknown:
        raise ArgumentTypeError(f"jit() got unexpected keyword arguments {sorted(unknown)}")
    if f is None:
        return functools.partial(jit, static_argnums=static_argnums,
                                 static_argnames=static_argnames,
                                 donate_argnums=donate_argnums, backend=backend,
                                 donate_argnames=donate_argnames)
    return Jitted(f, static_argnums, static_argnames, donate_argnums, backend,
                  donate_argnames)


# jit's options of JAX that place or lay out data across devices, or tune XLA
_JAX_ONLY_OPTIONS = frozenset({"in_shardings", "out_shardings", "device", "keep_unused",
                               "inline", "abstracted_axes", "compiler_options"})
