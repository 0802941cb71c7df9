"""fnad.dlpack: jax.dlpack's names."""

from __future__ import annotations

import numpy as np


def test_dlpack_module() -> None:
    """fnad.dlpack (jax.dlpack's names) shares memory through the protocol."""
    import doctest

    from fnad import dlpack
    x = np.arange(6.0, dtype=np.float32)
    y = dlpack.from_dlpack(x)
    np.testing.assert_array_equal(y, x)
    assert dlpack.is_supported_dtype(np.complex64) and not dlpack.is_supported_dtype(object)
    assert not doctest.testmod(dlpack).failed
