"""JAX's `jax.example_libraries` that programs import: `optimizers` (the
`(init, update, get_params)` triples of older JAX code) and `stax` (its layers)."""

from fnad.example_libraries import optimizers, stax

__all__ = ["optimizers", "stax"]
