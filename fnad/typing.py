"""Types for annotations, as `jax.typing` names them, and `Array`, the type of fnad's arrays.

fnad has no array class of its own (eager values are NumPy or CuPy arrays; traced values are
tracers), so `Array` is a virtual type: `isinstance(x, fnad.Array)` holds for each of them,
and code annotated with `jax.Array` runs with the import renamed.

>>> import numpy as np
>>> isinstance(np.ones(2), Array), isinstance([1.0], Array)
(True, False)
"""

from __future__ import annotations

from typing import Any, Union

import numpy as np

from fnad.core.trace import Array

# What fnad's functions accept as an array: arrays, NumPy scalars and Python numbers.
ArrayLike = Union[Array, np.ndarray, np.bool_, np.number, bool, int, float, complex]
# What a dtype argument accepts.
DTypeLike = Union[str, type, np.dtype, Any]

__all__ = ["Array", "ArrayLike", "DTypeLike"]
