"""JAX's `jax.dtypes`: the dtype helpers JAX programs import from there (`float0` for the
gradients of integer inputs under `allow_int`, `canonicalize_dtype` under fnad's x64 switch).
"""

from fnad.core.dtypes import canonical as canonicalize_dtype, float0
from fnad.numpy import finfo, iinfo, issubdtype, result_type

__all__ = ["canonicalize_dtype", "finfo", "float0", "iinfo", "issubdtype", "result_type"]
