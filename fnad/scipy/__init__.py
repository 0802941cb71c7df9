"""fnad.scipy: SciPy-shaped functions on `fnad.lax` and `fnad.numpy` (special functions,
probability distributions, linear algebra, signal processing), differentiable and usable
under every transform."""

from fnad.scipy import (
    cluster,
    fft,
    integrate,
    interpolate,
    linalg,
    ndimage,
    optimize,
    signal,
    sparse,
    spatial,
    special,
    stats,
)

__all__ = ["cluster", "fft", "integrate", "interpolate", "linalg", "ndimage", "optimize", "signal",
           "sparse", "spatial", "special", "stats"]
