"""`jax.tree_util`'s name for `fnad.tree`: the same functions (long and short names)."""

from fnad.tree import *  # noqa: F403 -- this module is fnad.tree under JAX's other name
from fnad.tree import __all__  # noqa: F401
