"""Minibatches of in-memory datasets: one pass (an epoch) over a pytree of arrays sharing
their leading axis, in an order drawn from an explicit key (the same key, the same order).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from fnad import random
from fnad.core.errors import ArgumentError
from fnad.tree import tree_leaves, tree_map


def num_examples(arrays: Any) -> int:
    """The common leading-axis length of the leaves of `arrays`."""
    sizes = {int(np.shape(x)[0]) for x in tree_leaves(arrays)}
    if len(sizes) != 1:
        raise ArgumentError(f"every array of a dataset needs the same number of examples (the "
                         f"leading axis), got {sorted(sizes)}")
    return sizes.pop()


def batches(key: Any, arrays: Any, batch_size: int, drop_last: bool = False) -> Iterator[Any]:
    """Yield minibatches (pytrees like `arrays`) covering the data once, shuffled by `key`
    (`None` keeps the order); `drop_last` skips a final short batch. For epochs, fold the
    epoch number into the key: `batches(fnad.random.fold_in(key, epoch), ...)`.

    >>> [b["x"].tolist() for b in batches(None, {"x": np.arange(5)}, 2)]
    [[0, 1], [2, 3], [4]]
    """
    if batch_size <= 0:
        raise ArgumentError(f"batch_size must be positive, got {batch_size}")
    n = num_examples(arrays)
    order = np.arange(n) if key is None else np.asarray(random.permutation(key, n))
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start:start + batch_size]
        yield tree_map(lambda x, idx=idx: np.asarray(x)[idx], arrays)


__all__ = ["batches", "num_examples"]
