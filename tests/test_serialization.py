"""Checkpoints: round trips of every dtype and nesting, checks against `like`, atomicity."""

from __future__ import annotations

import dataclasses
import os
from typing import NamedTuple

import numpy as np
import pytest

import fnad
from fnad import optim
from fnad.serialization import CheckpointError

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
          np.uint64, np.float16, np.float32, np.float64, np.complex64, np.complex128]


class Pair(NamedTuple):
    first: object
    second: object


@dataclasses.dataclass
class Box:
    value: object


fnad.tree.register_dataclass(Box, data_fields=["value"], meta_fields=[])


def assert_same(a, b):
    la, ta = fnad.tree.tree_flatten(a)
    lb, tb = fnad.tree.tree_flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_every_dtype(tmp_path, dtype):
    rng = np.random.default_rng(0)
    tree = {"scalar": np.asarray(rng.integers(0, 2), dtype),
            "matrix": (rng.standard_normal((3, 4)) * 10).astype(dtype),
            "empty": np.zeros((0, 2), dtype)}
    fnad.save(tmp_path / "c.npz", tree)
    assert_same(fnad.load(tmp_path / "c.npz"), tree)
    assert_same(fnad.load(tmp_path / "c.npz", like=tree), tree)


def test_round_trip_nested_structure(tmp_path):
    tree = {"layers": [{"w": np.ones((2, 2)), "b": np.zeros(2)}, (np.arange(3), None)],
            3: Pair(np.float32(1.5), [np.int8(2)]), (1, "x"): (), "none": None,
            "empty": {}, "deep": [[[np.array([True])]]]}
    fnad.save(tmp_path / "c.npz", tree)
    out = fnad.load(tmp_path / "c.npz")
    assert out["layers"][1][1] is None and out["none"] is None and out["empty"] == {}
    assert type(out[3]).__name__ == "Pair" and out[3]._fields == ("first", "second")
    assert_same(fnad.tree.tree_leaves(out), fnad.tree.tree_leaves(tree))
    assert_same(fnad.load(tmp_path / "c.npz", like=tree), tree)
    assert type(fnad.load(tmp_path / "c.npz", like=tree)[3]) is Pair


def test_optimizer_state_and_registered_nodes_with_like(tmp_path):
    params = {"w": np.ones((2, 3), np.float32)}
    opt = optim.adam(0.1)
    state = opt.update(params, opt.init(params), params)[1]
    tree = {"state": state, "box": Box(np.arange(4))}
    fnad.save(tmp_path / "c.npz", tree)
    assert_same(fnad.load(tmp_path / "c.npz", like=tree), tree)
    with pytest.raises(CheckpointError, match="Box.*like="):
        fnad.load(tmp_path / "c.npz")


def test_like_mismatches_are_named(tmp_path):
    tree = {"a": np.zeros((2, 3), np.float32), "b": [np.zeros(2)]}
    fnad.save(tmp_path / "c.npz", tree)
    with pytest.raises(CheckpointError, match=r"\['a'\].*float32\[2, 3\].*float32\[3, 2\]"):
        fnad.load(tmp_path / "c.npz", like={"a": np.zeros((3, 2), np.float32), "b": [np.zeros(2)]})
    with pytest.raises(CheckpointError, match=r"\['b'\]\[0\].*float64.*int32"):
        fnad.load(tmp_path / "c.npz", like={"a": tree["a"], "b": [np.zeros(2, np.int32)]})
    with pytest.raises(CheckpointError, match="structure"):
        fnad.load(tmp_path / "c.npz", like={"a": tree["a"], "c": [np.zeros(2)]})


def test_not_a_checkpoint_and_bad_leaves(tmp_path):
    np.savez(tmp_path / "plain.npz", x=np.ones(2))
    with pytest.raises(CheckpointError, match="not an fnad checkpoint"):
        fnad.load(tmp_path / "plain.npz")
    with pytest.raises(CheckpointError, match=r"\['f'\].*object"):
        fnad.save(tmp_path / "c.npz", {"f": object()})
    with pytest.raises(CheckpointError, match="dict key"):
        fnad.save(tmp_path / "c.npz", {frozenset(): np.ones(1)})
    with pytest.raises(CheckpointError, match="traced"):
        fnad.vmap(lambda x: fnad.save(tmp_path / "c.npz", x))(np.ones((2, 2)))


def test_crash_mid_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    old = {"w": np.arange(1000.0)}
    fnad.save(path, old)
    before = path.read_bytes()

    def crashing_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a zip file")
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(np, "savez", crashing_savez)
    with pytest.raises(KeyboardInterrupt):
        fnad.save(path, {"w": np.zeros(1000)})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.npz"]  # no temporary file left behind
    assert_same(fnad.load(path), old)
