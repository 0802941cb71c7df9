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
