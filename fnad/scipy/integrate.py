"""fnad.scipy.integrate: JAX's `jax.scipy.integrate` (`trapezoid`)."""

from fnad.numpy import trapezoid

__all__ = ["trapezoid"]
