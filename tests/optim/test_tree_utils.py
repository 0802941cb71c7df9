"""fnad.optim.tree_utils and fnad.optim.tree (optax.tree_utils / optax.tree): arithmetic and
reductions against NumPy on the concatenated leaves, state look-ups on real optimizer
states, and the optax submodule names programs import."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.optim as optim
import fnad.test_util as tu
from fnad.optim import tree_utils as otu

RNG = np.random.default_rng(3)
X = {"a": RNG.normal(size=(2, 3)), "b": (RNG.normal(size=4), RNG.normal(size=()))}
Y = {"a": RNG.normal(size=(2, 3)), "b": (RNG.normal(size=4), RNG.normal(size=()))}


def _flat(tree):
    return np.concatenate([np.ravel(x) for x in fnad.tree.leaves(tree)])


def test_arithmetic_is_leafwise():
    fx, fy = _flat(X), _flat(Y)
    np.testing.assert_allclose(_flat(otu.tree_add(X, Y, X)), 2 * fx + fy)
    np.testing.assert_allclose(_flat(otu.tree_sub(X, Y)), fx - fy)
    np.testing.assert_allclose(_flat(otu.tree_mul(X, Y)), fx * fy)
    np.testing.assert_allclose(_flat(otu.tree_div(X, Y)), fx / fy)
    np.testing.assert_allclose(_flat(otu.tree_scale(3.0, X)), 3 * fx)
    np.testing.assert_allclose(_flat(otu.tree_add_scale(X, 0.5, Y)), fx + 0.5 * fy)
    np.testing.assert_allclose(_flat(otu.tree_clip(X, -0.5, 0.5)), np.clip(fx, -0.5, 0.5))
    np.testing.assert_allclose(_flat(otu.tree_where(False, X, Y)), fy)
    np.testing.assert_allclose(_flat(otu.tree_full_like(X, 2.0)), np.full(fx.size, 2.0))


def test_reductions_match_numpy_on_all_leaves():
    f = _flat(X)
    np.testing.assert_allclose(otu.tree_vdot(X, Y), f @ _flat(Y))
    np.testing.assert_allclose(otu.tree_sum(X), f.sum())
    assert otu.tree_max(X) == f.max() and otu.tree_min(X) == f.min()
    assert otu.tree_size(X) == f.size
    for ord_ in (None, 1, np.inf):
        np.testing.assert_allclose(otu.tree_norm(X, ord=ord_), np.linalg.norm(f, ord_))
    np.testing.assert_allclose(otu.tree_norm(X, squared=True), f @ f)
    assert otu.tree_max({}) == -np.inf and otu.tree_sum([]) == 0
    assert otu.tree_allclose(X, otu.tree_add(X, otu.tree_zeros_like(X)))
    assert not otu.tree_allclose(X, Y)


def test_norm_differentiates():
    tu.check_grads(lambda t: otu.tree_norm(t), (X,), order=2, modes=("fwd", "rev"))
    tu.check_grads(lambda t: otu.tree_vdot(t, Y), (X,), order=1, modes=("rev",))


def test_dtypes_and_random():
    mixed = {"a": np.ones(2, np.float32), "b": np.ones(2, np.float64)}
    assert otu.tree_dtype(mixed, "promote") == np.float64
    assert otu.tree_dtype(mixed, "lowest") == np.float32
    with pytest.raises(optim.OptimizerArgumentError, match="mixed_dtype_handler"):
        otu.tree_dtype(mixed)
    assert all(x.dtype == np.float32 for x in fnad.tree.leaves(otu.tree_cast(X, np.float32)))
    cast = otu.tree_cast_like(X, otu.tree_cast(X, np.float16))
    assert all(x.dtype == np.float16 for x in fnad.tree.leaves(cast))
    draws = otu.tree_random_like(fnad.random.PRNGKey(0), X)
    assert fnad.tree.structure(draws) == fnad.tree.structure(X)
    assert not np.allclose(draws["a"].ravel()[:4], draws["b"][0])


def test_get_and_set_on_optimizer_state():
    opt = optim.chain(optim.add_noise(1.0, 0.9, 0), optim.scale_by_adam())
    state = opt.init(np.ones(3, np.float32))
    with pytest.raises(optim.OptimizerKeyError, match="occurs 2 times"):
        otu.tree_get(state, "count")
    assert isinstance(otu.tree_get(state, "ScaleByAdamState"), optim.ScaleByAdamState)
    np.testing.assert_array_equal(otu.tree_get(state, "mu"), np.zeros(3))
    assert otu.tree_get(state, "nothing", default=7) == 7
    new = otu.tree_set(state, mu=np.ones(3))
    np.testing.assert_array_equal(otu.tree_get(new, "mu"), np.ones(3))
    assert fnad.tree.structure(new) == fnad.tree.structure(state)
    only_adam = otu.tree_get(state, "count", filtering=lambda path, _: path[-1].tuple_name
                             == "ScaleByAdamState")
    assert only_adam.shape == ()
    with pytest.raises(optim.OptimizerKeyError, match="not keys"):
        otu.tree_set(state, missing=1)


def test_optax_submodule_names():
    from fnad.optim import schedules, transforms, tree as ot

    assert transforms.freeze is optim.freeze and transforms.chain is optim.chain
    assert schedules.inject_hyperparams is optim.inject_hyperparams
    assert ot.norm is otu.tree_norm and ot.get is otu.tree_get
    assert optim.ClipState is optim.EmptyState
