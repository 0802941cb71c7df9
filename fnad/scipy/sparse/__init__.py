"""`fnad.scipy.sparse`: SciPy's sparse module as far as JAX has it (`linalg`'s iterative
solvers on linear operators given as functions)."""

from fnad.scipy.sparse import linalg

__all__ = ["linalg"]
