"""Eager differentiation through rules traced once per signature (fnad.eager) gives what
the general way (the interpreters' reference path) gives: the same linear jaxprs, the same gradients, the same
errors; and it steps aside for what it must not cache (`debug_nans` under grad is tested
with the other transforms in tests/test_debug_nans.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy as fnp
from fnad import eager, lax
from fnad.core.cache import Cache
from fnad.core.errors import ShapeError
from fnad.eager import rules as rule_cache
from fnad.interpreters import partial_eval
from fnad.test_util import check_grads

F32 = np.float32


def _mlp(params: list, x: np.ndarray, y: np.ndarray) -> object:
    h = x
    for w, b in zip(params[:-2:2], params[1:-2:2]):
        h = fnp.maximum(fnp.matmul(h, w) + b, 0.0)
    logits = fnp.matmul(h, params[-2]) + params[-1]
    return -fnp.mean(fnp.sum(fnad.nn.log_softmax(logits) * y, axis=1))


def _functions() -> dict[str, object]:
    """Functions of one float array covering the families of primitives."""
    w = np.linspace(-1, 1, 12).reshape(4, 3)
    return {
        "elementwise": lambda x: fnp.sum(fnp.tanh(x) * fnp.exp(-x * x) / (1.0 + x ** 2)),
        "broadcast": lambda x: fnp.sum((x[:, None] - x[None, :]) ** 2),
        "reductions": lambda x: fnp.max(x) * fnp.min(x) + fnp.prod(x) + fnp.var(x),
        "cumulative": lambda x: fnp.sum(fnp.cumsum(x) * fnp.cumprod(x)),
        "indexing": lambda x: fnp.sum(x[::2] * x[1::2]) + x[fnp.argmax(x)] + x[-1],
        "scatter": lambda x: fnp.sum(fnp.at(fnp.zeros(8, x.dtype))[np.array([1, 1, 3])].add(x[:3])
                                     * fnp.arange(8.0)),
        "matmul": lambda x: fnp.sum(fnp.tanh(w @ x[:3]) ** 2),
        "sort_where": lambda x: fnp.sum(fnp.sort(x) * fnp.where(x > 0, x, 2 * x)),
        "integer_pow": lambda x: fnp.sum(x ** 3 + fnp.sqrt(fnp.abs(x) + 1)),
        "control_flow": lambda x: lax.fori_loop(0, 3, lambda i, c: c * fnp.sin(c), x).sum(),
        "custom_rule": lambda x: fnp.sum(fnad.nn.softplus(x)),
    }


@pytest.mark.parametrize("name", list(_functions()))
def test_linear_jaxprs_and_gradients_equal_the_general_way(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    f = _functions()[name]
    x = np.linspace(-1.45, 2.0, 8)  # no kink: abs at 0
    _, cached = eager.linearize_flat(lambda v: [f(v)], [x])
    grad_cached = fnad.grad(f)(x)
    monkeypatch.setattr(fnad.api, "linearize_flat", partial_eval.linearize_flat)
    _, general = partial_eval.linearize_flat(lambda v: [f(v)], [x])
    assert str(cached.jaxpr) == str(general.jaxpr)
    np.testing.assert_allclose(grad_cached, fnad.grad(f)(x), rtol=1e-12, atol=0)
    check_grads(f, (x,), order=1, modes=("rev",))


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 5), hidden=st.integers(1, 6), dtype=st.sampled_from([F32, np.float64]))
def test_mlp_gradients_equal_the_general_way(batch: int, hidden: int, dtype: type) -> None:
    rng = np.random.default_rng(batch * 10 + hidden)
    sizes = (3, hidden, hidden, 2)
    params = []
    for m, n in zip(sizes[:-1], sizes[1:]):
        params += [rng.standard_normal((m, n)).astype(dtype), rng.standard_normal(n).astype(dtype)]
    x = rng.standard_normal((batch, 3)).astype(dtype)
    y = np.eye(2, dtype=dtype)[rng.integers(0, 2, batch)]
    value, grads = fnad.value_and_grad(_mlp)(params, x, y)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fnad.api, "linearize_flat", partial_eval.linearize_flat)
        value_g, grads_g = fnad.value_and_grad(_mlp)(params, x, y)
    assert value == value_g
    for a, b in zip(grads, grads_g):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=1e-5 if dtype == F32 else 1e-12, atol=1e-7)


def test_each_signature_is_traced_once(monkeypatch: pytest.MonkeyPatch) -> None:
    traced = []
    derive = rule_cache._linearize_rule
    monkeypatch.setattr(rule_cache, "_linearize_rule",
                        lambda prim, *a: traced.append(prim.name) or derive(prim, *a))
    monkeypatch.setattr(rule_cache, "_RULES", Cache())
    f = fnad.grad(lambda x: fnp.sum(fnp.sin(x) * 3.0))
    x = np.arange(5, dtype=F32)
    f(x)
    assert sorted(traced) == ["mul", "reduce_sum", "sin"]
    f(x + 1)
    f(x.astype(np.float64))  # a new dtype is a new signature
    assert len(traced) == 6


def test_custom_rules_and_control_flow_take_the_general_way(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rule_cache, "_RULES", Cache())
    calls = []

    @fnad.custom_jvp
    def f(x):
        return fnp.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        calls.append(1)
        (x,), (t,) = primals, tangents
        return fnp.sin(x), 2.0 * t  # a deliberately different rule: it must be used

    x = np.float32(0.3)
    assert fnad.grad(lambda v: lax.cond(v > 0, f, fnp.cos, v))(x) == pytest.approx(2.0)
    assert calls
    assert not any(k[0].name in ("custom_jvp_call", "cond")
                   for k in rule_cache._RULES._entries)


def test_errors_name_the_primitive_and_the_user_line() -> None:
    def f(x):
        return fnp.sum(lax.add(x, np.ones(4, F32)))  # shapes (3,) and (4,)

    with pytest.raises(ShapeError, match=r"add.*test_eager.py"):
        fnad.grad(f)(np.ones(3, F32))


def test_residuals_keep_the_user_line() -> None:
    def f(x):
        return fnp.sum(fnp.sin(x))

    _, lin = eager.linearize_flat(lambda v: [f(v)], [np.ones(3, F32)])
    lines = {str(e.source_info) for e in lin.jaxpr.eqns}
    assert lines and all(line.startswith("test_eager.py:") for line in lines)


def test_the_reference_path_runs_when_the_fast_path_is_off(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparisons above compare two different paths: with the API's linearize set to
    the reference, no signature is derived."""
    monkeypatch.setattr(rule_cache, "_RULES", Cache())
    monkeypatch.setattr(fnad.api, "linearize_flat", partial_eval.linearize_flat)
    fnad.grad(lambda x: fnp.sum(fnp.sin(x)))(np.ones(3, F32))
    assert len(rule_cache._RULES) == 0


def _square_prim(name: str) -> object:
    """A fresh elementwise primitive x -> x * x, with its jvp rule settable."""
    from fnad.lax._rules import FLOAT, defjvp, elementwise
    prim = elementwise(name, lambda x: x * x, FLOAT)
    defjvp(prim, lambda g, ans, x: lax.mul(g, lax.mul(x, 2.0)))
    return prim


def test_redefining_a_rule_takes_effect_on_the_next_grad() -> None:
    from fnad.lax._rules import defjvp
    prim = _square_prim("eager_test_square")
    f = fnad.grad(lambda x: fnp.sum(prim.bind(x)))
    x = np.arange(3, dtype=F32)
    np.testing.assert_array_equal(f(x), 2 * x)
    defjvp(prim, lambda g, ans, x: lax.mul(g, lax.mul(x, 3.0)))  # a (wrong) new rule
    np.testing.assert_array_equal(f(x), 3 * x)


def test_a_rule_that_cannot_be_derived_is_counted_and_runs_the_reference_way() -> None:
    from fnad.lax._rules import defjvp
    prim = _square_prim("eager_test_branchy")

    def branchy(g, ans, x):  # looks at values: fine on concrete primals, not when traced
        return lax.mul(g, lax.mul(x, 2.0)) if float(np.sum(np.asarray(x))) >= 0 else g

    defjvp(prim, branchy)
    before = eager.fallbacks().get(("eager_test_branchy", "ConcretizationError"), 0)
    x = np.arange(3, dtype=F32)
    np.testing.assert_array_equal(fnad.grad(lambda v: fnp.sum(prim.bind(v)))(x), 2 * x)
    after = eager.fallbacks().get(("eager_test_branchy", "ConcretizationError"), 0)
    assert after == before + 1
