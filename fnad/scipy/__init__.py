"""fnad.scipy: SciPy-shaped APIs written on `fnad.lax` and `fnad.numpy` (no primitives)."""

from fnad.scipy import linalg

__all__ = ["linalg"]
