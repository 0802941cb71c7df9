"""`fnad.scipy.spatial`: SciPy's spatial module as far as JAX has it (`transform`)."""

from fnad.scipy.spatial import transform

__all__ = ["transform"]
