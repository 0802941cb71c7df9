"""Results and their inputs' memory: a result is a fresh (writable) array, or exactly the kind
of view NumPy's function of the same name returns (sharing memory only where NumPy's does,
with NumPy's writability). Writability never depends on size: every case runs on a small and
on a large input (broadcasts above 4096 elements were read-only views of their input)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad import lax

SHAPES = {"small": (3, 4), "large": (80, 70)}
DTYPES = [np.float32, np.int32, np.bool_]


def _input(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    return (np.arange(int(np.prod(shape))).reshape(shape) % 7).astype(dtype)


def _arrays(out: Any) -> list[np.ndarray]:
    if isinstance(out, np.ndarray):
        return [out]
    if isinstance(out, np.generic):  # NumPy's reductions give scalars: fresh by nature
        return [np.array(out)]
    if isinstance(out, (tuple, list)):
        return [a for o in out for a in _arrays(o)]
    return []


def _check(out: Any, reference: Any, inputs: list[np.ndarray], name: str) -> None:
    """`out` (fnad's) against `reference` (NumPy's), result by result."""
    outs, refs = _arrays(out), _arrays(reference)
    assert len(outs) == len(refs), name
    for o, r in zip(outs, refs):
        for x in inputs:
            if not np.shares_memory(o, x):
                continue
            assert np.shares_memory(r, x), f"{name}: the result aliases an input; NumPy's doesn't"
            assert o.flags.writeable == r.flags.writeable, \
                f"{name}: a view with writeable={o.flags.writeable}, NumPy's {r.flags.writeable}"
        if not any(np.shares_memory(o, x) for x in inputs):
            assert o.flags.writeable, f"{name}: a fresh result must be writable"


def _unary_names() -> list[str]:
    """Every public fnad.numpy function whose NumPy namesake takes one array."""
    x = _input((3, 4), np.float32)
    names = []
    for name in sorted(set(dir(fnp))):
        f, g = getattr(fnp, name), getattr(np, name, None)
        if name.startswith("_") or not callable(f) or not callable(g) or isinstance(f, type):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                g(x)
                f(x)
            except Exception:  # noqa: BLE001 -- not a one-array function of both
                continue
        names.append(name)
    return names


# NumPy's broadcast_arrays views stay writable only until its FutureWarning ends: see CALLS
UNARY = [name for name in _unary_names() if name != "broadcast_arrays"]


def test_the_unary_table_is_large() -> None:
    assert len(UNARY) > 100, UNARY


@pytest.mark.parametrize("size", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", UNARY)
def test_numpy_function_of_one_array(name: str, dtype: Any, size: str) -> None:
    x = _input(SHAPES[size], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reference = getattr(np, name)(x)
        except Exception:  # noqa: BLE001 -- NumPy refuses this dtype
            return
        try:
            out = getattr(fnp, name)(x)
        except fnad.FnadError:  # fnad refuses it with its own error: nothing to alias
            return
    _check(out, reference, [x], name)


def _read_only(view: np.ndarray) -> np.ndarray:
    view.flags.writeable = False
    return view


# (fnad's call, NumPy's call) of the input x: functions with more arguments
CALLS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "broadcast_to": (lambda x: fnp.broadcast_to(x, (2, *x.shape)),
                     lambda x: np.broadcast_to(x, (2, *x.shape))),
    "broadcast_to same shape": (lambda x: fnp.broadcast_to(x, x.shape),
                                lambda x: np.broadcast_to(x, x.shape)),
    "broadcast_arrays": (lambda x: fnp.broadcast_arrays(x, x[:1]),
                         lambda x: [_read_only(v) for v in np.broadcast_arrays(x, x[:1])]),
    "tile": (lambda x: fnp.tile(x, (2, 1)), lambda x: np.tile(x, (2, 1))),
    "tile by one": (lambda x: fnp.tile(x, 1), lambda x: np.tile(x, 1)),
    "repeat": (lambda x: fnp.repeat(x, 2, axis=0), lambda x: np.repeat(x, 2, axis=0)),
    "full": (lambda x: fnp.full((2, *x.shape), x), lambda x: np.full((2, *x.shape), x)),
    "full_like": (lambda x: fnp.full_like(x, x), lambda x: np.full_like(x, x)),
    "reshape": (lambda x: fnp.reshape(x, (-1,)), lambda x: np.reshape(x, (-1,))),
    "reshape same": (lambda x: fnp.reshape(x, x.shape), lambda x: np.reshape(x, x.shape)),
    "transpose": (lambda x: fnp.transpose(x), lambda x: np.transpose(x)),
    "swapaxes": (lambda x: fnp.swapaxes(x, 0, 1), lambda x: np.swapaxes(x, 0, 1)),
    "moveaxis": (lambda x: fnp.moveaxis(x, 0, 1), lambda x: np.moveaxis(x, 0, 1)),
    "expand_dims": (lambda x: fnp.expand_dims(x, 0), lambda x: np.expand_dims(x, 0)),
    "squeeze": (lambda x: fnp.squeeze(x[None], 0), lambda x: np.squeeze(x[None], 0)),
    "concatenate one": (lambda x: fnp.concatenate([x]), lambda x: np.concatenate([x])),
    "concatenate": (lambda x: fnp.concatenate([x, x]), lambda x: np.concatenate([x, x])),
    "stack": (lambda x: fnp.stack([x]), lambda x: np.stack([x])),
    "split": (lambda x: fnp.split(x, 1), lambda x: np.split(x, 1)),
    "pad by nothing": (lambda x: fnp.pad(x, 0), lambda x: np.pad(x, 0)),
    "pad": (lambda x: fnp.pad(x, 1), lambda x: np.pad(x, 1)),
    "array": (lambda x: fnp.array(x), lambda x: np.array(x)),
    "asarray": (lambda x: fnp.asarray(x), lambda x: np.asarray(x)),
    "copy": (lambda x: fnp.copy(x), lambda x: np.copy(x)),
    "where": (lambda x: fnp.where(True, x, x), lambda x: np.where(True, x, x)),
    "clip": (lambda x: fnp.clip(x, 1, 3), lambda x: np.clip(x, 1, 3)),
    "clip without bounds": (lambda x: fnp.clip(x), lambda x: np.clip(x)),
    "take": (lambda x: fnp.take(x, np.array([0, 1]), axis=0),
             lambda x: np.take(x, np.array([0, 1]), axis=0)),
    "diagonal": (lambda x: fnp.diagonal(x), lambda x: np.diagonal(x)),
    "diagonal offset": (lambda x: fnp.diagonal(x, 1), lambda x: np.diagonal(x, 1)),
    "diag": (lambda x: fnp.diag(x), lambda x: np.diag(x)),
    "meshgrid": (lambda x: fnp.meshgrid(x[0]), lambda x: np.meshgrid(x[0])),
    "round": (lambda x: fnp.round(x, 0), lambda x: np.round(x, 0)),
    "flip": (lambda x: fnp.flip(x, 0), lambda x: np.flip(x, 0)),
    "roll by nothing": (lambda x: fnp.roll(x, 0), lambda x: np.roll(x, 0)),
    "sum over nothing": (lambda x: fnp.sum(x, axis=()), lambda x: np.sum(x, axis=())),
    "max over nothing": (lambda x: fnp.max(x, axis=()), lambda x: np.max(x, axis=())),
    "matmul by identity": (lambda x: fnp.matmul(x, np.eye(x.shape[1], dtype=x.dtype)),
                           lambda x: np.matmul(x, np.eye(x.shape[1], dtype=x.dtype))),
    "at set": (lambda x: fnp.at(x)[0].set(x[1]), lambda x: np.copy(x)),
    "getitem": (lambda x: fnp.asarray(x)[1:], lambda x: x[1:]),
}


@pytest.mark.parametrize("size", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(CALLS))
def test_numpy_function_with_arguments(name: str, dtype: Any, size: str) -> None:
    x = _input(SHAPES[size], dtype)
    mine, numpys = CALLS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reference = numpys(x)
        except TypeError:  # NumPy refuses this dtype (clip of bools)
            return
    try:
        out = mine(x)
    except fnad.FnadError:  # refused for this dtype (matmul of bools): nothing to alias
        return
    _check(out, reference, [x], name)


# fnad.lax: (fnad's call, NumPy's equivalent: a view where lax returns one, else a copy).
# A lax function that does nothing to its operand (convert_element_type to its own dtype,
# stop_gradient, pad by nothing, concatenate of one operand) returns it, as JAX's does.
LAX: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "broadcast_in_dim": (lambda x: lax.broadcast_in_dim(x, (2, *x.shape), (1, 2)),
                         lambda x: np.array(np.broadcast_to(x, (2, *x.shape)))),
    "broadcast": (lambda x: lax.broadcast(x, (2,)), lambda x: np.tile(x, (2, 1, 1))),
    "full": (lambda x: lax.full(x.shape, x[0, 0]), lambda x: np.full(x.shape, x[0, 0])),
    "full_like": (lambda x: lax.full_like(x, 2), lambda x: np.full_like(x, 2)),
    "reshape": (lambda x: lax.reshape(x, (x.size,)), lambda x: np.reshape(x, (x.size,))),
    "transpose": (lambda x: lax.transpose(x, (1, 0)), lambda x: np.transpose(x, (1, 0))),
    "slice": (lambda x: lax.slice(x, (1, 0), x.shape), lambda x: x[1:]),
    "rev": (lambda x: lax.rev(x, (0,)), lambda x: np.flip(x, 0)),
    "expand_dims": (lambda x: lax.expand_dims(x, (0,)), lambda x: np.expand_dims(x, 0)),
    "squeeze": (lambda x: lax.squeeze(x[None], (0,)), lambda x: np.squeeze(x[None], 0)),
    "pad": (lambda x: lax.pad(x, x[0, 0], ((1, 1, 0), (0, 0, 0))),
            lambda x: np.pad(x, ((1, 1), (0, 0)))),
    "concatenate": (lambda x: lax.concatenate([x, x], 0), lambda x: np.concatenate([x, x])),
    "select_n": (lambda x: lax.select_n(True, x, x), lambda x: np.copy(x)),
    "dynamic_slice": (lambda x: lax.dynamic_slice(x, (0, 0), (2, 2)), lambda x: x[:2, :2]),
    "dynamic_update_slice": (lambda x: lax.dynamic_update_slice(x, x[:1], (0, 0)),
                             lambda x: np.copy(x)),
    "sort": (lambda x: lax.sort(x, 0), lambda x: np.sort(x, 0)),
    "cumsum": (lambda x: lax.cumsum(x, 0), lambda x: np.cumsum(x, 0, dtype=x.dtype)),
}


@pytest.mark.parametrize("size", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(LAX))
def test_lax_function(name: str, dtype: Any, size: str) -> None:
    x = _input(SHAPES[size], dtype)
    mine, numpys = LAX[name]
    try:
        out = mine(x)
    except fnad.FnadError:  # refused for this dtype: nothing to alias
        return
    _check(out, numpys(x), [x], name)


@pytest.mark.parametrize("n", [10, 5000])
def test_a_later_write_to_the_input_does_not_change_a_broadcast(n: int) -> None:
    """Above 4096 elements fnp.broadcast_to, lax.full and fnp.tile returned read-only
    views: a later in-place write to the input changed the result silently."""
    x = np.arange(n, dtype=np.float32)
    results = {"broadcast_to": fnp.broadcast_to(x, (2, n)), "tile": fnp.tile(x, (2,)),
               "full": fnp.full((2, n), x), "broadcast_in_dim":
               lax.broadcast_in_dim(x, (2, n), (1,)),
               "grad of sum": fnad.grad(lambda v: fnp.sum(v * 2.0))(x)}
    saved = {k: np.array(v) for k, v in results.items()}
    x[:] = -1
    for k, v in results.items():
        np.testing.assert_array_equal(v, saved[k], err_msg=k)
        assert v.flags.writeable, k


def test_transformed_results_are_fresh() -> None:
    x = np.arange(5000, dtype=np.float32)
    for f in (fnad.jit(lambda v: fnp.broadcast_to(v, (2, 5000))), fnad.jit(lambda v: v * 2),
              fnad.vmap(lambda v: fnp.tile(v, 2)), fnad.jit(lambda v: lax.full((3,), 1.0)),
              fnad.grad(lambda v: fnp.sum(fnp.broadcast_to(v, (3, 5000))))):
        for out in _arrays(f(x)):
            assert out.flags.writeable and not np.shares_memory(out, x)
