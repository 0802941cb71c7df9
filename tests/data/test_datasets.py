"""IDX reading (raw and gzipped, every element type), the MNIST loader, and load_digits."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from fnad import data


def write_idx(path, array, code, compress=False):
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


@pytest.mark.parametrize("dtype,code", [(np.uint8, 8), (np.int8, 9), (np.int16, 0x0B),
                                        (np.int32, 0x0C), (np.float32, 0x0D),
                                        (np.float64, 0x0E)])
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path, dtype, code, compress):
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    write_idx(tmp_path / "a.idx", a, code, compress)
    out = data.read_idx(tmp_path / "a.idx")
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, a)


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(data.DatasetError, match="not an IDX"):
        data.read_idx(tmp_path / "bad")
    write_idx(tmp_path / "short", np.zeros((3, 3), np.uint8), 8)
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-2])
    with pytest.raises(data.DatasetError, match="data bytes"):
        data.read_idx(tmp_path / "short")


def test_load_mnist(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 5), ("t10k", 3)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz",
                  rng.integers(0, 256, (n, 28, 28)).astype(np.uint8), 8, compress=True)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", np.arange(n, dtype=np.uint8), 8)
    (x, y), (xt, yt) = data.load_mnist(tmp_path)
    assert x.shape == (5, 1, 28, 28) and x.dtype == np.float32 and 0 <= x.min() <= x.max() <= 1
    assert y.dtype == np.int32 and xt.shape == (3, 1, 28, 28) and yt.tolist() == [0, 1, 2]
    with pytest.raises(data.DatasetError, match="no train-images"):
        data.load_mnist(tmp_path / "missing")


def test_load_digits():
    try:
        import sklearn  # noqa: F401
    except ImportError:
        with pytest.raises(data.DatasetError, match="scikit-learn"):
            data.load_digits()
        return
    (x, y), (xt, yt) = data.load_digits(test_fraction=0.25)
    assert x.shape[1:] == (1, 8, 8) and len(x) + len(xt) == 1797
    assert abs(len(xt) - 0.25 * 1797) < 1 and x.max() <= 1 and set(y.tolist()) == set(range(10))
