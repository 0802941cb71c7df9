"""`optax.assignment`: the linear assignment problem (match rows to columns at least cost),
solved by the shortest-augmenting-path Hungarian algorithm of Crouse (2016), the one
SciPy's `linear_sum_assignment` runs.

The algorithm is sequential and data-dependent, so it runs in NumPy on concrete values;
under `jit` or `vmap` it is a `pure_callback` (the indices have no derivative).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad.api_extra import ShapeDtypeStruct, pure_callback
from fnad.optim.errors import OptimizerArgumentError


def _assign_rows(cost: np.ndarray) -> np.ndarray:
    """For a cost matrix with no more rows than columns, the column of each row in a
    least-cost assignment (Crouse, 2016, Algorithm 1: one shortest augmenting path per
    row, with dual variables `u`, `v` keeping the reduced costs nonnegative)."""
    n, m = cost.shape
    u, v = np.zeros(n), np.zeros(m)
    col4row, row4col = np.full(n, -1), np.full(m, -1)
    for cur_row in range(n):
        shortest, path = np.full(m, np.inf), np.full(m, -1)
        seen_rows, seen_cols = np.zeros(n, bool), np.zeros(m, bool)
        i, min_val, sink = cur_row, 0.0, -1
        while sink < 0:
            seen_rows[i] = True
            reduced = min_val + cost[i] - u[i] - v
            better = ~seen_cols & (reduced < shortest)
            path[better], shortest[better] = i, reduced[better]
            candidates = np.where(seen_cols, np.inf, shortest)
            min_val = candidates.min()
            if not np.isfinite(min_val):
                raise OptimizerArgumentError(
                    "hungarian_algorithm: no finite-cost assignment exists (a row or column "
                    "costs inf or NaN everywhere it could go); give finite costs")
            ties = np.flatnonzero(candidates == min_val)
            free = ties[row4col[ties] < 0]  # prefer a column no row has yet: the path ends
            j = free[0] if free.size else ties[0]
            seen_cols[j] = True
            if row4col[j] < 0:
                sink = j
            else:
                i = row4col[j]
        u[cur_row] += min_val
        rows = np.flatnonzero(seen_rows)
        rows = rows[rows != cur_row]
        u[rows] += min_val - shortest[col4row[rows]]
        v[seen_cols] -= min_val - shortest[seen_cols]
        j = sink
        while True:  # flip the assignments along the augmenting path
            i = path[j]
            row4col[j] = i
            col4row[i], j = j, col4row[i]
            if i == cur_row:
                break
    return col4row


def _assign(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cost = np.asarray(cost, np.float64)
    if cost.shape[0] <= cost.shape[1]:
        return np.arange(cost.shape[0]), _assign_rows(cost)
    row_of_col = _assign_rows(cost.T)
    order = np.argsort(row_of_col)
    return row_of_col[order], order


def hungarian_algorithm(cost_matrix: Any) -> tuple[Any, Any]:
    """Row indices `i` (increasing) and column indices `j` of a least-cost assignment of
    min(n, m) rows to distinct columns of the n x m `cost_matrix`: `cost_matrix[i, j].sum()`
    is the least cost.

    >>> i, j = hungarian_algorithm(np.array([[8, 4, 7], [5, 2, 3], [9, 6, 7], [9, 4, 8]]))
    >>> i, j
    (array([0, 1, 3]), array([0, 2, 1]))
    """
    cost = fnp.asarray(cost_matrix)
    if fnp.ndim(cost) != 2:
        raise OptimizerArgumentError(f"hungarian_algorithm: the cost matrix must be 2-d, got "
                                     f"shape {fnp.shape(cost)}")
    k = min(fnp.shape(cost))
    out = (ShapeDtypeStruct((k,), np.int64), ShapeDtypeStruct((k,), np.int64))
    return pure_callback(lambda c: tuple(a.astype(np.int64) for a in _assign(c)), out, cost,
                         vmap_method="sequential")


base_hungarian_algorithm = hungarian_algorithm

__all__ = ["base_hungarian_algorithm", "hungarian_algorithm"]
