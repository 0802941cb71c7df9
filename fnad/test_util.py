"""Checks that prove math: derivatives against central finite differences in float64,
forward against reverse mode, batched against looped, staged against eager.

`check_transforms` is what every table-driven test calls for each case, so that a new
transform added here is checked on every primitive at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad import tree as tree_util
from fnad.core.errors import FnadError
from fnad.core.ir import eval_jaxpr, typecheck
from fnad.device import device_get

_DEFAULT_TOL = {np.dtype(np.float16): 1e-2, np.dtype(np.float32): 2e-3,
                np.dtype(np.float64): 1e-5}


def _tol(x: Any, tol: float | None) -> float:
    if tol is not None:
        return tol
    return _DEFAULT_TOL.get(np.asarray(x).dtype, 0.0)


def assert_allclose(actual: Any, expected: Any, atol: float | None = None,
                    rtol: float | None = None, err_msg: str = "") -> None:
    """Trees of arrays equal in structure, shape and dtype, and close in value."""
    a_leaves, a_tree = tree_util.tree_flatten(actual)
    e_leaves, e_tree = tree_util.tree_flatten(expected)
    assert a_tree == e_tree, f"structures differ: {a_tree} vs {e_tree}. {err_msg}"
    for a, e in zip(device_get(a_leaves), e_leaves):  # CuPy results are compared on the host
        a, e = np.asarray(a), np.asarray(e)
        assert a.shape == e.shape, f"shapes differ: {a.shape} vs {e.shape}. {err_msg}"
        if e.dtype.kind in "fc":
            np.testing.assert_allclose(a, e, atol=_tol(e, atol), rtol=_tol(e, rtol),
                                       err_msg=err_msg)
        else:
            np.testing.assert_array_equal(a, e, err_msg=err_msg)


# ---------------------------------------------------------------------------- gradients

def _inexact(x: Any) -> bool:
    return np.asarray(x).dtype.kind in "fc"


def _wide(x: Any) -> np.ndarray:
    """`x` in float64, or complex128 where it is complex."""
    x = np.asarray(x)
    return x.astype(np.result_type(x.dtype, np.float64)) if x.dtype.kind in "fc" else x


def _numeric(x: Any) -> np.ndarray:
    """`x` as complex128 where complex, else float64 (bools and integers too)."""
    return np.asarray(x, np.complex128 if np.iscomplexobj(x) else np.float64)


def _random_like(tree: Any, rng: np.random.Generator) -> Any:
    def draw(x: Any) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind == "c":
            return (rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape)
                    ).astype(x.dtype)
        if x.dtype.kind == "f":
            return rng.standard_normal(x.shape).astype(x.dtype)
        return np.zeros(x.shape, x.dtype)

    return tree_util.tree_map(draw, tree)


def _inner(a: Any, b: Any) -> float:
    """The real inner product Re <a, b>, with complex numbers as pairs of reals (JAX's)."""
    return float(sum(np.real(np.vdot(_numeric(x), _numeric(y)))
                     for x, y in zip(tree_util.tree_leaves(a), tree_util.tree_leaves(b))))


def _axpy(a: float, x: Any, y: Any) -> Any:
    return tree_util.tree_map(lambda u, v: v + a * u if _inexact(v) else v, x, y)


def numerical_jvp(f: Callable[..., Any], args: Sequence[Any], tangents: Sequence[Any],
                  eps: float) -> Any:
    """(f(x + eps t) - f(x - eps t)) / 2 eps, leaf by leaf."""
    plus = f(*_axpy(eps, tangents, args))
    minus = f(*_axpy(-eps, tangents, args))
    return tree_util.tree_map(lambda p, m: (_numeric(p) - _numeric(m)) / (2 * eps), plus, minus)


def check_jvp(f: Callable[..., Any], args: Sequence[Any], atol: float, rtol: float, eps: float,
              rng: np.random.Generator) -> None:
    from fnad import jvp
    tangents = _random_like(args, rng)
    out, tout = jvp(f, tuple(args), tuple(tangents))
    assert_allclose(out, f(*args), atol, rtol, "jvp primal output differs from f")
    assert_allclose(tout, numerical_jvp(f, args, tangents, eps), atol, rtol,
                    "jvp tangent differs from central finite differences")


def check_vjp(f: Callable[..., Any], args: Sequence[Any], atol: float, rtol: float, eps: float,
              rng: np.random.Generator) -> None:
    from fnad import jvp, vjp
    out, f_vjp = vjp(f, *args)
    assert_allclose(out, f(*args), atol, rtol, "vjp primal output differs from f")
    tangents = _random_like(args, rng)
    cotangent = _random_like(out, rng)
    # JAX's convention for complex numbers: cotangents enter and leave conjugated
    ct_in = tree_util.tree_map(np.conj, f_vjp(tree_util.tree_map(np.conj, cotangent)))
    lhs = _inner(tangents, ct_in)
    fd = _inner(numerical_jvp(f, args, tangents, eps), cotangent)
    scale = atol + rtol * (abs(fd) + 1)
    assert abs(lhs - fd) <= scale * 10, f"vjp against finite differences: {lhs} vs {fd}"
    ad = _inner(jvp(f, tuple(args), tuple(tangents))[1], cotangent)
    assert abs(lhs - ad) <= scale, f"reverse mode <ct, vjp(u)> {lhs} != forward <J t, u> {ad}"


def check_grads(f: Callable[..., Any], args: Sequence[Any] | int | None = None, order: int = 2,
                modes: Sequence[str] | None = ("fwd", "rev"), eps: float | None = None,
                atol: float | None = None, rtol: float | None = None, seed: int = 0, *,
                argnum: int | Sequence[int] | None = None) -> Any:
    """Check forward and reverse derivatives of `f` up to `order` against central finite
    differences computed in float64, and forward against reverse mode.

    JAX's form `check_grads(f, args)` checks at once, in every argument. autograd's curried
    form `check_grads(f)(*args, **kwargs)` (also `check_grads(f, argnum, ...)` or
    `check_grads(f, argnum=...)`) returns the checker, which differentiates `args[argnum]`
    (by default the first) and holds the rest fixed, so autograd-style tests run unchanged.

    >>> import fnad.numpy as fnp
    >>> check_grads(fnp.sin, (0.5,), order=2)
    >>> check_grads(fnp.multiply, argnum=1)(2.0, 0.5)
    """
    modes = ("fwd", "rev") if modes is None else tuple(modes)
    bad = set(modes) - {"fwd", "rev"}
    if bad:
        raise FnadError(f"check_grads: unknown modes {sorted(bad)}; use 'fwd' and/or 'rev'")
    if args is None or isinstance(args, int) or argnum is not None:
        nums = args if isinstance(args, int) else (0 if argnum is None else argnum)
        return _curried_check(f, nums, order, modes, eps, atol, rtol, seed)
    args = tuple(tree_util.tree_map(_wide, tuple(args)))
    eps = 1e-5 if eps is None else eps
    atol = 1e-4 if atol is None else atol
    rtol = 1e-4 if rtol is None else rtol
    rng = np.random.default_rng(seed)

    def check(f: Callable[..., Any], args: tuple, order: int) -> None:
        if "fwd" in modes:
            check_jvp(f, args, atol, rtol, eps, rng)
            if order > 1:
                from fnad import jvp
                tangents = _random_like(args, rng)
                check(lambda *a: jvp(f, a, tangents)[1], args, order - 1)
        if "rev" in modes:
            check_vjp(f, args, atol, rtol, eps, rng)
            if order > 1:
                from fnad import vjp
                cotangent = _random_like(f(*args), rng)
                check(lambda *a: vjp(f, *a)[1](cotangent), args, order - 1)

    check(f, args, order)
    return None


# autograd's step, (f(x + 5e-7 t) - f(x - 5e-7 t)) / 1e-6: its tests' data has near-ties
# (min, sort) that a wider step would straddle
_AUTOGRAD_EPS = 5e-7


def _curried_check(f: Callable[..., Any], argnum: int | Sequence[int], order: int,
                   modes: Sequence[str], eps: float | None, atol: float | None,
                   rtol: float | None, seed: int) -> Callable[..., None]:
    """autograd's form: a checker of `f` in `args[argnum]`, the other arguments fixed."""
    nums = (argnum,) if isinstance(argnum, int) else tuple(argnum)

    def checker(*args: Any, **kwargs: Any) -> None:
        # autograd computes in float64: so do the fixed arguments' Python floats, which fnad
        # would otherwise take as weak float32 values
        args = tuple(tree_util.tree_map(lambda x: np.float64(x) if type(x) is float else x,
                                        args))

        def g(*diff: Any) -> Any:
            full = list(args)
            for i, v in zip(nums, diff):
                full[i] = v
            return f(*full, **kwargs)

        check_grads(g, tuple(args[i] for i in nums), order, modes,
                    _AUTOGRAD_EPS if eps is None else eps, atol, rtol, seed)

    return checker


def combo_check(f: Callable[..., Any], argnum: int | Sequence[int] = 0,
                **check_kwargs: Any) -> Callable[..., None]:
    """autograd's `combo_check(f, argnum, modes=..., order=...)(arg_choices, **kwarg_choices)`:
    `check_grads` of `f` at every combination of the given argument and keyword values.

    >>> import fnad.numpy as fnp
    >>> combo_check(fnp.sum, (0,))([np.ones(3), np.ones((2, 2))], axis=[None, 0])
    """
    def check_all(*arg_choices: Sequence[Any], **kwarg_choices: Sequence[Any]) -> None:
        keys = list(kwarg_choices)
        for args in itertools.product(*arg_choices):
            for values in itertools.product(*kwarg_choices.values()):
                check_grads(f, argnum=argnum, **check_kwargs)(*args, **dict(zip(keys, values)))

    return check_all


def check_equivalent(actual: Any, expected: Any, atol: float | None = None,
                     rtol: float | None = None) -> None:
    """autograd's name for `assert_allclose`, which also requires equal dtypes: the same
    tree of arrays of the same shapes and dtypes, close in value."""
    assert_allclose(actual, expected, atol, rtol)
    for a, e in zip(tree_util.tree_leaves(actual), tree_util.tree_leaves(expected)):
        assert np.result_type(a) == np.result_type(e), \
            f"dtypes differ: {np.result_type(a)} vs {np.result_type(e)}"


# ---------------------------------------------------------------------------- transforms

def check_staged(f: Callable[..., Any], args: Sequence[Any], atol: float | None = None,
                 rtol: float | None = None) -> None:
    """make_jaxpr(f) typechecks, and evaluating it gives what eager f gives."""
    from fnad import make_jaxpr
    from fnad.lax import asarray_like
    closed = make_jaxpr(f)(*args)
    typecheck(closed)
    expected = f(*args)
    leaves = tree_util.tree_leaves(tuple(args))
    leaves = [asarray_like(x)[0] if type(x) in (bool, int, float) else x for x in leaves]
    out = eval_jaxpr(closed.jaxpr, closed.consts, *leaves)
    assert_allclose(out, tree_util.tree_leaves(expected), atol, rtol,
                    "evaluating the traced jaxpr differs from eager evaluation")


def check_vmap(f: Callable[..., Any], args: Sequence[Any], in_axes: Any = 0, out_axes: Any = 0,
               atol: float | None = None, rtol: float | None = None) -> None:
    """vmap(f)(*args) equals stacking f over slices of the mapped arguments."""
    from fnad import vmap
    axes = in_axes if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(args)
    size = next(np.shape(a)[ax] for a, ax in zip(args, axes) if ax is not None)

    def take(a: Any, ax: int | None, i: int) -> Any:
        return a if ax is None else np.take(np.asarray(a), i, axis=ax)

    rows = [f(*(take(a, ax, i) for a, ax in zip(args, axes))) for i in range(size)]
    expected = tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs],
                                                       axis=out_axes), *rows)
    assert_allclose(vmap(f, in_axes=tuple(axes), out_axes=out_axes)(*args), expected,
                    atol, rtol, "vmap differs from a loop over slices")


def check_transforms(f: Callable[..., Any], args: Sequence[Any], atol: float | None = None,
                     rtol: float | None = None) -> None:
    """Every transform that must leave values unchanged does: staging and each jit backend."""
    check_staged(f, args, atol, rtol)
    for check in _EXTRA_CHECKS:
        check(f, args, atol, rtol)


# Transforms added later (jit, backends) register their checks here.
_EXTRA_CHECKS: list[Callable[..., None]] = []


def check_jit(f: Callable[..., Any], args: Sequence[Any], atol: float | None = None,
              rtol: float | None = None) -> None:
    """jit(f), on every available backend, gives what eager f gives."""
    from fnad import jit
    from fnad.backends import available_backends
    expected = f(*args)
    for backend in available_backends():
        assert_allclose(jit(f, backend=backend)(*args), expected, atol, rtol,
                        f"jit on the {backend} backend differs from eager evaluation")


_EXTRA_CHECKS.append(check_jit)
