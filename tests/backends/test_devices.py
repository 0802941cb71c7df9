"""Devices: listing, the default backend, and moving pytrees. Without a GPU the CuPy side
is checked against a stand-in CuPy module; with one (tests marked `gpu`), for real."""

from __future__ import annotations

import types
from typing import Any

import numpy as np
import pytest

import fnad
from fnad import device as dev
from fnad.test_util import assert_allclose

TREE = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "n": np.int32(3),
        "lr": 0.5, "none": None, "pair": (np.ones(2, np.float64), [np.zeros((), np.bool_)])}


def test_devices_and_default_backend_agree_with_the_gpu_count() -> None:
    n = dev.gpu_count()
    assert fnad.default_backend() == ("gpu" if n else "cpu")
    assert fnad.devices() == ([f"gpu:{i}" for i in range(n)] if n else ["cpu"])
    assert fnad.devices("cpu") == fnad.local_devices(backend="cpu") == ["cpu"]
    assert fnad.device_count() == fnad.local_device_count() == max(n, 1)
    assert (fnad.process_index(), fnad.process_count()) == (0, 1)
    cpu = fnad.devices("cpu")[0]
    assert (cpu.platform, cpu.id, cpu.device_kind, cpu.process_index) == ("cpu", 0, "cpu", 0)
    with pytest.raises(fnad.FnadError, match="unknown backend 'tpu'"):
        fnad.devices("tpu")


def test_device_put_without_a_device_uses_the_default_backend() -> None:
    if dev.gpu_count():
        assert dev.is_gpu_array(fnad.device_put(TREE)["w"])
    else:
        assert fnad.device_put(TREE)["w"] is TREE["w"]
    assert fnad.device_put(TREE["w"], fnad.devices("cpu")[0]) is TREE["w"]


def test_without_cupy_there_is_only_the_cpu(monkeypatch) -> None:
    monkeypatch.setattr(dev, "_cupy", lambda: (None, "CuPy is not importable (test)"))
    dev.gpu_count.cache_clear()
    try:
        assert fnad.devices() == ["cpu"] and fnad.default_backend() == "cpu"
        with pytest.raises(fnad.FnadError, match="needs a GPU"):
            fnad.devices("gpu")
        with pytest.raises(fnad.FnadError, match=r"needs a GPU, but CuPy is not importable "
                                                 r"\(test\).*fnad\[cuda12\]"):
            fnad.device_put(TREE, "gpu")
    finally:
        monkeypatch.undo()
        dev.gpu_count.cache_clear()


@pytest.mark.skipif(dev.gpu_count() > 0, reason="this machine has a GPU")
def test_asking_for_a_gpu_without_one_says_why() -> None:
    with pytest.raises(fnad.FnadError, match="needs a GPU, but"):
        fnad.device_put(TREE, "gpu")
    with pytest.raises(fnad.FnadError, match="needs a GPU"):
        fnad.device_put(TREE, "gpu:0")


def test_cpu_round_trip_keeps_structure_values_and_dtypes() -> None:
    out = fnad.device_put(TREE, "cpu")
    assert fnad.tree.tree_structure(out) == fnad.tree.tree_structure(TREE)
    assert_allclose(fnad.tree.tree_leaves(out), fnad.tree.tree_leaves(TREE))
    assert out["w"] is TREE["w"] and out["lr"] == 0.5
    assert fnad.device_get(TREE)["pair"][0] is TREE["pair"][0]


@pytest.mark.parametrize("device", ["tpu", "gpu:x", "cuda:0", ""])
def test_unknown_devices_are_named(device: str) -> None:
    with pytest.raises(fnad.FnadError, match="unknown device"):
        fnad.device_put(TREE, device)


def test_array_module_follows_the_inputs() -> None:
    assert dev.array_module([np.ones(2), np.float32(1)]) is np
    assert not dev.is_gpu_array(np.ones(2))


# ---------------------------------------------------------------------------- a stand-in CuPy

class FakeArray:
    """An array "on a GPU": its type lives in a module named cupy..."""

    def __init__(self, value: Any, device: int):
        self.value, self.device = np.asarray(value), types.SimpleNamespace(id=device)

    def get(self) -> np.ndarray:
        return self.value

    def copy(self) -> FakeArray:
        return FakeArray(self.value, FAKE.current)


FakeArray.__module__ = "cupy._fake"


class _Device:
    def __init__(self, index: int):
        self.index = index

    def __enter__(self) -> None:
        self.saved, FAKE.current = FAKE.current, self.index

    def __exit__(self, *exc: Any) -> None:
        FAKE.current = self.saved


FAKE = types.SimpleNamespace(
    current=0, asarray=lambda x: FakeArray(x, FAKE.current),
    cuda=types.SimpleNamespace(Device=_Device,
                               runtime=types.SimpleNamespace(getDeviceCount=lambda: 2)))


@pytest.fixture
def fake_cupy(monkeypatch):
    monkeypatch.setattr(dev, "_cupy", lambda: (FAKE, ""))
    dev.gpu_count.cache_clear()
    yield FAKE
    monkeypatch.undo()
    dev.gpu_count.cache_clear()


def test_with_two_gpus_they_are_listed_and_preferred(fake_cupy) -> None:
    assert fnad.devices() == fnad.devices("gpu") == fnad.devices("cuda") == ["gpu:0", "gpu:1"]
    assert fnad.devices("cpu") == ["cpu"] and fnad.device_count() == 2
    assert [(d.platform, d.id) for d in fnad.devices()] == [("gpu", 0), ("gpu", 1)]
    assert fnad.default_backend() == "gpu"
    assert isinstance(fnad.device_put(np.ones(2)), FakeArray)  # the default device


def test_device_put_moves_arrays_and_numpy_scalars_only(fake_cupy) -> None:
    out = fnad.device_put(TREE, "gpu:1")
    leaves = fnad.tree.tree_leaves(out)
    assert fnad.tree.tree_structure(out) == fnad.tree.tree_structure(TREE)
    arrays = [x for x in leaves if isinstance(x, FakeArray)]
    assert len(arrays) == 4 and all(x.device.id == 1 for x in arrays)
    assert out["lr"] == 0.5 and out["none"] is None
    back = fnad.device_get(out)
    assert_allclose(fnad.tree.tree_leaves(back), [np.asarray(x) for x in
                                                  fnad.tree.tree_leaves(TREE)])
    assert fake_cupy.current == 0  # the device context was left


def test_device_put_copies_across_gpus_but_not_onto_the_same_one(fake_cupy) -> None:
    on0 = FakeArray(np.ones(3), 0)
    assert fnad.device_put(on0, "gpu:0") is on0 and fnad.device_put(on0, "gpu") is on0
    on1 = fnad.device_put(on0, "gpu:1")
    assert on1 is not on0 and on1.device.id == 1
    with pytest.raises(fnad.FnadError, match="'gpu:2' does not exist"):
        fnad.device_put(on0, "gpu:2")


# ---------------------------------------------------------------------------- on a GPU

@pytest.mark.gpu
@pytest.mark.skipif(dev.gpu_count() == 0, reason="no CUDA device (or no CuPy)")
def test_gpu_round_trip() -> None:
    import cupy
    on_gpu = fnad.device_put(TREE)
    assert isinstance(on_gpu["w"], cupy.ndarray) and on_gpu["w"].dtype == np.float32
    assert isinstance(on_gpu["n"], cupy.ndarray) and on_gpu["n"].dtype == np.int32
    assert on_gpu["lr"] == 0.5 and on_gpu["none"] is None
    back = fnad.device_get(on_gpu)
    assert all(isinstance(x, np.ndarray) for x in fnad.tree.tree_leaves(back)
               if not isinstance(x, float))
    assert_allclose(fnad.tree.tree_leaves(back)[1:], [np.asarray(x) for x in
                                                       fnad.tree.tree_leaves(TREE)][1:])
    assert fnad.device_put(on_gpu["w"], "gpu:0") is on_gpu["w"]
    assert "gpu:0" in fnad.devices() and fnad.default_backend() == "gpu"
    assert fnad.devices()[0].device_kind
    assert dev.array_module([np.ones(1), on_gpu["w"]]) is cupy
