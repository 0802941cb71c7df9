"""fnad.scipy: SciPy-shaped functions on `fnad.lax` and `fnad.numpy` (special functions and
probability distributions), differentiable and usable under every transform."""

from fnad.scipy import special, stats

__all__ = ["special", "stats"]
