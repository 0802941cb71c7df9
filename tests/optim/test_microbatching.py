"""`microbatch` against evaluating the whole batch at once, for each way of combining."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad import optim

RNG = np.random.default_rng(0)
X = RNG.normal(size=(12, 3))
W = RNG.normal(size=3)


def per_example_loss(w, x):
    return (x @ w) ** 2


def test_sum_and_mean_match_the_whole_batch():
    total = fnp.sum(per_example_loss(W, X))
    f = lambda w, x: fnp.sum(per_example_loss(w, x))
    np.testing.assert_allclose(optim.microbatch(f, 1, 4)(W, X), total, rtol=1e-12)
    mean = optim.microbatch(lambda w, x: fnp.mean(per_example_loss(w, x)), 1, 3,
                            optim.AccumulationType.MEAN)
    np.testing.assert_allclose(mean(W, X), total / 12, rtol=1e-12)
    running = optim.microbatch(lambda w, x: fnp.mean(per_example_loss(w, x)), 1, 6,
                               optim.AccumulationType.RUNNING_MEAN)
    np.testing.assert_allclose(running(W, X), total / 12, rtol=1e-12)


def test_concat_restores_the_example_order_and_grads_flow():
    f = optim.microbatch(per_example_loss, 1, 4, optim.AccumulationType.CONCAT)
    np.testing.assert_allclose(f(W, X), per_example_loss(W, X), rtol=1e-12)
    g = fnad.grad(lambda w: fnp.sum(optim.microbatch(lambda w, x: fnp.sum(
        per_example_loss(w, x)), 1, 4)(w, X)))(W)
    np.testing.assert_allclose(g, fnad.grad(lambda w: fnp.sum(per_example_loss(w, X)))(W),
                               rtol=1e-12)


@pytest.mark.parametrize("jit", [False, True])
def test_concat_of_scalar_outputs_lists_one_per_microbatch(jit):
    # Microbatch i holds examples i, i + 3, ...: its loss is the sum over those rows.
    f = optim.microbatch(lambda w, x: fnp.sum(per_example_loss(w, x)), 1, 4,
                         optim.AccumulationType.CONCAT)
    out = (fnad.jit(f) if jit else f)(W, X)
    expected = [np.sum(per_example_loss(W, X)[i::3]) for i in range(3)]
    assert out.shape == (3,)
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_pytree_accumulators_keyword_batches_and_padding():
    f = lambda w, *, x: {"sum": fnp.sum(per_example_loss(w, x)), "rows": x}
    acc = {"sum": optim.AccumulationType.SUM, "rows": optim.AccumulationType.CONCAT}
    out = optim.microbatch(f, (), 3, acc, argnames="x")(W, x=X)
    np.testing.assert_allclose(out["rows"], X)
    partial = optim.microbatch(lambda w, x: fnp.sum(per_example_loss(w, x)), 1, 3,
                               num_real_microbatches=2)(W, X)
    # microbatch i holds examples i, i + 4, i + 8: the first two slices are rows 0, 1 (mod 4)
    keep = np.arange(12) % 4 < 2
    np.testing.assert_allclose(partial, np.sum(per_example_loss(W, X)[keep]), rtol=1e-12)
    with pytest.raises(ValueError, match="divisible"):
        optim.microbatch(f, (), 5, acc, argnames="x")(W, x=X)


def test_micro_vmap_matches_vmap():
    from fnad.optim.microbatching import AccumulationType, micro_vmap

    f = lambda x, s: fnp.sin(x).sum() * s
    whole = fnad.vmap(f, (0, None))(X, 2.0)
    np.testing.assert_allclose(micro_vmap(f, (0, None), microbatch_size=3)(X, 2.0), whole,
                               rtol=1e-12)
    summed = micro_vmap(f, (0, None), microbatch_size=4, accumulator=AccumulationType.SUM)
    np.testing.assert_allclose(summed(X, 2.0), whole.sum(), rtol=1e-12)
    both = micro_vmap(lambda x: (x.sum(), x), microbatch_size=6,
                      accumulator=(AccumulationType.MEAN, AccumulationType.CONCAT))(X)
    np.testing.assert_allclose(both[0], X.sum(1).mean(), rtol=1e-12)
    np.testing.assert_array_equal(both[1], X)
    kw = micro_vmap(lambda x, *, y: x * y, microbatch_size=2)(X, y=2 * X)
    np.testing.assert_allclose(kw, 2 * X * X)


def test_micro_grad_per_example_gradients():
    from fnad.optim.microbatching import AccumulationType, micro_grad

    def loss(w, x, t):
        return 0.5 * fnp.mean((x @ w - t) ** 2)

    t = RNG.normal(size=12)
    per_example = fnad.vmap(fnad.grad(loss), (None, 0, 0))(W, X[:, None], t[:, None])
    grad_fn = micro_grad(loss, batch_argnums=(1, 2), accumulator=AccumulationType.MEAN,
                         transform_fn=lambda g: (g, g ** 2), metrics_fn=fnp.linalg.norm,
                         microbatch_size=4)
    (g, g2), aux = fnad.jit(grad_fn)(W, X, t)
    np.testing.assert_allclose(g, per_example.mean(0), rtol=1e-10)
    np.testing.assert_allclose(g2, (per_example ** 2).mean(0), rtol=1e-10)
    np.testing.assert_allclose(aux.metrics, np.linalg.norm(per_example, axis=1), rtol=1e-10)
    np.testing.assert_allclose(aux.values, 0.5 * (X @ W - t) ** 2, rtol=1e-10)


def test_reshape_batch_axis_groups_as_microbatch_slices():
    from fnad.optim.microbatching import reshape_batch_axis

    out = reshape_batch_axis({"x": X}, 4)["x"]
    assert out.shape == (3, 4, 3)
    np.testing.assert_array_equal(out[:, 0], X[:3])
