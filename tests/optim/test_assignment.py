"""optim.assignment.hungarian_algorithm (optax.assignment) against brute force over every
assignment, for square and rectangular costs, eagerly, under jit and under vmap."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import fnad
from fnad.optim import OptimizerArgumentError, assignment


def least_cost(cost):
    n, m = cost.shape
    if n <= m:
        return min(cost[np.arange(n), list(p)].sum() for p in itertools.permutations(range(m), n))
    return least_cost(cost.T)


@pytest.mark.parametrize("shape", [(1, 1), (4, 4), (3, 6), (6, 3), (5, 5), (2, 7)])
def test_least_cost_against_brute_force(shape):
    rng = np.random.default_rng(sum(shape))
    for cost in (rng.normal(size=shape), rng.integers(0, 3, size=shape).astype(float)):
        i, j = assignment.hungarian_algorithm(cost)
        k = min(shape)
        assert i.shape == j.shape == (k,) and i.dtype == np.int64
        assert len(set(i.tolist())) == len(set(j.tolist())) == k  # distinct rows and columns
        assert np.all(np.diff(i) > 0)  # rows increasing, as optax returns them
        np.testing.assert_allclose(cost[i, j].sum(), least_cost(cost), rtol=1e-12)


def test_optax_docstring_example_and_transforms():
    cost = np.array([[90, 80, 75, 70], [35, 85, 55, 65], [125, 95, 90, 95],
                     [45, 110, 95, 115], [50, 100, 90, 100]])
    i, j = assignment.hungarian_algorithm(cost)
    np.testing.assert_array_equal(i, [0, 1, 2, 3])
    np.testing.assert_array_equal(j, [3, 2, 1, 0])
    assert cost[i, j].sum() == 265
    i2, j2 = fnad.jit(assignment.hungarian_algorithm)(cost)
    np.testing.assert_array_equal(i2, i)
    np.testing.assert_array_equal(j2, j)
    batch = np.random.default_rng(0).normal(size=(3, 4, 5))
    rows, cols = fnad.vmap(assignment.hungarian_algorithm)(batch)
    for b in range(3):
        np.testing.assert_allclose(batch[b][rows[b], cols[b]].sum(), least_cost(batch[b]))


def test_bad_costs_are_refused():
    with pytest.raises(OptimizerArgumentError, match="2-d"):
        assignment.hungarian_algorithm(np.zeros(3))
    with pytest.raises(OptimizerArgumentError, match="finite"):
        assignment.hungarian_algorithm(np.array([[np.inf, np.inf], [1.0, 2.0]]))
