"""JAX's `jax.experimental` modules that programs use: `ode` (`odeint`)."""

from fnad.experimental import ode

__all__ = ["ode"]
