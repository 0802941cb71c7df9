"""JAX's transformation and pytree API, where fnad differed from it: each test checks the
behaviour JAX 0.10.2 has (values against NumPy or finite differences)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad import lax
from fnad.core.dtypes import float0
from fnad.core.errors import IntegerOverflowError
from fnad.test_util import check_grads

X = np.arange(3.0, dtype=np.float32)


# ---------------------------------------------------------------------------- grad, jvp, vjp

def test_grad_allow_int_gives_float0_zeros():
    g = fnad.grad(lambda x, y: fnp.sum(x * y), argnums=(0, 1), allow_int=True)(
        np.arange(3, dtype=np.int32), 2.0)
    assert g[0].dtype == float0 and g[0].shape == (3,)
    np.testing.assert_allclose(g[1], 3.0)
    v, g = fnad.value_and_grad(lambda n: n * 2.0, allow_int=True)(3)
    assert v == 6.0 and g.dtype == float0
    with pytest.raises(TypeError, match="float"):  # without allow_int: JAX's TypeError
        fnad.grad(lambda n: n * 2.0)(3)


def test_jacrev_allow_int_gives_zeros_of_the_int_dtype():
    j = fnad.jacrev(lambda a: a * 2.0, allow_int=True)(np.arange(3, dtype=np.int32))
    assert j.dtype == np.int32 and j.shape == (3, 3) and not j.any()


def test_grad_rejects_repeated_argnums():
    with pytest.raises(fnad.TransformError, match="twice"):
        fnad.grad(lambda a, b: a * b, argnums=(0, 0))(1.0, 2.0)


def test_transform_misuse_is_a_type_error_as_in_jax():
    with pytest.raises(TypeError, match="one scalar"):
        fnad.grad(lambda x: x * 2)(X)
    with pytest.raises(ValueError, match="disagree"):
        fnad.vmap(lambda a, b: a * b)(X, np.ones(2))


def test_jvp_and_linearize_has_aux():
    out, t, aux = fnad.jvp(lambda a: (fnp.sin(a), {"s": a.sum()}), (X,), (np.ones(3, np.float32),),
                           has_aux=True)
    np.testing.assert_allclose(t, np.cos(X), rtol=1e-6)
    assert float(aux["s"]) == 3.0 and not isinstance(aux["s"], fnad.core.trace.Tracer)
    out, f_jvp, aux = fnad.linearize(lambda a: (a ** 2, a), X, has_aux=True)
    np.testing.assert_allclose(f_jvp(np.ones(3, np.float32)), 2 * X)
    np.testing.assert_allclose(aux, X)


def test_int_values_take_float0_tangents():
    n = np.arange(3, dtype=np.int32)
    _, t = fnad.jvp(lambda a, b: (a, a * b), (n, 2.0), (np.zeros(3, float0), 1.0))
    assert t[0].dtype == np.int32 and not t[0].any()  # JAX: float0 zeros
    np.testing.assert_allclose(t[1], n)
    _, f_vjp = fnad.vjp(lambda a, b: (a * b, a), n, 2.0)
    ct_n, ct_b = f_vjp((np.ones(3, np.float32), np.zeros(3, float0)))
    assert ct_n.dtype == np.int32 and not ct_n.any() and float(ct_b) == 3.0


@pytest.mark.parametrize("call", [
    lambda: fnad.jvp(lambda a: a * 2, (X,), (np.ones(3, np.float16),)),
    lambda: fnad.jvp(lambda a: a * 2, (X,), (np.ones(3, np.int32),)),
    lambda: fnad.vjp(lambda a: a * 2, X)[1](np.ones(3, np.float16)),
    lambda: fnad.vjp(lambda a: a * 2, np.ones(2, np.float16))[1](np.ones(2, np.float32)),
    lambda: fnad.linearize(lambda a: a * 2, X)[1](np.ones(2, np.float32)),
])
def test_tangent_dtypes_and_shapes_are_checked(call):
    with pytest.raises(fnad.TransformError, match="dtype|shape"):
        call()


def test_tangents_of_the_canonical_dtype_are_taken():
    # JAX (without x64) holds float64 as float32: a float64 cotangent of a float32 output
    # and a Python number are taken, in the output's dtype
    _, f_vjp = fnad.vjp(lambda a: a * 2, X)
    (ct,) = f_vjp(np.ones(3))
    assert ct.dtype == np.float32
    np.testing.assert_allclose(fnad.jvp(lambda a: a * 2, (np.float64(1.0),), (1.0,))[1], 2.0)


def test_python_int_too_large_for_int32_raises_instead_of_wrapping():
    for call in (lambda: fnad.jit(lambda a: a + 1)(2 ** 40),
                 lambda: lax.fori_loop(0, 2, lambda i, c: c, 2 ** 40)):
        with pytest.raises(OverflowError, match="does not fit int32") as e:
            call()
        assert isinstance(e.value, IntegerOverflowError)
    assert fnad.jit(lambda a: a + 1)(np.int64(2 ** 40)) == 2 ** 40 + 1


def test_grad_allow_int_matches_finite_differences():
    check_grads(lambda x: fnad.grad(lambda a, n: fnp.sum(a ** n), allow_int=True)(x, 3),
                (X + 1,), order=1)


# ---------------------------------------------------------------------------- vmap, jit, shapes

def test_vmap_takes_jax_positional_order_and_spmd_axis_name():
    out = fnad.vmap(lambda a: lax.psum(a, "i"), 0, 0, "i")(X)  # axis_name is 4th, as JAX's
    np.testing.assert_allclose(out, np.full(3, X.sum()))
    np.testing.assert_allclose(fnad.vmap(lambda a: a * 2, spmd_axis_name="d")(X), 2 * X)


def test_vmap_out_axes_out_of_range_raises():
    with pytest.raises(fnad.TransformError, match="out_axes 3"):
        fnad.vmap(lambda a: a, out_axes=3)(np.ones((2, 3)))
    assert fnad.vmap(lambda a: a, out_axes=-1)(np.ones((2, 3))).shape == (3, 2)


def test_jit_trace_lower_compile_and_eval_shape():
    f = fnad.jit(lambda x, n: x * n, static_argnums=1)
    traced = f.trace(X, 3)
    assert "mul" in str(traced.jaxpr)
    assert traced.out_info == fnad.ShapeDtypeStruct((3,), np.float32)
    lowered = f.lower(X, 3)
    assert "mul" in lowered.as_text() and lowered.out_info.shape == (3,)
    np.testing.assert_allclose(lowered.compile()(X), 3 * X)  # static arguments left out
    assert f.eval_shape(X, 3) == fnad.ShapeDtypeStruct((3,), np.float32)


def test_jit_takes_donate_argnames_and_none_options():
    f = fnad.jit(lambda a, b: a + b, donate_argnames="a", static_argnums=None, keep_unused=True)
    np.testing.assert_allclose(f(X, X), 2 * X)
    with pytest.raises(TypeError, match="unexpected"):
        fnad.jit(lambda a: a, no_such_option=1)


def test_eval_shape_and_make_jaxpr_shapes_keep_weak_types():
    assert fnad.eval_shape(lambda a: a * 2, 1.0) == fnad.ShapeDtypeStruct(
        (), np.float32, weak_type=True)
    assert fnad.eval_shape(lambda a, s: a * s, np.ones(2, np.float16), 2.0).dtype == np.float16
    _, shapes = fnad.make_jaxpr(lambda a: {"s": a.sum(), "d": a * 2}, return_shape=True)(X)
    assert shapes == {"s": fnad.ShapeDtypeStruct((), np.float32),
                      "d": fnad.ShapeDtypeStruct((3,), np.float32)}


# ---------------------------------------------------------------------------- array methods

@pytest.mark.parametrize("dtype", [np.int32, np.int16, np.uint8, np.int64])
def test_traced_view_reinterprets_bits_as_numpy(dtype):
    x = np.arange(8.0, dtype=np.float32).reshape(2, 4)
    np.testing.assert_array_equal(fnad.jit(lambda a: a.view(dtype))(x), x.view(dtype))
    np.testing.assert_array_equal(fnad.vmap(lambda a: a.view(dtype))(x), x.view(dtype))


def test_traced_comparison_with_none_is_identity_and_astype_takes_copy():
    eq, ne, h = fnad.jit(lambda a: (a == None, a != None,  # noqa: E711
                                    a.astype(np.float16, copy=True)))(X)
    assert not eq and ne and h.dtype == np.float16


def test_constants_under_vmap_stay_concrete():
    x = np.arange(24.0, dtype=np.float32).reshape(2, 3, 4)
    keep = lambda: fnp.array([True, False, True])  # noqa: E731
    np.testing.assert_array_equal(fnad.vmap(lambda a: a[keep()])(x), x[:, [0, 2]])
    np.testing.assert_array_equal(fnad.vmap(lambda a: fnp.compress(keep(), a, axis=0))(x),
                                  x[:, [0, 2]])
    np.testing.assert_array_equal(
        fnad.vmap(lambda a: a * fnp.nonzero(fnp.array([0, 3, 4]))[0].sum())(x), 3 * x)


# ---------------------------------------------------------------------------- pytrees

def test_treedefs_print_and_report_node_data_as_jax():
    import collections
    nt = collections.namedtuple("NT", "u v")
    assert repr(fnad.tree.structure(nt(1, [2]))) == \
        "PyTreeDef(CustomNode(namedtuple[NT], [*, [*]]))"
    od = collections.OrderedDict([("b", 1), ("a", {"c": 2})])
    assert repr(fnad.tree.structure(od)) == \
        "PyTreeDef(CustomNode(OrderedDict[('b', 'a')], [*, {'c': *}]))"
    assert fnad.tree.structure({"b": 1, "a": 2}).node_data() == (dict, ["a", "b"])


# ---------------------------------------------------------------------------- custom rules

def test_custom_jvp_nondiff_argnames_are_positions():

    @functools.partial(fnad.custom_jvp, nondiff_argnames=("n",))
    def power(x, n):
        return x ** n

    @power.defjvp
    def power_jvp(n, primals, tangents):
        (x,), (t,) = primals, tangents
        return power(x, n), n * x ** (n - 1) * t

    assert float(fnad.grad(power)(2.0, 3)) == 12.0
    assert float(fnad.grad(power)(2.0, n=3)) == 12.0


def test_defvjp_takes_jax_keywords():
    @fnad.custom_vjp
    def f(x):
        return x * 2

    f.defvjp(lambda x: (x * 2, None), lambda _, g: (g * 3,), symbolic_zeros=False,
             optimize_remat=True)
    assert float(fnad.grad(f)(1.0)) == 3.0
    with pytest.raises(fnad.ArgumentError, match="symbolic_zeros"):
        f.defvjp(lambda x: (x, None), lambda _, g: (g,), symbolic_zeros=True)


def test_every_jax_checkpoint_policy_runs():
    from fnad import ad_checkpoint, checkpoint_policies as cp
    f = lambda x: fnp.sum(fnp.sin(ad_checkpoint.checkpoint_name(x @ x, "a")))  # noqa: E731
    x = np.eye(2, dtype=np.float64) * 0.5
    want = fnad.grad(f)(x)
    for policy in (cp.save_anything_except_these_names("a"),
                   cp.save_and_offload_only_these_names(
                       names_which_can_be_saved=[], names_which_can_be_offloaded=["a"],
                       offload_src="device", offload_dst="pinned_host"),
                   cp.offload_dot_with_no_batch_dims("device", "pinned_host"),
                   lambda *a, **k: ad_checkpoint.Recompute):
        np.testing.assert_allclose(fnad.grad(fnad.checkpoint(f, policy=policy))(x), want)


# ---------------------------------------------------------------------------- control flow

def test_branch_returning_a_python_number_takes_the_other_branch_dtype():
    out = lax.cond(True, lambda: np.float64(1.5), lambda: 2.0)
    assert out.dtype == np.float64 and out == 1.5
    out = fnad.jit(lambda p: lax.cond(p, lambda: np.float16(1.0), lambda: 2.0))(False)
    assert out.dtype == np.float16 and out == 2.0
    out = lax.switch(1, [lambda: 1, lambda: np.int16(3)])
    assert out.dtype == np.int16 and out == 3
    assert lax.cond(False, lambda: 1.0, lambda: 2.0).dtype == np.float32  # both weak


def test_cotangent_of_an_integer_output_may_have_any_integer_dtype():
    _, f_vjp = fnad.vjp(lambda a: (a * 2, a > 1), X)
    (ct,) = f_vjp((np.ones(3, np.float32), np.ones(3, np.int8)))
    np.testing.assert_allclose(ct, 2.0)


def test_grad_needs_one_array_and_jacrev_float_outputs():
    with pytest.raises(TypeError, match="one scalar array"):
        fnad.grad(lambda a: {"x": a})(1.0)
    with pytest.raises(TypeError, match="float-valued outputs"):
        fnad.jacrev(lambda a: (a * 2).astype(np.int32))(X)


def test_traced_reduction_methods_take_jax_positional_arguments():
    m = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    out = fnad.jit(lambda a: (a.sum(1, None, None, True), a.var(0, None, None, 1),
                              a.argmax(0, None, True), a.max(1, None, True),
                              a.cumsum(1, None, None), a.round(1, None)))(m)
    want = (m.sum(1, keepdims=True), m.var(0, ddof=1), m.argmax(0, keepdims=True),
            m.max(1, keepdims=True), m.cumsum(1), m.round(1))
    for o, w in zip(out, want):
        np.testing.assert_allclose(o, w, rtol=1e-6)
    with pytest.raises(TypeError, match="at most"):
        fnad.jit(lambda a: a.argmax(0, None, True, 4))(m)


def test_register_pytree_node_takes_jax_keywords_and_keys():
    class Pair:
        def __init__(self, a, b):
            self.a, self.b = a, b

    fnad.tree.register_pytree_node(
        nodetype=Pair, flatten_func=lambda p: ((p.a, p.b), None),
        unflatten_func=lambda _, c: Pair(*c),
        flatten_with_keys_func=lambda p: (((fnad.tree.GetAttrKey("a"), p.a),
                                           (fnad.tree.GetAttrKey("b"), p.b)), None))
    paths = [fnad.tree.keystr(k) for k, _ in fnad.tree.flatten_with_path(Pair(1, 2))[0]]
    assert paths == [".a", ".b"]
    assert fnad.tree.reduce(function=lambda x, y: x + y, tree=Pair(1, 2)) == 3


def test_register_dataclass_drop_fields_init_false_and_plain_classes():
    import dataclasses

    @functools.partial(fnad.tree.register_dataclass, data_fields=["x"], meta_fields=[],
                       drop_fields=["cache"])
    @dataclasses.dataclass
    class WithDrop:
        x: float
        cache: int = 0
        derived: int = dataclasses.field(init=False, default=1)

    assert fnad.tree.leaves(WithDrop(2.0)) == [2.0]

    class Plain:  # not a dataclass: its attributes named in both lists, as JAX allows
        def __init__(self, w, tag):
            self.w, self.tag = w, tag

    fnad.tree.register_dataclass(Plain, data_fields=["w"], meta_fields=["tag"])
    out = fnad.tree.map(lambda v: v * 2, Plain(3.0, "t"))
    assert out.w == 6.0 and out.tag == "t"


def test_checkpoint_static_argnames_and_debug_print_keywords(capsys):
    f = fnad.checkpoint(lambda x, n: x ** n, static_argnames="n")
    assert float(fnad.grad(f)(2.0, n=3)) == 12.0 and float(fnad.grad(f)(2.0, 3)) == 12.0
    fnad.jit(lambda x: fnad.debug.print("v={}", x, partitioned=False,
                                        skip_format_check=True) or x)(1.0)
    assert "v=1.0" in capsys.readouterr().out


def test_shape_dtype_struct_update_and_required_dtype():
    s = fnad.ShapeDtypeStruct((2, 3), np.float32)
    assert s.update(shape=(4,)) == fnad.ShapeDtypeStruct((4,), np.float32)
    assert s.update(dtype=np.int32).dtype == np.int32 and s.shape == (2, 3)
    with pytest.raises(TypeError, match="dtype must be specified"):
        fnad.ShapeDtypeStruct((2,), None)


def test_custom_rules_get_default_arguments():
    @fnad.custom_jvp
    def scale(x, y=2.0):
        return x * y

    scale.defjvp(lambda p, t: (scale(*p), t[0] * p[1] * 10 + t[1]))
    assert float(fnad.grad(scale)(1.0)) == 20.0
    assert float(fnad.grad(lambda x: scale(x, y=3.0))(1.0)) == 30.0


def test_ensure_compile_time_eval_traces_operations_on_traced_values():
    def f(a):
        with fnad.ensure_compile_time_eval():
            b = a * 2  # traced: staged as outside the block, as in JAX
            n = int(fnp.arange(3).sum())  # concrete: computed now
        return b * n

    assert float(fnad.jit(f)(2.0)) == 12.0
    np.testing.assert_allclose(fnad.jit(fnad.vmap(fnad.grad(f)))(X), np.full(3, 6.0))


def test_vmap_size_error_names_axis_size():
    with pytest.raises(fnad.TransformError, match="axis_size is 3"):
        fnad.vmap(lambda a: a, axis_size=3)(np.ones(2))


def test_device_put_and_get_take_jax_argument_name():
    out = fnad.device_put(x={"w": np.ones(2, np.float32)}, device="cpu")
    np.testing.assert_array_equal(fnad.device_get(x=out)["w"], np.ones(2, np.float32))


def test_dtypes_module_and_float0():
    g = fnad.grad(lambda x, n: x * n, argnums=(0, 1), allow_int=True)(2.0, 3)
    assert g[1].dtype == fnad.dtypes.float0 == fnad.float0
    assert fnad.dtypes.issubdtype(np.float32, np.floating)
    assert fnad.dtypes.result_type(np.int8, np.float16) == np.float16
