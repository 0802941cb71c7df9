"""JAX's `jax.example_libraries` that programs import: `optimizers` (the
`(init, update, get_params)` triples of older JAX code)."""

from fnad.example_libraries import optimizers

__all__ = ["optimizers"]
