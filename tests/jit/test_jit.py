"""`jit`: caching and trace counts, static and donated arguments, errors, `explain`,
`disable_jit`, cache-miss explanations and `debug_nans`."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad import lax
from fnad.core.ir import typecheck
from fnad.test_util import assert_allclose

F32, F64 = np.float32, np.float64


@pytest.fixture
def config_option() -> Iterator:
    """Set config options for one test and restore them afterwards."""
    saved: dict[str, object] = {}

    def set_option(name: str, value: object) -> None:
        saved.setdefault(name, getattr(fnad.config, name))
        fnad.config.update(name, value)

    yield set_option
    for name, value in saved.items():
        fnad.config.update(name, value)


def test_traces_once_per_shape_dtype_and_structure() -> None:
    calls = []

    def f(x, y):
        calls.append(1)
        return fnp.sin(x) * y

    jf = fnad.jit(f)
    x = np.linspace(0, 1, 3, dtype=F32)
    for _ in range(3):
        assert_allclose(jf(x, x), np.sin(x) * x)
    assert jf.trace_count == 1 and len(calls) == 1 and jf.compile_count == 1
    jf(np.ones(4, F32), np.ones(4, F32))  # new shape
    jf(x.astype(F64), x.astype(F64))  # new dtype
    assert jf.trace_count == 3
    jf(x, x)
    assert jf.trace_count == 3


def test_python_scalars_are_weak_and_leave_as_default_dtype_arrays() -> None:
    jf = fnad.jit(lambda x, s: x * s)
    x = np.ones(2, F32)
    out = jf(x, 2.0)
    assert out.dtype == F32 and jf.trace_count == 1
    assert_allclose(jf(x, 4.0), 4 * x)
    assert jf.trace_count == 1  # a float is a weak scalar whatever its value
    assert_allclose(jf(x, np.float32(3.0)), 3 * x)
    assert jf.trace_count == 2  # a NumPy scalar is strong: another trace, as in JAX
    assert jf(1.5, 2.0).dtype == F32
    assert jf(np.int32(3), 2).dtype == np.int32


def test_pytree_arguments_and_outputs() -> None:
    def f(params, x, scale=None):
        y = params["w"] * x + params["b"]
        return {"y": y, "pair": (y.sum(), None)}

    jf = fnad.jit(f)
    params = {"w": np.full(3, 2.0, F32), "b": np.ones(3, F32)}
    x = np.arange(3, dtype=F32)
    out = jf(params, x)
    assert_allclose(out, f(params, x))
    jf(params, x=x)  # the same leaves through a keyword: another structure
    assert jf.trace_count == 2


def test_static_arguments_by_position_and_name() -> None:
    def f(x, n, *, mode="sum"):
        y = x * n
        return y.sum() if mode == "sum" else y

    jf = fnad.jit(f, static_argnums=1, static_argnames="mode")
    x = np.arange(4, dtype=F32)
    assert_allclose(jf(x, 2), 12.0)
    assert_allclose(jf(x, 2), 12.0)
    assert jf.trace_count == 1
    assert_allclose(jf(x, 3), 18.0)
    assert_allclose(jf(x, n=3, mode="none"), 3 * x)
    assert jf.trace_count == 3


def test_static_argname_given_positionally() -> None:
    jf = fnad.jit(lambda x, n: x * n, static_argnames="n")
    x = np.ones(2, F32)
    assert_allclose(jf(x, 4), 4 * x)
    assert_allclose(jf(x, n=4), 4 * x)
    assert "mul" in str(jf.lower(x, 4)) and len(jf.lower(x, 4).jaxpr.invars) == 1


def test_unhashable_static_argument_is_a_clear_error() -> None:
    jf = fnad.jit(lambda x, shape: x.reshape(shape), static_argnums=1)
    with pytest.raises(fnad.FnadError, match="not hashable.*tuple instead of a list"):
        jf(np.ones(4, F32), np.full(2, 2.0))
    assert jf(np.ones(4, F32), (2, 2)).shape == (2, 2)


def test_non_array_argument_is_a_clear_error() -> None:
    with pytest.raises(fnad.FnadError, match="static_argnums"):
        fnad.jit(lambda x, s: x)(np.ones(2), "name")


def test_static_and_donated_is_an_error() -> None:
    with pytest.raises(fnad.FnadError, match="static and donated"):
        fnad.jit(lambda x: x, static_argnums=0, donate_argnums=0)


def test_value_dependent_python_control_flow_needs_static() -> None:
    def f(x, n):
        return x * 2 if n > 0 else x

    with pytest.raises(fnad.ConcretizationError, match="static_argnums"):
        fnad.jit(f)(np.ones(2, F32), 1)
    assert_allclose(fnad.jit(f, static_argnums=1)(np.ones(2, F32), 1), np.full(2, 2.0))


def test_escaped_tracer_is_reported() -> None:
    leaked = []

    def f(x):
        leaked.append(x)
        return x

    fnad.jit(f)(np.ones(2, F32))
    with pytest.raises(fnad.EscapedTracerError):
        fnad.jit(lambda y: y + 1)(leaked[0])


def test_lower_gives_the_optimized_jaxpr() -> None:
    def f(x):
        return (x * 1.0 + 0.0) * fnp.sin(x) + fnp.sin(x)

    closed = fnad.jit(f).lower(np.ones(3, F32))
    typecheck(closed)
    names = [e.prim.name for e in closed.eqns]
    assert names.count("sin") == 1 and "add" in names and len(names) == 3
    assert_allclose(closed(np.ones(3, F32))[0], f(np.ones(3, F32)))


def test_explain_prints_the_plan(capsys: pytest.CaptureFixture) -> None:
    x = np.ones((4, 3), F32)
    text = fnad.jit(lambda x: fnp.tanh(x * 2.0) + 1.0, backend="numpy").explain(x)
    assert capsys.readouterr().out.strip() == text.strip()
    assert "equations: 3 traced, 3 after the passes" in text
    assert "written into dead buffers" in text and "out=" in text
    assert "def _jit_" in text and "tanh" in text


def test_clear_cache_retraces() -> None:
    jf = fnad.jit(lambda x: x + 1)
    jf(np.ones(2, F32))
    jf.clear_cache()
    jf(np.ones(2, F32))
    assert jf.trace_count == 2 and jf.compile_count == 2


def test_disable_jit_runs_python() -> None:
    seen = []

    def f(x):
        seen.append(type(x))
        return x + 1

    jf = fnad.jit(f)
    with fnad.disable_jit():
        assert_allclose(jf(np.ones(2, F32)), np.full(2, 2.0))
        jf(np.ones(2, F32))
    assert seen == [np.ndarray, np.ndarray] and jf.trace_count == 0
    jf(np.ones(2, F32))
    assert jf.trace_count == 1 and seen[-1] is not np.ndarray


def test_cache_misses_are_explained(caplog: pytest.LogCaptureFixture, config_option) -> None:
    config_option("explain_cache_misses", True)
    jf = fnad.jit(lambda x, y, n: x * n + y, static_argnums=2)
    x = np.ones(3, F32)
    with caplog.at_level(logging.WARNING, logger="fnad.jit"):
        jf(x, x, 1)
        assert not caplog.records  # a first trace is not a miss
        jf(np.ones(4, F32), np.ones(4, F32), 1)
        jf(np.ones(4, F64), np.ones(4, F32), 1)
        jf(x, x, 2)
        jf((x,), x, 2)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 4
    assert "argument 0 ('x') changed shape f32[3] -> f32[4]" in messages[0]
    assert "argument 1 ('y') changed shape" in messages[0]
    assert "argument 0 ('x') changed dtype f32[4] -> f64[4]" in messages[1]
    assert "static argument 2 changed value 1 -> 2" in messages[2]
    assert "structure changed" in messages[3]


def test_cache_misses_are_silent_by_default(caplog: pytest.LogCaptureFixture) -> None:
    jf = fnad.jit(lambda x: x)
    with caplog.at_level(logging.WARNING, logger="fnad.jit"):
        jf(np.ones(2, F32))
        jf(np.ones(3, F32))
    assert not caplog.records


def test_donated_buffers_are_reused() -> None:
    step = fnad.jit(lambda p, g: p - 0.1 * g, donate_argnums=0)
    p, g = np.ones(4, F32), np.full(4, 2.0, F32)
    out = step(p, g)
    assert_allclose(out, np.full(4, 0.8))
    assert out is p  # the update was written into the donated buffer
    assert "1 of them donated" in step.explain(np.ones(4, F32), g)


def test_donated_buffer_that_cannot_be_overwritten_is_copied() -> None:
    step = fnad.jit(lambda p, g: p - g, donate_argnums=0)
    p = np.ones(4, F32)
    p.flags.writeable = False
    assert_allclose(step(p, p), np.zeros(4))
    assert_allclose(p, np.ones(4))
    q = np.ones(4, F32)  # donated and also passed as the other argument
    assert_allclose(step(q, q[::-1]), np.zeros(4))


def test_debug_nans_names_the_equation(config_option) -> None:
    jf = fnad.jit(lambda x: fnp.log(x) * 2.0)
    assert np.isnan(jf(np.float32(-1.0)))
    config_option("debug_nans", True)
    with pytest.raises(FloatingPointError, match="'log' produced NaN at test_jit.py"):
        jf(np.float32(-1.0))
    assert_allclose(jf(np.float32(1.0)), 0.0)


def test_debug_infs(config_option) -> None:
    config_option("debug_infs", True)
    with pytest.raises(FloatingPointError, match="'div' produced inf"):
        fnad.jit(lambda x: 1.0 / x)(np.zeros(2, F32))


def test_config_rejects_unknown_options_and_bad_values() -> None:
    with pytest.raises(fnad.FnadError, match="unknown config option"):
        fnad.config.update("explain_cache_miss", True)
    with pytest.raises(fnad.FnadError, match="True or False"):
        fnad.config.update("debug_nans", "yes")


def test_unknown_backend() -> None:
    with pytest.raises(fnad.FnadError, match="unknown jit backend 'tpu'"):
        fnad.jit(lambda x: x, backend="tpu")(np.ones(2))


def test_methods_can_be_jitted() -> None:
    class Scale:
        def __init__(self, k: float):
            self.k = k

        @functools.partial(fnad.jit, static_argnums=0)  # self is configuration
        def apply(self, x):
            return x * self.k

    assert_allclose(Scale(2.0).apply(np.ones(2, F32)), np.full(2, 2.0))
    assert_allclose(Scale(3.0).apply(np.ones(2, F32)), np.full(2, 3.0))


def test_constants_and_literal_outputs() -> None:
    w = np.arange(3, dtype=F32)
    jf = fnad.jit(lambda x: (x + w, 1.0, w))
    y, one, w_out = jf(np.ones(3, F32))
    assert_allclose(y, w + 1)
    assert_allclose(one, np.float32(1.0))
    one[...] = 5  # a returned literal is a fresh array, not the one in the jaxpr
    assert_allclose(jf(np.ones(3, F32))[1], np.float32(1.0))


def test_control_flow_runs_compiled_bodies() -> None:
    def f(x):
        y = lax.cond(x.sum() > 0, lambda v: v * 2.0, lambda v: -v, x)
        return lax.while_loop(lambda c: c[0] < 5, lambda c: (c[0] + 1, c[1] * 1.5),
                              (0, y))[1]

    x = np.linspace(-1, 2, 4, dtype=F32)
    jf = fnad.jit(f)
    assert_allclose(jf(x), f(x))
    assert_allclose(jf(-x), f(-x))
