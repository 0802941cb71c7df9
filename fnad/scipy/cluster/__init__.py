"""`fnad.scipy.cluster`: SciPy's clustering helpers that JAX has (`vq`)."""

from fnad.scipy.cluster import vq

__all__ = ["vq"]
