"""Names of JAX's and optax's public API that fnad will not offer, each with its reason.

Keyed by fnad module, then name. The API coverage test (tests/test_api_coverage.py) fails
on any name of ../shared/api/jax-names.json (vendored as tests/data/jax_names.json) that
fnad lacks and that is not listed here; docs/from_jax.md shows this table.
A reason says why the name has no meaning or no use in fnad, never "not done yet".
"""

from __future__ import annotations

NOT_PLANNED: dict[str, dict[str, str]] = {
    "fnad.numpy": {},
    "fnad.numpy.linalg": {},
    "fnad.numpy.fft": {},
    "fnad.lax": {
        "GatherDimensionNumbers": "fnad.lax.gather addresses points by an index array and "
                                  "the axes it indexes (NumPy style), not by XLA's "
                                  "dimension numbers; fnad.numpy indexing covers every case",
        "ScatterDimensionNumbers": "fnad.lax.scatter* address points by an index array and "
                                   "the axes it indexes (NumPy style), not by XLA's "
                                   "dimension numbers; fnad.numpy.at covers every case",
        "RaggedDotDimensionNumbers": "it configures jax.lax.ragged_dot, an XLA grouped-matmul "
                                     "op outside JAX's stable lax API that fnad does not "
                                     "have; use dot_general per group or segment masks",
    },
    "fnad.nn": {},
    "fnad.nn.initializers": {},
    "fnad.random": {},
    "fnad.tree": {},
    "fnad.scipy.special": {},
    "fnad.scipy.stats": {},
    "fnad.scipy.linalg": {},
    "fnad": {},
    "fnad.optim": {},
}
