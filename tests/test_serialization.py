"""Checkpoints: round trips of every dtype and nesting, checks against `like`, atomicity."""

from __future__ import annotations

import dataclasses
import os
from typing import NamedTuple

import numpy as np
import pytest

import fnad
from fnad import optim

CheckpointError = fnad.CheckpointError  # the public name

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


# ------------------------------------------------------------ files that are not checkpoints

def _valid(tmp_path) -> bytes:
    fnad.save(tmp_path / "good.npz", {"w": np.arange(300.0), "b": [np.ones(3, np.int32)]})
    return (tmp_path / "good.npz").read_bytes()


def _with_header(tmp_path, header) -> bytes:
    import json
    np.savez(tmp_path / "h.npz", **{"0": np.ones(2), "__fnad_structure__": np.frombuffer(
        json.dumps(header).encode(), np.uint8)})
    return (tmp_path / "h.npz").read_bytes()


def _npy(tmp_path, array) -> bytes:
    np.save(tmp_path / "a.npy", array)
    return (tmp_path / "a.npy").read_bytes()


BAD_FILES = {
    "empty": (lambda t: b"", "empty"),
    "truncated to half": (lambda t: _valid(t)[:len(_valid(t)) // 2], "truncated"),
    "truncated by 20 bytes": (lambda t: _valid(t)[:-20], "truncated"),
    "truncated to 100 bytes": (lambda t: _valid(t)[:100], "truncated"),
    "corrupted in the middle": (lambda t: (lambda b: b[:400] + bytes(64) + b[464:])(_valid(t)),
                                "truncated or not a file"),
    "random bytes": (lambda t: np.random.default_rng(0).bytes(700), "not a .npz"),
    "text": (lambda t: b"step,loss\n1,0.5\n", "not a .npz"),
    "a .npy array": (lambda t: _npy(t, np.ones(3)), r"single array \(a \.npy file\)"),
    "an object .npy": (lambda t: _npy(t, np.array([{}], dtype=object)), r"\.npy"),
    "a pickle": (lambda t: __import__("pickle").dumps({"w": 1}), "not a .npz"),
    "a plain .npz": (lambda t: (np.savez(t / "p.npz", x=np.ones(2)),
                                (t / "p.npz").read_bytes())[1], "no structure record"),
    "format 2": (lambda t: _with_header(t, {"format": 2, "structure": {"leaf": 0},
                                            "paths": ["<root>"], "treedef": "*"}),
                 "format 2, but this fnad reads format 1"),
    "format 999": (lambda t: _with_header(t, {"format": 999}), "format 999"),
    "no format": (lambda t: _with_header(t, {"structure": {"leaf": 0}}), "format None"),
    "a header that is not JSON": (lambda t: (np.savez(t / "j.npz", __fnad_structure__=np.frombuffer(
        b"{not json", np.uint8)), (t / "j.npz").read_bytes())[1], "JSONDecodeError"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_loading_a_file_that_is_not_a_checkpoint_names_the_file_and_cause(tmp_path, name):
    """They raised BadZipFile, EOFError, TypeError, KeyError, or advice to pass allow_pickle
    (an argument load does not have); format 2 loaded silently."""
    make, cause = BAD_FILES[name]
    path = tmp_path / "ckpt.npz"
    path.write_bytes(make(tmp_path))
    with pytest.raises(CheckpointError, match=cause) as info:
        fnad.load(path)
    assert str(path) in str(info.value) and "allow_pickle" not in str(info.value)


def test_disk_full_names_the_checkpoint_and_leaves_nothing(tmp_path, monkeypatch):
    import errno

    def full_disk(f, **arrays):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", full_disk)
    with pytest.raises(OSError, match=r"fnad.save could not write the checkpoint .*c\.npz.*"
                                      "No space left") as info:
        fnad.save(tmp_path / "c.npz", {"w": np.ones(3)})
    assert info.value.errno == errno.ENOSPC
    assert os.listdir(tmp_path) == []


def test_the_next_save_removes_what_a_killed_save_left(tmp_path):
    """26 of 30 killed saves left their temporary file behind forever."""
    import signal
    import subprocess
    import sys
    import time
    path = tmp_path / "c.npz"
    fnad.save(path, {"w": np.zeros(4)})
    script = ("import sys, time, numpy as np, fnad\n"
              "def slow(f, **arrays):\n"
              "    f.write(b'PK partial'); f.flush(); print('writing', flush=True); "
              "time.sleep(60)\n"
              "np.savez = slow\n"
              f"fnad.save({str(path)!r}, {{'w': np.ones(4)}})\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(fnad.__file__))))
    assert proc.stdout.readline().strip() == b"writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert len(left) == 1
    # a temporary file of a save still running (here: this test's own parent) stays
    live = left[0].replace(f".{proc.pid}.", f".{os.getppid()}.")
    (tmp_path / live).write_bytes(b"PK in progress")
    time.sleep(0.01)
    fnad.save(path, {"w": np.full(4, 2.0)})
    assert sorted(os.listdir(tmp_path)) == sorted(["c.npz", live])
    np.testing.assert_array_equal(fnad.load(path)["w"], np.full(4, 2.0))
