"""Traces and tracers: errors that point at the user's code, escaped tracers, tags that keep
nested transforms apart, and per-thread trace state."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad.test_util import assert_allclose

F32 = np.float32


def _line_of(fn, offset: int) -> str:
    return f"test_trace.py:{fn.__code__.co_firstlineno + offset}"


def branchy(x):
    if x > 0:
        return x * 2.0
    return -x


@pytest.mark.parametrize("transform, name", [
    (lambda f: fnad.make_jaxpr(f)(np.float32(1.0)), "make_jaxpr"),
    (lambda f: fnad.vmap(f)(np.ones(3, F32)), "vmap"),
])
def test_concretization_error_names_transform_line_and_alternatives(transform, name) -> None:
    with pytest.raises(fnad.ConcretizationError) as info:
        transform(branchy)
    msg = str(info.value)
    assert f"Under {name}" in msg and _line_of(branchy, 1) in msg
    for hint in ["fnad.lax.cond", "where", "static_argnums"]:
        assert hint in msg


def test_array_conversion_of_a_tracer_is_a_concretization_error() -> None:
    with pytest.raises(fnad.ConcretizationError, match="converted to a NumPy array"):
        fnad.make_jaxpr(lambda x: np.asarray(x))(np.ones(2, F32))


def test_python_control_flow_on_primals_works_under_differentiation() -> None:
    assert float(fnad.grad(branchy)(3.0)) == 2.0
    assert float(fnad.grad(branchy)(-3.0)) == -1.0
    assert float(fnad.jvp(branchy, (3.0,), (1.0,))[1]) == 2.0
    assert float(fnad.grad(fnad.grad(lambda x: branchy(x) * x))(3.0)) == 4.0


@pytest.mark.parametrize("transform, name", [
    (lambda f: fnad.grad(f)(1.0), "jvp"),
    (lambda f: fnad.make_jaxpr(f)(np.float32(1.0)), "make_jaxpr"),
    (lambda f: fnad.vmap(f)(np.ones(2, F32)), "vmap"),
])
def test_escaped_tracer_stored_in_a_global_is_reported(transform, name) -> None:
    leaked = []

    def f(x):
        leaked.append(x)
        return x * 2.0

    transform(f)

    def use_later():
        return fnp.sin(leaked[0])

    with pytest.raises(fnad.EscapedTracerError) as info:
        use_later()
    msg = str(info.value)
    assert f"tracer of {name}" in msg and _line_of(use_later, 1) in msg
    assert "Return the value instead" in msg


def test_shape_error_names_primitive_shapes_and_user_line() -> None:
    def bad(x):
        return fnad.lax.add(x, np.ones(4, F32))

    for run in [lambda: bad(np.ones(3, F32)),
                lambda: fnad.make_jaxpr(bad)(np.ones(3, F32)),
                lambda: fnad.grad(lambda x: fnp.sum(bad(x)))(np.ones(3, F32))]:
        with pytest.raises(fnad.ShapeError) as info:
            run()
        msg = str(info.value)
        assert msg.startswith("add:") and "f32[3]" in msg and "f32[4]" in msg
        assert _line_of(bad, 1) in msg


def test_nested_transforms_of_one_kind_keep_their_perturbations_apart() -> None:
    # the classic perturbation-confusion case: a confused library returns 2.0
    assert float(fnad.grad(lambda x: x * fnad.grad(lambda y: x + y)(1.0))(2.0)) == 1.0
    out = fnad.jvp(lambda x: x * fnad.jvp(lambda y: x * y, (1.0,), (1.0,))[1], (2.0,), (1.0,))
    assert float(out[1]) == 4.0  # d/dx x*x
    batched = fnad.vmap(lambda x: fnad.vmap(lambda y: x * y)(np.arange(3, dtype=F32)))(
        np.arange(2, dtype=F32))
    assert_allclose(batched, np.outer(np.arange(2), np.arange(3)).astype(F32))


def test_transforms_in_eight_threads_do_not_share_trace_state() -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(k: int) -> None:
        try:
            barrier.wait()
            scale = np.float32(k + 1)
            x = np.linspace(-1, 1, 5).astype(F32)
            for _ in range(20):
                g = fnad.grad(lambda x: fnp.sum(fnp.sin(x) * scale))(x)
                np.testing.assert_allclose(g, np.cos(x) * scale, rtol=1e-6)
                jaxpr = fnad.make_jaxpr(lambda x: fnp.tanh(x) * scale)(x)
                np.testing.assert_allclose(jaxpr(x)[0], np.tanh(x) * scale, rtol=1e-6)
                hvp = fnad.jvp(fnad.grad(lambda x: fnp.sum(x ** 3)), (x,), (x,))[1]
                np.testing.assert_allclose(hvp, 6 * x * x, rtol=1e-5)
        except BaseException as e:  # reported below with the thread's number
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
