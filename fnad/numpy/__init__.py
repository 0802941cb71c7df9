"""fnad.numpy: a NumPy-shaped API written on `fnad.lax`; import it as `fnp`.

It works on NumPy arrays and on tracers alike, follows NumPy 2's broadcasting, axis
conventions and dtype promotion (weak Python scalars, NEP 50), and adds no primitives.
"""

from __future__ import annotations

import numpy as np

from fnad.core.trace import Array as _Array
from fnad.numpy import fft, linalg, random
from fnad.numpy._calculus import *  # noqa: F403
from fnad.numpy._core import (
    broadcast_shapes,
    broadcast_to,
    promote_dtypes,
    result_type,
)
from fnad.numpy._creation import *  # noqa: F403
from fnad.numpy._dtypes import *  # noqa: F403
from fnad.numpy._index_tricks import c_, index_exp, mgrid, ogrid, r_, s_
from fnad.numpy._indexing import (
    at,
    public_array as array,
    public_asarray as asarray,
    take,
    take_along_axis,
)
from fnad.numpy._manip import *  # noqa: F403
from fnad.numpy._math import *  # noqa: F403
from fnad.numpy._poly import *  # noqa: F403
from fnad.numpy._products import *  # noqa: F403
from fnad.numpy._reductions import *  # noqa: F403
from fnad.numpy._sets import *  # noqa: F403
from fnad.numpy._shape import *  # noqa: F403
from fnad.numpy._sorting import *  # noqa: F403
from fnad.numpy._stats import *  # noqa: F403
from fnad.numpy._ufuncs import *  # noqa: F403
from fnad.numpy._windows import *  # noqa: F403

# dtypes and constants, as NumPy spells them
dtype, finfo, iinfo, issubdtype = np.dtype, np.finfo, np.iinfo, np.issubdtype
floating, integer, inexact, number, signedinteger, unsignedinteger = (
    np.floating, np.integer, np.inexact, np.number, np.signedinteger, np.unsignedinteger)
pi, e, inf, nan, euler_gamma, newaxis = np.pi, np.e, np.inf, np.nan, np.euler_gamma, None
# eager values are NumPy arrays, so NumPy's print options are the ones (as JAX re-exports them)
get_printoptions, printoptions, set_printoptions = (np.get_printoptions, np.printoptions,
                                                    np.set_printoptions)
# JAX's jnp.ndarray is jax.Array: NumPy arrays, CuPy arrays and tracers are instances
ndarray = _Array

# installing Tracer operators and the ufuncs' methods
from fnad.numpy import _tracer_methods, _ufunc_methods  # noqa: E402,F401
