"""Datasets from disk or from optional packages: the IDX format of MNIST (gzipped or raw)
and scikit-learn's bundled 8x8 digits, the offline default for examples and tests.
"""

from __future__ import annotations

import gzip
import os
from typing import Any

import numpy as np

from fnad.core.errors import FnadError

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}

Split = tuple[np.ndarray, np.ndarray]


class DatasetError(FnadError, ValueError):
    """A dataset file is missing, malformed, or needs a package that is not installed."""


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array in an IDX file (the MNIST format: magic 0 0 dtype ndim, big-endian int32
    sizes, then the data); gzip-compressed files are recognized by their header."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DatasetError(f"{path} is not an IDX file (bad magic number {raw[:4]!r})")
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, ">i4", ndim, 4))
    size = int(np.prod(shape, dtype=np.int64))
    if len(raw) != 4 + 4 * ndim + size * dtype.itemsize:
        raise DatasetError(f"{path}: an IDX header for shape {shape} of {dtype} needs "
                           f"{size * dtype.itemsize} data bytes, the file has "
                           f"{len(raw) - 4 - 4 * ndim}")
    return np.frombuffer(raw, dtype, size, 4 + 4 * ndim).reshape(shape).astype(
        dtype.newbyteorder("="))


def _find(directory: str, stem: str) -> str:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"),
                 stem.replace("-idx", ".idx") + ".gz"):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    raise DatasetError(f"no {stem}[.gz] in {directory}: download the four MNIST IDX files "
                       "there")


def load_mnist(directory: str | os.PathLike) -> tuple[Split, Split]:
    """((x_train, y_train), (x_test, y_test)) from the four MNIST IDX files in `directory`:
    images float32 in [0, 1] shaped (N, 1, 28, 28), labels int32."""
    directory = os.fspath(directory)
    out = []
    for prefix in ("train", "t10k"):
        x = read_idx(_find(directory, f"{prefix}-images-idx3-ubyte"))
        y = read_idx(_find(directory, f"{prefix}-labels-idx1-ubyte"))
        out.append(((x.astype(np.float32) / 255)[:, None], y.astype(np.int32)))
    return out[0], out[1]


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> tuple[Split, Split]:
    """((x_train, y_train), (x_test, y_test)) from scikit-learn's 1797 8x8 digits (shipped
    with scikit-learn, no download): images float32 in [0, 1] shaped (N, 1, 8, 8), labels
    int32, split at random (by `seed`) with `test_fraction` held out."""
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:
        raise DatasetError("load_digits needs scikit-learn (an optional dependency): "
                           "pip install scikit-learn, or use load_mnist with IDX files"
                           ) from None
    digits: Any = sk_load_digits()
    x = (digits.images.astype(np.float32) / 16)[:, None]
    y = digits.target.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(len(y) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return (x[train], y[train]), (x[test], y[test])


__all__ = ["DatasetError", "load_digits", "load_mnist", "read_idx"]
