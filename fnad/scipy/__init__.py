"""fnad.scipy: SciPy-shaped functions on `fnad.lax` and `fnad.numpy` (special functions,
probability distributions, linear algebra), differentiable and usable under every
transform."""

from fnad.scipy import linalg, special, stats

__all__ = ["linalg", "special", "stats"]
