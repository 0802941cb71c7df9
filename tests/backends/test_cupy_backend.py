"""The CuPy backend. Without a GPU: every primitive has an impl the CuPy backend runs, the
sample programs reach every primitive, the CuPy-specific impls match the NumPy impls when
run on NumPy, the
launcher packs arguments in the kernels' parameter order, and every CUDA kernel the backend
generates for the MLP, CNN and RNN train steps compiles with NVRTC. With a GPU (marked
`gpu`): every primitive's CuPy impl and the jitted programs match NumPy."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad import lax, nn, optim
from fnad.backends import c_backend, cupy_backend, numpy_backend, nvrtc
from fnad.core.trace import EvalTrace
from fnad.jit import passes
from fnad.jit.fusion import FusedKernel, fuse, fusion_p
from fnad.jit.jit_call import jit_call_p
from fnad.jit.kernels import DENSE, SCALAR, STRIDED, parameters
from fnad.test_util import assert_allclose

F32, F64, I32, U32 = np.float32, np.float64, np.int32, np.uint32
ALL_PRIMITIVES = fnad.core.primitive.fnad_primitives()


def _gpu_reason() -> str | None:
    try:
        import cupy
    except Exception as e:  # not installed, or CUDA libraries missing
        return f"CuPy is not importable ({type(e).__name__})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:
        return f"CuPy sees no CUDA device ({type(e).__name__})"
    return None if count else "CuPy sees no CUDA device"


GPU_REASON = _gpu_reason()
requires_gpu = pytest.mark.skipif(GPU_REASON is not None, reason=str(GPU_REASON))


# ---------------------------------------------------------------------------- the impls

def test_every_primitive_has_an_impl_the_cupy_backend_runs() -> None:
    for name, prim in ALL_PRIMITIVES.items():
        assert "numpy" in prim.impls or "cupy" in prim.impls, name


def test_a_new_primitive_runs_on_the_cupy_backend_through_its_numpy_impl(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No table to extend: a primitive with only a NumPy impl gets the device-moving
    wrapper, which also moves results made on the host."""
    monkeypatch.setattr(cupy_backend, "cp", _NumpyAsCupy())
    prim = fnad.core.primitive.Primitive("test_made_up")
    prim.def_impl(lambda x, k: x * k)
    out = cupy_backend.impl_for(prim)(np.arange(3.0), k=2)
    np.testing.assert_array_equal(out, [0.0, 2.0, 4.0])


# ---------------------------------------------------------------------------- sample programs

R = np.random.default_rng(0)


def u(lo: float, hi: float, shape: tuple = (3, 4), dtype: Any = F32) -> np.ndarray:
    return R.uniform(lo, hi, shape).astype(dtype)


def ints(lo: int, hi: int, shape: tuple = (3, 4), dtype: Any = I32) -> np.ndarray:
    return R.integers(lo, hi, shape).astype(dtype)


UNARY = {  # lax function name -> its domain
    "abs": (-3, 3), "acos": (-0.9, 0.9), "acosh": (1.1, 4), "asin": (-0.9, 0.9),
    "asinh": (-3, 3), "atan": (-3, 3), "atanh": (-0.9, 0.9), "cbrt": (-3, 3), "ceil": (-3, 3),
    "cos": (-3, 3), "cosh": (-3, 3), "erf": (-3, 3), "erfc": (-3, 3), "erf_inv": (-0.9, 0.9),
    "exp": (-3, 3), "exp2": (-3, 3), "expm1": (-3, 3), "floor": (-3, 3), "is_finite": (-3, 3),
    "lgamma": (-3.7, 5), "digamma": (0.2, 5), "log": (0.1, 3), "log1p": (-0.5, 3),
    "logistic": (-3, 3), "neg": (-3, 3), "round": (-3, 3), "rsqrt": (0.1, 3), "sign": (-3, 3),
    "sin": (-3, 3), "sinh": (-3, 3), "sqrt": (0.1, 3), "square": (-3, 3), "tan": (-1, 1),
    "tanh": (-3, 3),
}
BINARY = ["add", "sub", "mul", "div", "rem", "pow", "atan2", "nextafter", "max", "min",
          "eq", "ne", "lt", "le", "gt", "ge"]


def elementwise_samples() -> None:
    for dtype in (F32, F64):
        for name, (lo, hi) in UNARY.items():
            getattr(lax, name)(u(lo, hi, dtype=dtype))
        for name in BINARY:
            getattr(lax, name)(u(0.5, 3, dtype=dtype), u(0.5, 3, dtype=dtype))
        lax.digamma(np.array([-2.5, -0.5, 0.5, 30.0], dtype))
        lax.polygamma(0, u(0.3, 4, dtype=dtype))
        lax.polygamma(2, np.array([-1.5, 0.25, 3.0, 20.0], dtype))
        lax.clamp(np.asarray(-1, dtype), u(-3, 3, dtype=dtype), np.asarray(1, dtype))
        lax.integer_pow(u(0.5, 2, dtype=dtype), -3)
        lax.round(u(-3, 3, dtype=dtype), lax.RoundingMethod.TO_NEAREST_EVEN)
    for dtype in (I32, U32):
        a, b = ints(0, 50, dtype=dtype), ints(-7, 8, dtype=I32).astype(dtype)
        lax.div(a, b), lax.rem(a, b), lax.max(a, b), lax.integer_pow(a, 3)
        for f in (lax.bitwise_and, lax.bitwise_or, lax.bitwise_xor):
            f(a, b)
        lax.bitwise_not(a)
        s = ints(-2, 40, dtype=dtype)
        lax.shift_left(a, s), lax.shift_right_logical(a, s), lax.shift_right_arithmetic(a, s)
        lax.population_count(ints(-1000, 1000, dtype=I32).astype(dtype))
    lax.shift_right_arithmetic(np.array([-8, 8, -1], I32), np.array([1, 40, 31], I32))
    lax.population_count(np.array([-1, 0, 2**40 + 7], np.int64))
    lax.bitwise_not(u(-1, 1) > 0)
    lax.convert_element_type(u(-300, 300), np.int32)
    lax.convert_element_type(ints(-5, 5), np.float64)
    lax.convert_element_type(ints(0, 3), np.bool_)
    lax.select_n(u(-1, 1) > 0, u(-1, 1), u(-1, 1))
    lax.select_n(ints(0, 3), u(-1, 1), np.float32(7), u(-1, 1))
    lax.select_n(np.int32(1), np.float32(2), np.float32(3))
    lax.broadcasted_iota(np.float32, (2, 3), 1)
    lax.iota(np.int32, 5)


def structural_samples() -> None:
    x = u(-3, 3, (2, 3, 4))
    lax.broadcast_in_dim(u(-1, 1, (3,)), (2, 3, 4), (1,))
    lax.reshape(x, (6, 4))
    lax.transpose(x, (2, 0, 1))
    lax.squeeze(u(-1, 1, (1, 3, 1)), (0, 2))
    lax.bitcast_convert_type(x, np.uint32), lax.bitcast_convert_type(x, np.uint8)
    lax.expand_dims(u(-1, 1, (3,)), (0, -1))
    lax.rev(x, (0, 2))
    lax.pad(x, np.float32(-9), [(1, -1, 1), (0, 2, 0), (-1, 1, 2)])
    lax.concatenate([x, x[:, :1]], 1)
    lax.slice(x, (0, 1, 0), (2, 3, 4), (1, 1, 2))
    lax.dynamic_slice(x, (np.int32(1), np.int32(-1), np.int32(3)), (1, 2, 2))
    lax.dynamic_update_slice(x, u(-1, 1, (1, 2, 2)), (np.int32(5), np.int32(0), np.int32(1)))
    points = np.array([[0, 3], [1, 0], [0, 3], [4, -1], [1, 2]], I32)
    for mode in ("clip", "drop"):
        lax.gather(x, points, (0, 2), mode)
        upd = u(1, 2, (5, 3))
        for f in (lax.scatter, lax.scatter_add, lax.scatter_mul, lax.scatter_max, lax.scatter_min):
            f(x, points, upd, (0, 2), mode)
            f(x.astype(F64), points, upd.astype(F64), (0, 2), mode)
        lax.scatter_add(ints(-5, 5, (2, 3, 4)), points, ints(-5, 5, (5, 3)), (0, 2), mode)
    lax.gather(u(-1, 1, (4, 0)), np.array([[1], [2]], I32), (0,))


def reduction_samples() -> None:
    x = u(-3, 3, (2, 3, 4))
    for f in (lax.reduce_sum, lax.reduce_max, lax.reduce_min, lax.reduce_prod):
        f(x, (0, 2)), f(ints(-3, 3, (2, 3)), (1,)), f(u(-1, 1, (2, 0)), (1,))
    lax.reduce_max(np.array([[1.0, np.nan], [2.0, 3.0]], F32), (1,))
    lax.reduce_and(x > 0, (1,)), lax.reduce_or(x > 0, (0, 1, 2))
    lax.argmax(np.array([[1.0, 3.0, 3.0], [np.nan, 0.0, 5.0]], F32), 1)
    lax.argmin(ints(-3, 3, (4, 5)), 0, np.int64)
    for f in (lax.cumsum, lax.cumprod, lax.cummax, lax.cummin):
        f(x, 1), f(x, 2, reverse=True), f(ints(-3, 3, (5,)), 0)
    lax.cummax(np.array([1.0, np.nan, 2.0], F32), 0)


def product_samples() -> None:
    a, b = u(-1, 1, (3, 4)), u(-1, 1, (4, 5))
    lax.dot_general(a, b, (((1,), (0,)), ((), ())))
    lax.dot_general(a, u(-1, 1, (5, 4)), (((1,), (1,)), ((), ())))
    lax.dot_general(u(-1, 1, (2, 3, 4)), u(-1, 1, (2, 4, 5)), (((2,), (1,)), ((0,), (0,))))
    lax.dot_general(u(-1, 1, (4,)), u(-1, 1, (4,)), (((0,), (0,)), ((), ())))
    lax.dot_general(ints(-3, 3, (3, 4)), ints(-3, 3, (4, 2)), (((1,), (0,)), ((), ())))
    x, w = u(-1, 1, (2, 3, 6, 5), F64), u(-1, 1, (4, 3, 3, 2), F64)
    lax.conv_general_dilated(x, w, (1, 1), "SAME")
    lax.conv_general_dilated(x, w, (2, 1), [(1, 0), (2, 1)], rhs_dilation=(1, 2))
    lax.conv_general_dilated(x, w, (1, 1), ((0, 0), (0, 0)), lhs_dilation=(2, 1))
    lax.conv_general_dilated(u(-1, 1, (2, 6, 5, 4), F64), u(-1, 1, (3, 3, 2, 4), F64), (1, 1),
                             "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
                             feature_group_count=2)
    lax.conv_general_dilated(u(-1, 1, (4, 2, 7)), u(-1, 1, (6, 2, 3)), (1,), "VALID",
                             batch_group_count=2)
    img = u(-1, 1, (2, 5, 6, 3))
    for kind, init in (("max", -np.inf), ("min", np.inf), ("sum", 0.0)):
        lax.reduce_window(img, init, kind, (1, 2, 2, 1), (1, 2, 2, 1), "SAME")
        lax.reduce_window(img, init, kind, (1, 3, 2, 1), (1, 1, 2, 1), [(0, 0), (1, 1),
                                                                        (0, 1), (0, 0)])
    pool = lambda v: fnp.sum(lax.reduce_window(v, -np.inf, "max", (1, 2, 2, 1),
                                               (1, 2, 2, 1), "SAME") ** 2)
    fnad.grad(pool)(img)
    fnad.jvp(pool, (img,), (u(-1, 1, img.shape),))


def loop_and_call_samples() -> None:
    x = u(-1, 1, (3,))
    lax.sort(u(-1, 1, (3, 5)), 1)
    lax.sort((ints(0, 2, (2, 6)), u(-1, 1, (2, 6)), ints(0, 9, (2, 6))), 1, num_keys=2)
    lax.sort(np.array([2.0, np.nan, -1.0, 2.0], F32))
    lax.cond(np.bool_(True), lambda v: v * 2.0, fnp.sin, x)
    lax.switch(np.int32(2), [fnp.sin, fnp.cos, fnp.tanh], x)
    lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * 1.5), (np.int32(0), x))
    lax.scan(lambda c, v: (c + v, c * v), x, u(-1, 1, (4, 3)))
    lax.scan(lambda c, v: (c + v, c * v), x, u(-1, 1, (4, 3)), reverse=True)
    lax.scan(lambda c, v: (c + v, fnp.sin(c)), x, u(-1, 1, (0, 3)))
    fnad.stop_gradient(x)
    fnad.checkpoint(lambda v: fnp.sin(v) * v)(x)

    @fnad.custom_jvp
    def f(v):
        return fnp.exp(v)

    f.defjvp(lambda p, t: (f(*p), t[0] * f(*p)))
    f(x)

    @fnad.custom_vjp
    def g(v):
        return v * v

    g.defvjp(lambda v: (v * v, v), lambda v, ct: (2.0 * v * ct,))
    g(x)
    fnad.jvp(g, (x,), (x,))
    fnad.debug.print("sample {}", x)
    fnad.pure_callback(np.sin, fnad.ShapeDtypeStruct(x.shape, x.dtype), x)
    jit_call_p.bind(x, jaxpr=fnad.make_jaxpr(lambda v: fnp.tanh(v) + v)(x), name="f")


def special_samples() -> None:
    from fnad.lax import special
    a, x, p = u(0.5, 3), u(0.1, 4), u(0.05, 0.95)
    for f in (lax.igamma, lax.igammac, lax.igamma_grad_a, lax.random_gamma_grad,
              special.random_loggamma, special.poisson_quantile):
        f(a, x if f is not special.random_loggamma else p)
    special.random_loggamma_grad_p.bind(a, x)
    special.binomial_quantile(np.float32(9), p, p)
    lax.betainc(a, x, p), lax.zeta(a + 1, x), special.hyp2f1(a, x, a + 1, p - 0.5)
    for f in (lax.bessel_i0e, lax.bessel_i1e, special.erfcx, special.dawsn, special.expi,
              special.fresnel, special.sici, special.spence):
        f(x)
    special.ndtri(p), special.expn(np.float32(2), x), special.owens_t(x, a)
    special.hyp1f1(a, x, x), special.bessel_jn(x, 2), special.wofz(x.astype(np.complex64))
    special.bessel_yn(x, 2), special.bessel_ive(a, x)
    special.sph_legendre(np.float32(3), np.float32(1), x)



def linalg_and_fft_samples() -> None:
    a = u(-1, 1, (2, 4, 4), F64) + 4 * np.eye(4)
    lax.cholesky(a @ np.swapaxes(a, -1, -2))
    for left, lower, trans in ((True, True, False), (False, False, True)):
        lax.triangular_solve(a, u(-1, 1, (2, 4, 3) if left else (2, 3, 4), F64),
                             left_side=left, lower=lower, transpose_a=trans)
    lax.lu(a), lax.lu(u(-1, 1, (3, 5)))
    lax.qr(u(-1, 1, (2, 5, 3), F64), full_matrices=False), lax.qr(u(-1, 1, (3, 4)))
    lax.eigh(a), lax.svd(u(-1, 1, (2, 3, 5), F64)), lax.svd(a, compute_uv=False)
    lax.eig(a)
    lax.custom_linear_solve(lambda x: a[0] @ x, u(-1, 1, (4,), F64),
                            lambda mv, b: fnp.linalg.solve(a[0], b))
    z = u(-1, 1, (3, 8)) + 1j * u(-1, 1, (3, 8))
    lax.fft(z.astype(np.complex64), "fft", (8,)), lax.fft(z, "ifft", (3, 8))
    lax.fft(u(-1, 1, (3, 8)), "rfft", (8,)), lax.fft(z[:, :5], "irfft", (8,))


SAMPLES = [elementwise_samples, structural_samples, reduction_samples, product_samples,
           loop_and_call_samples, special_samples, linalg_and_fft_samples]
# Not sampled: collectives need a named axis (their module owns the CuPy impls and tests
# them), fusion runs fused kernels (covered by the jit tests below).
UNSAMPLED = {"psum", "pmean", "pmax", "pmin", "all_gather", "axis_index", "fusion"}


class _Recorder(EvalTrace):
    """Evaluates like EvalTrace and keeps every (primitive, operands, params) it runs."""

    def __init__(self) -> None:
        super().__init__(None)
        self.calls: list[tuple[Any, tuple, dict]] = []

    def process_primitive(self, prim: Any, args: tuple, params: dict) -> Any:
        self.calls.append((prim, args, params))
        return super().process_primitive(prim, args, params)


@functools.cache
def recorded() -> list[tuple[Any, tuple, dict]]:
    """The primitive applications of the sample programs, at most 6 per primitive."""
    with _Recorder() as rec:
        for sample in SAMPLES:
            sample()
    per: dict[str, int] = {}
    kept = []
    for call in rec.calls:
        n = per[call[0].name] = per.get(call[0].name, 0) + 1
        if n <= 6:
            kept.append(call)
    return kept


def test_samples_reach_every_primitive() -> None:
    reached = {prim.name for prim, _, _ in recorded()}
    assert reached >= set(ALL_PRIMITIVES) - UNSAMPLED, \
        f"not sampled: {sorted(set(ALL_PRIMITIVES) - UNSAMPLED - reached)}"


class _NumpyAsCupy:
    """NumPy standing in for CuPy, with CuPy's always-stable argsort."""

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)

    @staticmethod
    def argsort(a: Any, axis: int = -1) -> Any:
        return np.argsort(a, axis=axis, kind="stable")


def _calls_of_dedicated_impls() -> list[tuple[Any, tuple, dict]]:
    # jit_call compiles for the "cupy" jit backend, which needs a GPU
    return [c for c in recorded() if "cupy" in c[0].impls and c[0].name != "jit_call"]


@pytest.mark.parametrize("call", _calls_of_dedicated_impls(), ids=lambda c: c[0].name)
def test_dedicated_impls_match_numpy_on_numpy(call, monkeypatch) -> None:
    """The dedicated impls use only API NumPy and CuPy share, so on NumPy they must give
    what the NumPy impls give."""
    prim, args, params = call
    monkeypatch.setattr(cupy_backend, "cp", _NumpyAsCupy())
    expected = prim.impls["numpy"](*args, **params)
    assert_allclose(cupy_backend.impl_for(prim)(*args, **params), expected,
                    rtol=1e-6 if _dtype_of(expected) == F32 else 1e-12,
                    err_msg=f"{prim.name} {params}")


def _dtype_of(out: Any) -> Any:
    return np.asarray(out[0] if isinstance(out, list) else out).dtype


# ---------------------------------------------------------------------------- the launcher

def _fused_kernels(f: Callable[..., Any], *args: Any) -> list[FusedKernel]:
    closed = fnad.jit(f).lower(*args)
    return [e.params["kernel"] for e in fuse(closed, lambda k: None).eqns
            if e.prim is fusion_p]


def test_launch_args_follow_the_kernel_parameters() -> None:
    x, b = u(-1, 1, (6, 5)), u(-1, 1, (5,))
    (fused,) = _fused_kernels(lambda x, b, s: fnp.tanh(x * b + s) * 2.0, x, b, np.float32(3))
    n_in = len(fused.in_dtypes)
    kernel = fused.kernel((STRIDED, DENSE, SCALAR, *(SCALAR,) * (n_in - 3)), fused.rank)
    inputs = [x.T.copy().T, b, np.float32(3)] + [np.float32(2)] * (n_in - 3)
    strides = [[5, 1], None, None] + [None] * (n_in - 3)
    outputs = [np.empty((6, 5), F32)]
    args = cupy_backend.launch_args(kernel, (6, 5), inputs, strides, outputs)
    params = parameters(kernel)
    assert len(args) == len(params)
    arrays = iter([*inputs, *outputs])
    for (ctype, name), arg in zip(params, args):
        if ctype == "long long":
            assert type(arg) is np.int64, name
        else:
            assert arg is next(arrays), name
    sizes = {name: int(a) for (ctype, name), a in zip(params, args) if ctype == "long long"}
    assert sizes["n"] == 30 and (sizes["s0"], sizes["s1"]) == (6, 5)
    assert (sizes["st0_0"], sizes["st0_1"]) == (5, 1)


def test_grid_covers_the_work_and_is_capped() -> None:
    block, cap = cupy_backend.BLOCK, cupy_backend.MAX_BLOCKS
    assert [cupy_backend.grid_size(n) for n in (0, 1, block, block + 1)] == [1, 1, 1, 2]
    assert cupy_backend.grid_size(block * cap * 10) == cap


# ---------------------------------------------------------------------------- CUDA sources

def mlp_step(params, state, x, y):
    def loss(p):
        h = nn.relu(x @ p["w1"] + p["b1"])
        h = nn.relu(h @ p["w2"] + p["b2"])
        return -fnp.mean(fnp.sum(y * nn.log_softmax(h @ p["w3"] + p["b3"]), axis=-1))

    grads = fnad.grad(loss)(params)
    updates, state = OPT.update(grads, state, params)
    return optim.apply_updates(params, updates), state


def cnn_step(params, state, x, y):
    def loss(p):
        h = lax.conv_general_dilated(x, p["k"], (1, 1), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
        h = nn.relu(h + p["kb"])
        h = lax.reduce_window(h, -np.inf, "max", (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        logits = h.reshape(h.shape[0], -1) @ p["w"] + p["b"]
        return -fnp.mean(fnp.sum(y * nn.log_softmax(logits), axis=-1))

    grads = fnad.grad(loss)(params)
    updates, state = OPT.update(grads, state, params)
    return optim.apply_updates(params, updates), state


def rnn_step(params, state, xs, y):
    def loss(p):
        def cell(h, x):
            h = fnp.tanh(x @ p["wx"] + h @ p["wh"] + p["b"])
            return h, h

        h, _ = lax.scan(cell, fnp.zeros((xs.shape[1], p["wh"].shape[0])), xs)
        return fnp.mean((h @ p["wo"] - y) ** 2)

    grads = fnad.grad(loss)(params)
    updates, state = OPT.update(grads, state, params)
    return optim.apply_updates(params, updates), state


OPT = optim.adam(1e-3)


def _params(**shapes: tuple) -> dict[str, np.ndarray]:
    return {k: u(-0.3, 0.3, s) for k, s in shapes.items()}


def _with_state(params: dict) -> tuple:
    return params, OPT.init(params)


def train_programs() -> list[tuple[str, Callable[..., Any], tuple]]:
    onehot = lambda n, k: np.eye(k, dtype=F32)[R.integers(0, k, n)]
    mlp = _with_state(_params(w1=(20, 16), b1=(16,), w2=(16, 12), b2=(12,), w3=(12, 10),
                              b3=(10,)))
    cnn = _with_state(_params(k=(3, 3, 2, 4), kb=(4,), w=(36, 10), b=(10,)))
    rnn = _with_state(_params(wx=(5, 8), wh=(8, 8), b=(8,), wo=(8, 3)))
    return [("mlp", mlp_step, (*mlp, u(-1, 1, (8, 20)), onehot(8, 10))),
            ("cnn", cnn_step, (*cnn, u(-1, 1, (2, 6, 6, 2)), onehot(2, 10))),
            ("rnn", rnn_step, (*rnn, u(-1, 1, (4, 3, 5)), u(-1, 1, (3, 3)))),
            ("softmax_f64", lambda x: nn.softmax(x * 2.0 - 1.0, axis=0), (u(-3, 3, (5, 7), F64),)),
            ("views", lambda x, b, s: fnp.tanh(x.T * b[:, None] + s) * 2.0,
             (u(-1, 1, (8, 6))[::2], u(-1, 1, (6,)), np.float32(3)))]


def _cuda_sources(f: Callable[..., Any], args: tuple) -> dict[str, str]:
    """name -> CUDA source of every kernel the cupy backend generates running `f` (the
    fused plan run on CPU through the C backend), plus each fused kernel with all inputs
    dense, all strided, and a scalar first input."""
    seen: dict[str, str] = {}
    fused_kernels: list[FusedKernel] = []

    def compile_kernel(kernel: Any) -> Any:
        name, source = cupy_backend.kernel_source(kernel)
        seen[name] = source
        return c_backend.compile_kernel(kernel)

    def lower(closed: Any, **loop: Any) -> Callable[..., list]:
        fused = fuse(closed, compile_kernel)
        fused_kernels.extend(e.params["kernel"] for e in fused.eqns if e.prim is fusion_p)
        return numpy_backend.lower(fused, (), "f", lambda c, **kw: lower(passes.optimize(c), **kw),
                                   **loop).fn

    lower(fnad.jit(f).lower(*args))(*fnad.tree.tree_leaves(args))
    for fused in fused_kernels:
        n = len(fused.in_dtypes)
        for accesses in ((DENSE,) * n, (STRIDED,) * n, (SCALAR,) + (STRIDED,) * (n - 1)):
            name, source = cupy_backend.kernel_source(fused.kernel(accesses, fused.rank))
            seen[name] = source
    return seen


@pytest.mark.skipif(nvrtc.library() is None, reason="libnvrtc not installed (test extra)")
@pytest.mark.skipif(not c_backend.available(), reason="no C compiler to run the fused plans")
@pytest.mark.parametrize("program", train_programs(), ids=lambda p: p[0])
def test_every_generated_cuda_kernel_compiles_with_nvrtc(program) -> None:
    _, f, args = program
    sources = _cuda_sources(f, args)
    assert sources, "the program generated no fused kernel"
    for source in sources.values():
        for arch in ("compute_80", "compute_90"):
            assert ".entry" in nvrtc.compile_ptx(source, arch)


@pytest.mark.skipif(not c_backend.available(), reason="no C compiler to run the fused plans")
@pytest.mark.parametrize("program", train_programs(), ids=lambda p: p[0])
def test_cupy_lowering_runs_with_numpy_standing_in(program, monkeypatch) -> None:
    """The "cupy" jit path (constants and kernel literals hoisted, CuPy impls called, results
    on the device) with NumPy for CuPy and C kernels for CUDA ones: the NumPy backend's
    results."""
    from fnad.jit.executable import compile_jaxpr
    monkeypatch.setattr(cupy_backend, "cp", _NumpyAsCupy())
    for prim in ALL_PRIMITIVES.values():
        if "numpy" in prim.impls or "cupy" in prim.impls:
            monkeypatch.setitem(prim.impls, "cupy", cupy_backend.impl_for(prim))

    def lower(closed: Any) -> Callable[..., list]:
        return cupy_backend.lower_with(closed, "f", lambda c: lower(passes.optimize(c)),
                                       c_backend.compile_kernel).fn

    _, f, args = program
    closed = fnad.jit(f).lower(*args)
    leaves = fnad.tree.tree_leaves(args)
    assert_allclose(lower(closed)(*leaves), compile_jaxpr(closed, "numpy")(*leaves),
                    rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- on a GPU

@pytest.mark.gpu
@requires_gpu
@pytest.mark.parametrize("call", recorded(), ids=lambda c: c[0].name)
def test_cupy_impls_match_numpy(call) -> None:
    prim, args, params = call
    cupy_backend.register()
    expected = prim.impls["numpy"](*args, **params)
    got = prim.impls["cupy"](*fnad.device_put(list(args)), **params)
    tol = 2e-3 if prim.name == "conv_general_dilated" else None  # cuDNN may use TF32
    assert_allclose(got, expected, rtol=tol, err_msg=f"{prim.name} {params}")



@pytest.mark.gpu
@requires_gpu
@pytest.mark.parametrize("program", train_programs(), ids=lambda p: p[0])
def test_jitted_programs_on_cupy_match_numpy(program) -> None:
    from fnad.jit.executable import compile_jaxpr
    _, f, args = program
    closed = fnad.jit(f).lower(*args)
    leaves = fnad.tree.tree_leaves(args)
    expected = compile_jaxpr(closed, "numpy")(*leaves)
    got = compile_jaxpr(closed, "cupy")(*fnad.device_put(leaves))
    assert all(fnad.device.is_gpu_array(o) for o in got)
    assert_allclose(got, expected, rtol=1e-4, atol=1e-5)



@pytest.mark.gpu
@requires_gpu
def test_eager_fnp_on_cupy_arrays_stays_on_the_gpu() -> None:
    x = u(-1, 1, (4, 5))
    gx = fnad.device_put(x)
    out = fnp.tanh(gx) * 2.0 + fnp.sum(gx, axis=0)
    assert fnad.device.is_gpu_array(out)
    assert_allclose(out, np.tanh(x) * 2.0 + x.sum(0), rtol=1e-5)
    g = fnad.grad(lambda v: fnp.sum(fnp.sin(v) ** 2))(gx)
    assert_allclose(g, 2 * np.sin(x) * np.cos(x), rtol=1e-5)


@pytest.mark.gpu
@requires_gpu
def test_conv_paths_agree() -> None:
    x, w = u(-1, 1, (2, 3, 9, 8), F64), u(-1, 1, (4, 3, 3, 2), F64)
    params = dict(window_strides=(1, 2), padding=((1, 1), (0, 0)), lhs_dilation=(1, 1),
                  rhs_dilation=(2, 1), dimension_numbers=((0, 1, 2, 3),) * 3,
                  feature_group_count=1, batch_group_count=1)
    cupy_backend.register()
    gx, gw = fnad.device_put((x, w))
    expected = ALL_PRIMITIVES["conv_general_dilated"].impls["numpy"](x, w, **params)
    import cupy

    from fnad.lax.conv import conv_im2col
    assert_allclose(conv_im2col(gx, gw, xp=cupy, windows=cupy_backend._windows, **params),
                    expected)
    cudnn = cupy_backend._cudnn()
    if cudnn is None:
        pytest.skip("this CuPy has no cuDNN")
    assert_allclose(cupy_backend._conv_cudnn(cudnn, gx, gw, **params), expected)
