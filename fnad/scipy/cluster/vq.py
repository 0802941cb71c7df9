"""`fnad.scipy.cluster.vq`: vector quantization, `vq` as JAX has it (each observation's
nearest code by Euclidean distance). Made of array operations, so the distances
differentiate and it jits and vmaps."""

from __future__ import annotations

from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad.core.errors import ShapeError, user_line
from fnad.core.ir import get_aval
from fnad.scipy._util import promote_inexact, quiet_all


def vq(obs: Any, code_book: Any, check_finite: bool = True) -> tuple[Any, Any]:
    """`(code, dist)`: for each row of `obs` (M, N) the index of the nearest row of
    `code_book` (K, N) (the first on a tie) and the distance to it; 1-d inputs are scalar
    observations and codes. `check_finite` is accepted and unused, as in JAX (a check on
    values cannot run under jit)."""
    del check_finite
    obs, code_book = promote_inexact(fnp.asarray(obs), fnp.asarray(code_book), broadcast=False)
    o, c = get_aval(obs).shape, get_aval(code_book).shape
    if len(o) != len(c):
        raise ShapeError(f"vq: observation and code_book should have the same rank, got shapes "
                         f"{o} and {c}{user_line()}")
    if len(o) == 1:
        obs, code_book = obs[:, None], code_book[:, None]
    elif len(o) != 2:
        raise ShapeError(f"vq: obs and code_book must be 1-d or 2-d, got {len(o)}-d"
                         f"{user_line()}")
    elif o[1] != c[1]:
        raise ShapeError(f"vq: obs and code_book must have the same number of features, got "
                         f"shapes {o} and {c}{user_line()}")
    if get_aval(code_book).shape[0] == 0:
        raise ShapeError(f"vq: code_book is empty{user_line()}")
    dist = fnp.linalg.norm(obs[:, None, :] - code_book[None, :, :], axis=-1)
    code = fnp.argmin(dist, axis=-1).astype(np.int32)
    return code, fnp.take_along_axis(dist, code[:, None], axis=-1)[:, 0]


__all__ = ["vq"]

quiet_all(globals(), __all__)
