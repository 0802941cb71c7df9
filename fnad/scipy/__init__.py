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
    signal,
    sparse,
    spatial,
    special,
    stats,
)

# fnad.scipy.optimize takes gradients (a layer above): fnad's own __init__ imports it
__all__ = ["cluster", "fft", "integrate", "interpolate", "linalg", "ndimage", "optimize", "signal",
           "sparse", "spatial", "special", "stats"]
