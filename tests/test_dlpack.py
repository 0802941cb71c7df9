"""fnad.dlpack: jax.dlpack's names."""

from __future__ import annotations

import numpy as np
import pytest


def test_dlpack_module() -> None:
    """fnad.dlpack (jax.dlpack's names) shares memory through the protocol."""
    import doctest

    from fnad import dlpack
    x = np.arange(6.0, dtype=np.float32)
    y = dlpack.from_dlpack(x)
    np.testing.assert_array_equal(y, x)
    assert dlpack.is_supported_dtype(np.complex64) and not dlpack.is_supported_dtype(object)
    assert not doctest.testmod(dlpack).failed


def test_device_memory_without_cupy_is_an_fnad_error(monkeypatch) -> None:
    """A DLPack producer on a GPU needs CuPy: without it, an FnadError saying so."""
    import fnad
    from fnad import device

    class OnGpu:
        def __dlpack_device__(self):
            return (2, 0)  # kDLCUDA

        def __dlpack__(self, **kwargs):
            raise AssertionError("not reached")

    monkeypatch.setattr(device, "_cupy", lambda: (None, "CuPy is not installed"))
    with pytest.raises(fnad.FnadError, match="needs a GPU"):
        fnad.numpy.from_dlpack(OnGpu())
