"""dot, matmul, einsum, tensordot and the diagonal helpers against NumPy; derivatives and
batching of the contractions."""

from __future__ import annotations

import numpy as np
import pytest
from fnp_cases import NUMERIC, arrays, check
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import fnad
import fnad.numpy as fnp
from fnad.core.errors import ShapeError
from fnad.test_util import check_grads, check_vmap

SETTINGS = settings(max_examples=20, deadline=None)


def _pair(data, sa, sb):
    da, db = data.draw(st.sampled_from(NUMERIC)), data.draw(st.sampled_from(NUMERIC))
    return data.draw(arrays(da, sa)), data.draw(arrays(db, sb))


@SETTINGS
@given(data=st.data())
def test_matmul(data):
    """1-d operands, plain matrices and broadcast batch axes, mixed dtypes."""
    m, k, n = (data.draw(st.integers(1, 3)) for _ in range(3))
    (ba, bb), _ = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2,
                                                              max_side=2))
    sa = data.draw(st.sampled_from([(k,), (*ba, m, k)]))
    sb = data.draw(st.sampled_from([(k,), (*bb, k, n)]))
    a, b = _pair(data, sa, sb)
    check(fnp.matmul, np.matmul, (a, b))
    check(lambda x, y: x @ y, lambda x, y: x @ y, (a, b))


@SETTINGS
@given(data=st.data())
def test_dot_inner_outer_vdot_tensordot(data):
    sa = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3))
    k = sa[-1] if sa else 2
    sb = data.draw(st.sampled_from([(), (k,), (2, k, 3), (k, 2)]))
    a, b = _pair(data, sa, sb)
    if len(sb) != 3:
        check(fnp.dot, np.dot, (a, b))
    if len(sb) < 2 or sb[-1] == k:
        check(fnp.inner, np.inner, (a, b))
    check(fnp.outer, np.outer, (a, b))
    if a.size == b.size:
        check(fnp.vdot, np.vdot, (a, b))
    for axes in range(len(sa) + 1):
        c = data.draw(arrays(np.float32, sa[len(sa) - axes:] + (2,)))
        check(lambda x, y, n=axes: fnp.tensordot(x, y, n),
              lambda x, y, n=axes: np.tensordot(x, y, n), (a, c))


EINSUMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]), ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("iij->j", [(2, 2, 3)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]), ("i,j->ij", [(2,), (3,)]), ("i,i", [(3,), (3,)]),
    ("ij,kj,k->i", [(2, 3), (4, 3), (4,)]), ("ijk,kj->ik", [(2, 3, 4), (4, 3)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 2)]), ("...j,j", [(2, 3, 4), (4,)]),
    ("i...->...", [(2, 3)]), ("ab,cd,bc->ad", [(2, 3), (4, 2), (3, 4)]),
    ("BaC,aC->Ba", [(2, 3, 4), (3, 4)]), ("ij,ij->ij", [(2, 3), (2, 3)]),
]


@pytest.mark.parametrize("subscripts,shapes", EINSUMS, ids=[e[0] for e in EINSUMS])
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_einsum(subscripts, shapes, data):
    dtype = data.draw(st.sampled_from(NUMERIC))
    ops = tuple(data.draw(arrays(dtype, s)) for s in shapes)
    check(lambda *a: fnp.einsum(subscripts, *a), lambda *a: np.einsum(subscripts, *a), ops)


@SETTINGS
@given(data=st.data())
def test_diagonals(data):
    x = data.draw(arrays(data.draw(st.sampled_from(NUMERIC)),
                         hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=4)))
    k = data.draw(st.integers(-4, 4))
    a1, a2 = data.draw(st.permutations(range(x.ndim)))[:2]
    check(lambda a: fnp.diagonal(a, k, a1, a2), lambda a: np.diagonal(a, k, a1, a2), (x,))
    check(lambda a: fnp.trace(a, k, a1, a2), lambda a: np.trace(a, k, a1, a2), (x,))
    check(lambda a: fnp.tril(a, k), lambda a: np.tril(a, k), (x,))
    check(lambda a: fnp.triu(a, k), lambda a: np.triu(a, k), (x,))
    check(lambda a: fnp.diag(a, k), lambda a: np.diag(a, k), (x[0] if x.ndim == 3 else x,))
    check(lambda a: fnp.diag(a, k), lambda a: np.diag(a, k), (x.reshape(-1)[:3],))


def test_einsum_sublist_form_is_numpys():
    rng = np.random.default_rng(0)
    a, b, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 3, 4)), \
        rng.standard_normal((4, 3, 4))
    for args in [(a, [0, 1], [1, 0]), (a, [0, 1]), (c, [0, 1, 0], [1]), (a, [0, 1], a, [0, 1]),
                 (a, [Ellipsis, 0, 1], b, [Ellipsis, 1, 2], [Ellipsis, 0, 2])]:
        np.testing.assert_allclose(fnp.einsum(*args), np.einsum(*args), rtol=1e-12)
    check_grads(lambda x, y: fnp.einsum(x, [0, 1], y, [0, 1, 2], [2, 0]), (a, b), order=2)
    with pytest.raises(ValueError, match="0..51"):
        fnp.einsum(a, [0, "j"])


def test_errors():
    with pytest.raises(ShapeError, match="contracted"):
        fnp.matmul(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ShapeError, match="label 'j'"):
        fnp.einsum("ij,jk", np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="output"):
        fnp.einsum("ij->k", np.ones((2, 3)))


GRADS = [
    ("matmul", lambda a, b: fnp.matmul(a, b), [(2, 3, 4), (4, 2)]),
    ("matmul batch", lambda a, b: a @ b, [(2, 3, 4), (1, 4, 2)]),
    ("matmul vec", lambda a, b: fnp.matmul(a, b), [(4,), (2, 4, 2)]),
    ("einsum", lambda a, b: fnp.einsum("bij,jk->kb", a, b), [(2, 3, 4), (4, 2)]),
    ("einsum diag", lambda a, b: fnp.einsum("iij,jk->k", a, b), [(3, 3, 4), (4, 2)]),
    ("tensordot", lambda a, b: fnp.tensordot(a, b, ((2, 1), (0, 1))), [(2, 3, 4), (4, 3)]),
    ("trace", lambda a, b: fnp.trace(a @ b, 1) * b, [(3, 4), (4, 3)]),
]


@pytest.mark.parametrize("name,f,shapes", GRADS, ids=[g[0] for g in GRADS])
def test_grads(name, f, shapes):
    rng = np.random.default_rng(0)
    check_grads(f, tuple(rng.standard_normal(s) for s in shapes), order=2)


@pytest.mark.parametrize("in_axes", [(0, None), (None, 1), (-1, 0)])
def test_vmap(in_axes):
    rng = np.random.default_rng(1)
    a, b = (rng.standard_normal((3, 3, 3) if ax is not None else (3, 3)) for ax in in_axes)
    for f in (fnp.matmul, fnp.dot, lambda x, y: fnp.einsum("ij,jk->ki", x, y),
              lambda x, y: fnp.einsum("ii,ij", x, y), lambda x, y: fnp.tensordot(x, y, 1),
              lambda x, y: fnp.trace(x) * fnp.outer(x, y)):
        check_vmap(f, (a, b), in_axes=in_axes)


@pytest.mark.parametrize("name,args", [
    ("dot", ((2, 3), (3, 4))), ("matmul", ((5, 2, 3), (3, 4))), ("inner", ((2, 3), (4, 3))),
    ("vdot", ((6,), (6,))), ("tensordot", ((2, 3, 4), (3, 4, 2))), ("vecdot", ((4, 3), (3,))),
])
def test_precision_and_preferred_element_type(name, args):
    """JAX's keywords: any precision gives the full-precision result; the preferred
    element type is the computation's and the result's dtype."""
    rng = np.random.default_rng(0)
    a, b = (rng.integers(-3, 3, s).astype(np.int8) for s in args)
    fn = getattr(fnp, name)
    ref = getattr(np, name)(a.astype(np.int32), b.astype(np.int32))
    for precision in (None, "highest", fnad.lax.Precision.DEFAULT, ("high", "high")):
        out = fn(a, b, precision=precision, preferred_element_type=np.int32)
        assert out.dtype == np.int32
        np.testing.assert_array_equal(out, ref)
    with pytest.raises(ValueError, match="precision"):
        fn(a, b, precision="fastest-ever")
    x = rng.normal(size=(3, 3)).astype(np.float32)
    out = fnp.einsum("ij,jk->ik", x, x, precision="highest", preferred_element_type=np.float64)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, x.astype(np.float64) @ x.astype(np.float64), rtol=1e-12)
