"""Errors caused by the user's input: an FnadError subclass naming the operation, the
shapes/dtypes/structures, the transforms in effect and the user's own line, with fnad's
frames trimmed from the traceback (`FNAD_TRACEBACK=full` keeps them)."""

from __future__ import annotations

import inspect
import math
import operator
import os
import traceback
from collections.abc import Callable

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad import lax
from fnad.core.errors import _is_internal

X3 = np.ones(3, np.float32)
Y4 = np.ones(4, np.float32)
I3 = np.ones(3, np.int32)
LEAKED: list = []


def _stash(x):
    LEAKED.append(x)
    return x


# Each case raises; the line marked `# <-` is the one the message must point at.

def shape_in_primitive_under_jit_of_grad():
    g = fnad.grad(lambda x: lax.add(x, Y4).sum())  # <-
    return fnad.jit(g)(X3)


def dtype_in_primitive_under_vmap():
    return fnad.vmap(lambda x: lax.mul(x, I3[0]))(X3)  # <-


def in_axes_out_of_range():
    return fnad.vmap(lambda x: x, in_axes=2)(X3)  # <-


def in_axes_wrong_structure():
    return fnad.vmap(lambda x, y: x + y, in_axes=(0, 0, 0))(X3, X3)  # <-


def mapped_sizes_disagree():
    return fnad.vmap(lambda x, y: x * 2.0)(X3, Y4)  # <-


def tangent_structure_mismatch():
    return fnad.jvp(lambda x: x, (X3,), ((X3, X3),))  # <-


def cotangent_structure_mismatch():
    _, f_vjp = fnad.vjp(lambda x: (x, x), X3)
    return f_vjp(X3)  # <-


def unhashable_static_argument():
    return fnad.jit(lambda x, n: x * len(n), static_argnums=1)(X3, [1, 2])  # <-


def grad_of_integer_input():
    return fnad.grad(lambda x: x.sum())(I3)  # <-


def jacrev_of_integer_input():
    return fnad.jacrev(lambda x: x * 2)(I3)  # <-


def reverse_mode_through_while_loop():
    return fnad.grad(lambda x: lax.while_loop(lambda c: c < 10.0, lambda c: c * 2.0, x))(1.0)  # <-


def python_if_on_traced_value_under_jit():
    return fnad.jit(lambda x: x if x.sum() > 0 else -x)(X3)  # <-


def python_int_on_traced_value_under_vmap_of_grad():
    return fnad.vmap(fnad.grad(lambda x: x * int(x)))(X3)  # <-


def escaped_tracer_from_jit():
    fnad.jit(_stash)(X3)
    return fnp.sin(LEAKED.pop())  # <-


def escaped_tracer_into_another_transform():
    fnad.grad(lambda x: _stash(x * 2.0).sum())(X3)
    return fnad.jit(lambda y: y + LEAKED.pop())(X3)  # <-


CASES: list[tuple[Callable[[], object], type, list[str], str | None]] = [
    # (case, error class, what the message must name, transform stack or None)
    (shape_in_primitive_under_jit_of_grad, fnad.ShapeError, ["add", "f32[3]", "f32[4]"],
     "jit > grad"),
    (dtype_in_primitive_under_vmap, fnad.DTypeError, ["mul", "float32", "int32"], "vmap"),
    (in_axes_out_of_range, fnad.TransformError, ["in_axes 2", "(3,)"], "vmap"),
    (in_axes_wrong_structure, fnad.TransformError, ["in_axes (0, 0, 0)", "3 entries", "2 "],
     "vmap"),
    (mapped_sizes_disagree, fnad.TransformError, ["size 3", "size 4"], "vmap"),
    (tangent_structure_mismatch, fnad.TransformError, ["jvp", "structure", "PyTreeDef"],
     "jvp"),
    (cotangent_structure_mismatch, fnad.TransformError, ["vjp", "cotangent", "PyTreeDef"],
     "vjp"),
    (unhashable_static_argument, fnad.FnadError, ["static argument 1", "list",
                                                  "not hashable"], "jit"),
    (grad_of_integer_input, fnad.TransformError, ["grad", "int32", "float"], "grad"),
    (jacrev_of_integer_input, fnad.TransformError, ["jacrev", "int32"], "jacrev"),
    (reverse_mode_through_while_loop, fnad.TransformError, ["while_loop", "scan"], "grad"),
    (python_if_on_traced_value_under_jit, fnad.ConcretizationError,
     ["bool[]", "Python bool", "fnad.lax.cond"], "jit"),
    (python_int_on_traced_value_under_vmap_of_grad, fnad.ConcretizationError,
     ["f32[]", "vmap"], "vmap > grad"),
    (escaped_tracer_from_jit, fnad.EscapedTracerError, ["tracer of jit", "f32[3]"], None),
    (escaped_tracer_into_another_transform, fnad.EscapedTracerError, ["f32[3]", "outside"],
     "jit"),
]


def _marked_line(fn: Callable[..., object]) -> int:
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, s in enumerate(lines) if s.rstrip().endswith("# <-"))


@pytest.mark.parametrize("case,cls,names,stack", CASES, ids=[c[0].__name__ for c in CASES])
def test_error_names_operation_values_transforms_and_user_line(case, cls, names, stack
                                                                ) -> None:
    with pytest.raises(cls) as info:
        case()
    msg = str(info.value)
    assert isinstance(info.value, fnad.FnadError)
    for name in names:
        assert name in msg, f"{name!r} missing from: {msg}"
    assert f"test_errors.py:{_marked_line(case)} " in msg, msg
    if stack is None:
        assert "(under " not in msg, msg
    else:
        assert msg.endswith(f"(under {stack})"), msg


def _frames(exc: BaseException) -> list[traceback.FrameSummary]:
    return traceback.extract_tb(exc.__traceback__)


def _visible_internal(exc: BaseException) -> list[str]:
    """fnad frames left in the traceback, except the boundary that pytest/IPython hide."""
    out, tb = [], exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if _is_internal(code.co_filename) and "__tracebackhide__" not in tb.tb_frame.f_locals:
            out.append(f"{os.path.basename(code.co_filename)}:{tb.tb_lineno}")
        tb = tb.tb_next
    return out


@pytest.mark.parametrize("case", [shape_in_primitive_under_jit_of_grad, in_axes_out_of_range,
                                  python_if_on_traced_value_under_jit,
                                  reverse_mode_through_while_loop])
def test_library_frames_are_trimmed_by_default(case, monkeypatch) -> None:
    monkeypatch.delenv("FNAD_TRACEBACK", raising=False)
    with pytest.raises(fnad.FnadError) as info:
        case()
    assert _visible_internal(info.value) == []
    assert any(f.lineno == _marked_line(case) and f.filename == __file__
               for f in _frames(info.value))


def test_full_traceback_keeps_library_frames(monkeypatch) -> None:
    monkeypatch.setenv("FNAD_TRACEBACK", "full")
    with pytest.raises(fnad.ShapeError) as info:
        shape_in_primitive_under_jit_of_grad()
    assert any(f.endswith("primitive.py") for f in (s.filename for s in _frames(info.value)))


def test_user_exceptions_pass_through_untouched() -> None:
    def f(x):
        raise KeyError("mine")

    with pytest.raises(KeyError, match="mine") as info:
        fnad.grad(f)(1.0)
    assert any(s.name == "f" for s in _frames(info.value))


def test_nested_boundaries_name_each_transform_once() -> None:
    f = fnad.jit(fnad.vmap(fnad.grad(lambda x: lax.add(x, Y4).sum())))
    with pytest.raises(fnad.ShapeError) as info:
        f(np.ones((2, 3), np.float32))
    assert str(info.value).endswith("(under jit > vmap > grad)")
    assert str(info.value).count("(under") == 1


def test_eager_primitive_error_names_the_line_without_a_stack() -> None:
    with pytest.raises(fnad.ShapeError) as info:
        lax.add(X3, Y4)
    line = inspect.currentframe().f_lineno - 1
    assert f"test_errors.py:{line}" in str(info.value)
    assert "(under" not in str(info.value)


def test_pretty_jaxpr_shows_source_lines() -> None:
    def f(x):
        y = fnp.sin(x)
        return y * 2.0

    closed = fnad.make_jaxpr(f)(X3)
    first = inspect.getsourcelines(f)[1]
    text = closed.pretty(source_info=True)
    assert f"sin a    # test_errors.py:{first + 1} (f)" in text
    assert f"# test_errors.py:{first + 2} (f)" in text
    assert "#" not in str(closed)


def test_source_lines_survive_transformation() -> None:
    def f(x):
        return fnp.sin(x) * 2.0

    closed = fnad.make_jaxpr(fnad.grad(lambda x: f(x).sum()))(X3)
    line = inspect.getsourcelines(f)[1] + 1
    assert f"test_errors.py:{line} (f)" in closed.pretty(source_info=True)


def test_regression_location_is_not_repeated_for_code_without_a_file() -> None:
    """Code compiled from a string names its line as '<string>:N': the boundary must see
    that the message already has a location."""
    namespace = {"fnad": fnad, "lax": lax, "X3": X3, "Y4": Y4}
    exec(compile("def f(x):\n    return lax.add(x, Y4)\n", "<string>", "exec"), namespace)
    with pytest.raises(fnad.ShapeError) as info:
        fnad.jit(namespace["f"])(X3)
    assert str(info.value).count("(at ") == 1
    assert "<string>:2 (f)" in str(info.value)


# ------------------------------------------------------------ Python numbers from derivatives

CONVERSIONS: dict[str, Callable] = {
    "float": lambda x: float(x) * x,
    "int": lambda x: int(x) * x,
    "complex": lambda x: complex(x).real * x,
    "item": lambda x: x.item() * x,
    "tolist": lambda x: x.tolist() * x,
    "math.exp": lambda x: math.exp(x) * x,
    "operator.index": lambda x: operator.index(x) * x,
    "after an op": lambda x: float(fnp.sin(x)) * x,  # the output of the cached eager rule
    "sum of a vector": lambda x: float(fnp.sum(x * fnp.ones(3))) * x,
}
DERIVATIVES: dict[str, Callable] = {
    "grad": lambda f, x: fnad.grad(f)(x),
    "value_and_grad": lambda f, x: fnad.value_and_grad(f)(x),
    "vjp": lambda f, x: fnad.vjp(f, x),
    "jvp": lambda f, x: fnad.jvp(f, (x,), (np.float32(1.0),)),
    "linearize": lambda f, x: fnad.linearize(f, x),
    "jacfwd": lambda f, x: fnad.jacfwd(f)(x),
    "jacrev": lambda f, x: fnad.jacrev(f)(x),
    "hessian": lambda f, x: fnad.hessian(f)(x),
    "grad of grad": lambda f, x: fnad.grad(fnad.grad(f))(x),
}


@pytest.mark.parametrize("transform", list(DERIVATIVES))
@pytest.mark.parametrize("conversion", list(CONVERSIONS))
def test_a_python_number_from_a_differentiated_value_raises(conversion, transform) -> None:
    """float(x) under grad once gave a silently zero derivative (grad(float(x)**2) was 0)."""
    with pytest.raises(fnad.ConcretizationError, match=r"stop_gradient.*has_aux") as info:
        DERIVATIVES[transform](CONVERSIONS[conversion], np.float32(2.0))
    assert "derivative" in str(info.value) and "fnad.numpy" in str(info.value)


def test_truth_tests_and_stopped_values_stay_allowed_under_grad() -> None:
    f = lambda x: x * x if x > 0 else -x  # noqa: E731
    assert fnad.grad(f)(np.float32(2.0)) == 4.0 and fnad.grad(f)(np.float32(-2.0)) == -1.0
    assert fnad.grad(lambda x: bool(x) * x)(np.float32(3.0)) == 1.0
    assert fnad.grad(lambda x: float(lax.stop_gradient(x)) * x)(np.float32(3.0)) == 3.0
    # jacrev of a stack that once used float(v[0]) silently: now written with arrays
    j = fnad.jacrev(lambda v: fnp.stack([v[0] * v[1], v[1]]))(np.array([2.0, 3.0]))
    np.testing.assert_array_equal(j, [[3.0, 2.0], [0.0, 1.0]])


def test_python_numbers_outside_differentiation_still_work() -> None:
    def loss(w):
        return fnp.sum(w * w)
    w = np.array([1.0, 2.0], np.float32)
    assert float(loss(w)) == 5.0 and loss(w).item() == 5.0 and int(loss(w)) == 5
    value, g = fnad.value_and_grad(loss)(w)
    assert float(value) == 5.0 and math.exp(float(g[0])) == math.exp(2.0)
    # an integer value computed under grad carries no derivative: it may index
    idx = fnad.grad(lambda x: x[int(fnp.argmax(lax.stop_gradient(x)))])(np.array([1.0, 3.0]))
    np.testing.assert_array_equal(idx, [0.0, 1.0])


# ------------------------------------------------------------ errors a newcomer meets

TABLE = np.array([10.0, 20.0, 30.0, 40.0])
INDEXED = {
    "jit": lambda f, i: fnad.jit(f)(i),
    "vmap": lambda f, i: fnad.vmap(f)(np.array([i, 0, 3], np.int32)),
    "jit of vmap": lambda f, i: fnad.jit(fnad.vmap(f))(np.array([i, 0], np.int32)),
    "vmap of jit": lambda f, i: fnad.vmap(fnad.jit(f))(np.array([i, 1], np.int32)),
    "eager": lambda f, i: f(i),
}


@pytest.mark.parametrize("transform", list(INDEXED))
def test_asarray_of_a_numpy_table_takes_a_traced_index(transform) -> None:
    """JAX's idiom jnp.asarray(table)[i] inside a transform."""
    run = INDEXED[transform]
    out = run(lambda i: fnp.asarray(TABLE)[i] * 2.0, np.int32(2))
    expected = run(lambda i: fnp.take(TABLE, i, axis=0) * 2.0, np.int32(2))
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(run(lambda i: fnp.array(TABLE)[i], np.int32(1)),
                                  run(lambda i: fnp.at(TABLE)[i].get(), np.int32(1)))


@pytest.mark.parametrize("transform", ["jit", "vmap", "jit of vmap"])
def test_a_traced_index_into_a_numpy_array_names_the_ways_that_work(transform) -> None:
    """It said to use where/cond/static arguments, none of which helps."""
    with pytest.raises(fnad.ConcretizationError,
                       match=r"fnad\.numpy\.asarray\(table\)\[i\].*take.*\.at") as info:
        INDEXED[transform](lambda i: TABLE[i], np.int32(2))
    assert "static_argnums" in str(info.value)


NUMPY_CALLS = {
    "sin": lambda x: np.sin(x), "exp": lambda x: np.exp(x), "dot": lambda x: np.dot(x, x),
    "allclose": lambda x: np.allclose(x, 1.0), "median": lambda x: np.median(x),
    "einsum_path": lambda x: np.einsum_path("i,i", x, x), "ravel": lambda x: np.ravel(x),
    "add.reduce": lambda x: np.add.reduce(x), "isclose": lambda x: np.isclose(x, x),
    "histogram": lambda x: np.histogram(x), "logaddexp": lambda x: np.logaddexp(x, x),
}


@pytest.mark.parametrize("name", list(NUMPY_CALLS))
def test_numpy_functions_on_tracers_point_to_the_fnad_numpy_function_if_it_exists(name) -> None:
    """np.sin(tracer) said 'does not support ufuncs'; np.allclose pointed to a missing
    fnad.numpy.allclose. (np.sum, np.mean and the other functions NumPy hands to an array's
    method work, as on JAX's tracers: tests/test_jax_api_forms.py.)"""
    with pytest.raises(TypeError, match=f"numpy.{name} was called on a traced value") as info:
        fnad.jit(NUMPY_CALLS[name])(np.ones(3, np.float32))
    if "." not in name and callable(getattr(fnp, name, None)):
        assert f"Use fnad.numpy.{name} " in str(info.value)
    else:
        assert f"fnad.numpy has no {name}" in str(info.value)


def test_numpy_arrays_on_the_left_of_an_operator_still_work() -> None:
    a = np.array([1.0, 2.0, 3.0])
    x, xs = np.array([0.5, 1.5, 2.5]), np.array([[0.5, 1.5, 2.5], [1.0, -2.0, 4.0]])
    for g in (lambda v: a + v, lambda v: a * v - np.float64(2.0) ** v, lambda v: a @ v,
              lambda v: (a < v) * 1.0, lambda v: a / v + a // v + a % v):
        np.testing.assert_allclose(fnad.jit(g)(x), g(x))
        np.testing.assert_allclose(fnad.vmap(g)(xs), np.stack([g(r) for r in xs]))
    np.testing.assert_allclose(fnad.grad(lambda v: fnp.sum(a * v))(np.ones(3)), a)


def test_item_assignment_on_a_tracer_names_at() -> None:
    def f(x):
        x[0] = 1.0
        return x
    for transform in (fnad.jit, fnad.grad, fnad.vmap):
        with pytest.raises(TypeError, match=r"x\.at\[idx\]\.set\(v\)"):
            transform(lambda x: fnp.sum(f(x)))(np.ones((2, 3)))


def test_grad_of_a_loss_and_aux_pair_suggests_has_aux() -> None:
    with pytest.raises(fnad.TransformError, match="has_aux=True"):
        fnad.grad(lambda w: (fnp.sum(w * w), w))(np.ones(3))
    (loss, aux), g = fnad.value_and_grad(lambda w: (fnp.sum(w * w), w), has_aux=True)(
        np.ones(3))
    np.testing.assert_array_equal(g, 2 * np.ones(3))


def test_fnad_raises_only_its_own_errors() -> None:
    """Every error fnad raises for its user's input is an FnadError (ArgumentError and
    ArgumentTypeError still catch as ValueError and TypeError): no bare ValueError or
    TypeError is raised anywhere in the package."""
    import ast
    import pathlib

    bare = []
    for path in pathlib.Path(fnad.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                    and isinstance(node.exc.func, ast.Name)
                    and node.exc.func.id in ("ValueError", "TypeError")):
                bare.append(f"{path.name}:{node.lineno}")
    assert not bare, bare
    assert issubclass(fnad.core.errors.ArgumentError, ValueError)
    assert issubclass(fnad.core.errors.ArgumentTypeError, TypeError)


def test_shape_errors_are_value_and_type_errors_as_in_numpy_and_jax() -> None:
    """jax.numpy's broadcasting raises ValueError, jax.lax's shape checks TypeError: code
    catching either catches fnad's ShapeError."""
    with pytest.raises(TypeError):
        fnad.lax.add(np.ones(2), np.ones(3))
    with pytest.raises(ValueError):
        fnad.numpy.add(np.ones(2), np.ones(3))
    with pytest.raises(TypeError):
        fnad.numpy.reshape(np.ones(6), (4,))
