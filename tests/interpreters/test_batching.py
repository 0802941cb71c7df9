"""Batching: batch axes are kept where they are, moved only when needed; batch_jaxpr."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad.core.ir import typecheck
from fnad.interpreters.batching import batch_jaxpr, moveaxis, vmap_flat
from fnad.test_util import assert_allclose

F32 = np.float32


def test_vmap_flat_keeps_the_rule_chosen_axis_without_out_dims() -> None:
    x = np.arange(6, dtype=F32).reshape(2, 3)
    outs, dims = vmap_flat(lambda a: [fnp.sin(a), a * 2.0], 3, [x], [1])
    assert dims == [1, 1]  # elementwise ops keep the axis where it was: no transpose
    assert_allclose(outs[0], np.sin(x))
    moved, dims = vmap_flat(lambda a: [fnp.sin(a)], 3, [x], [1], out_dims=[0])
    assert dims == [0] and moved[0].shape == (3, 2)


def test_unbatched_values_are_not_broadcast() -> None:
    w = np.ones((3, 3), F32)
    jaxpr = fnad.make_jaxpr(fnad.vmap(lambda x: fnp.matmul(w, x) + 1.0))(np.ones((5, 3), F32))
    assert "broadcast_in_dim" not in [e.prim.name for e in jaxpr.eqns]


def test_moveaxis_moves_creates_and_refuses() -> None:
    x = np.arange(6, dtype=F32).reshape(2, 3)
    assert moveaxis(x, 1, 0, 3).shape == (3, 2)
    assert moveaxis(x, None, 1, 4).shape == (2, 4, 3)
    assert moveaxis(x, 0, 0, 2) is x
    with pytest.raises(fnad.TransformError):
        moveaxis(x, 0, None, 2)


def test_batch_jaxpr_forces_and_reports_batched_outputs() -> None:
    closed = fnad.make_jaxpr(lambda a, b: (a * b, b + 1.0))(np.ones(3, F32), np.ones(3, F32))
    batched, out_batched = batch_jaxpr(closed, 4, [1, None])
    typecheck(batched)
    assert out_batched == [True, False]
    a, b = np.arange(12, dtype=F32).reshape(3, 4), np.arange(3, dtype=F32)
    outs = batched(a, b)
    assert_allclose(outs[0], (a * b[:, None]).T)
    assert_allclose(outs[1], b + 1)
    forced, out_forced = batch_jaxpr(closed, 4, [1, None], force_batched=True)
    assert out_forced == [True, True] and forced(a, b)[1].shape == (4, 3)
