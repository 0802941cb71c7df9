"""NumPy's global-state sampler (`numpy.random`), re-exported so that autograd-style code
(`import autograd.numpy.random as npr`) runs after renaming the import.

Draws are plain NumPy arrays made outside any transform: use them for data and initial
values. Inside `jit`/`vmap`, or for reproducible splittable streams, use `fnad.random`.
"""

from numpy.random import *  # noqa: F403
from numpy.random import __all__  # noqa: F401
