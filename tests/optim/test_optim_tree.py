"""fnad.optim.tree and fnad.optim.tree_utils (optax.tree, optax.tree_utils): leafwise
arithmetic and whole-tree reductions, against NumPy on the flattened leaves."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
from fnad import optim
from fnad.optim import tree as otree
from fnad.test_util import check_grads

A = {"a": np.array([1.0, -2.0, 3.0]), "b": (np.array([[0.5, -4.0]]), np.array(2.0))}
B = fnad.tree.map(lambda x: x * 0.5 + 3.0, A)


def flat(t):
    return np.concatenate([np.ravel(x) for x in fnad.tree.leaves(t)])


def test_leafwise_arithmetic():
    np.testing.assert_allclose(flat(otree.add(A, B, A)), 2 * flat(A) + flat(B))
    np.testing.assert_allclose(flat(otree.sub(A, B)), flat(A) - flat(B))
    np.testing.assert_allclose(flat(otree.mul(A, B)), flat(A) * flat(B))
    np.testing.assert_allclose(flat(otree.div(A, B)), flat(A) / flat(B))
    np.testing.assert_allclose(flat(otree.scale(2.0, A)), 2 * flat(A))
    np.testing.assert_allclose(flat(otree.add_scale(A, 0.5, B)), flat(A) + 0.5 * flat(B))
    np.testing.assert_allclose(flat(otree.clip(A, -1, 1)), np.clip(flat(A), -1, 1))
    np.testing.assert_allclose(flat(otree.where(False, A, B)), flat(B))
    assert fnad.tree.structure(otree.zeros_like(A)) == fnad.tree.structure(A)
    assert otree.ones_like(A, np.int32)["a"].dtype == np.int32
    assert otree.cast(A, np.float32)["b"][0].dtype == np.float32
    assert otree.batch_shape(A, (2,))["b"][0].shape == (2, 1, 2)


def test_reductions_and_norms():
    x, y = flat(A), flat(B)
    assert otree.size(A) == 6
    np.testing.assert_allclose(otree.vdot(A, B), x @ y)
    np.testing.assert_allclose(otree.sum(A), x.sum())
    assert otree.max(A) == 3.0 and otree.min(A) == -4.0
    assert otree.max({}) == -np.inf and otree.sum({}) == 0
    np.testing.assert_allclose(otree.norm(A), np.linalg.norm(x))
    np.testing.assert_allclose(otree.norm(A, squared=True), x @ x)
    np.testing.assert_allclose(otree.norm(A, 1), np.abs(x).sum())
    np.testing.assert_allclose(otree.norm(A, np.inf), 4.0)
    np.testing.assert_allclose(otree.norm({"z": np.array([3 + 4j])}), 5.0)
    np.testing.assert_allclose(otree.vdot({"z": np.array([1 + 2j])}, {"z": np.array([3 - 1j])}),
                               np.vdot([1 + 2j], [3 - 1j]))
    assert otree.allclose(A, A) and not otree.allclose(A, B)
    with pytest.raises(ValueError, match="ord"):
        otree.norm(A, 3)
    check_grads(lambda v: otree.norm({"v": v, "w": 2 * v}), (np.array([1.0, -2.0]),), order=1)
    np.testing.assert_allclose(fnad.jit(otree.vdot)(A, B), x @ y)


def test_moments_and_the_older_names():
    m = otree.update_moment(A, B, 0.9, 2)
    np.testing.assert_allclose(flat(m), 0.1 * flat(A) ** 2 + 0.9 * flat(B))
    inf = otree.update_infinity_moment(A, B, 0.9, 1e-3)
    np.testing.assert_allclose(flat(inf), np.maximum(np.abs(flat(A)) + 1e-3, 0.9 * flat(B)))
    np.testing.assert_allclose(flat(otree.bias_correction(A, 0.9, 3)), flat(A) / (1 - 0.9 ** 3))
    assert optim.tree_utils.tree_norm is otree.norm and optim.tree_utils.tree_add is otree.add


def test_global_norm_of_complex_updates_is_their_modulus():
    """optim's own tree inner product conjugates its first argument, as vdot and optax do:
    clipping [3 + 4j] to norm 1 divides by 5 (sum(z * z) gave the complex -7 + 24j)."""
    clip = fnad.optim.clip_by_global_norm(1.0)
    updates = {"z": np.array([3 + 4j], np.complex64)}
    out, _ = clip.update(updates, clip.init(updates))
    np.testing.assert_allclose(out["z"], [0.6 + 0.8j], rtol=1e-6)
    np.testing.assert_allclose(fnad.optim.global_norm(updates), 5.0, rtol=1e-6)
