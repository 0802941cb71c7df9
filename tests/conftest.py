"""Test-wide settings: fuse every elementwise region whatever its size, so the tests' small
arrays exercise the generated kernels as much as large ones would."""

from __future__ import annotations

import pytest

from fnad.jit import fusion


@pytest.fixture(autouse=True)
def _fuse_small_regions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fusion, "LAUNCH_US", 0)
