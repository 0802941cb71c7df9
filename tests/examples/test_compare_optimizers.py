"""Smoke test of examples/compare_optimizers.py on a tiny synthetic MNIST (12x12 IDX files whose
label is written into the image, so every optimizer learns within a few steps): losses fall
and one PNG with a curve per optimizer lands in the current directory."""

from __future__ import annotations

import importlib
import pathlib
import struct
import zlib

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def write_idx(path: pathlib.Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">i4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def synthetic_mnist(directory: pathlib.Path) -> None:
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 256), ("t10k", 32)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 60, (n, 12, 12))  # small images keep the run short
        for i, k in enumerate(labels):
            images[i, k + 1, 2:10] = 255  # a bright row per class
        write_idx(directory / f"{prefix}-images-idx3-ubyte", images)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte", labels)


def read_png(path: pathlib.Path) -> np.ndarray:
    """The RGB pixels of an 8-bit truecolor PNG written with filter 0 (the example's own)."""
    blob = path.read_bytes()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", blob[16:24])
    idat, pos = b"", 8
    while pos < len(blob):
        (size,), kind = struct.unpack(">I", blob[pos:pos + 4]), blob[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += blob[pos + 8:pos + 8 + size]
        pos += 12 + size
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + 3 * width)
    assert np.all(rows[:, 0] == 0)
    return rows[:, 1:].reshape(height, width, 3)


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return importlib.import_module("compare_optimizers")


def test_compare_optimizers_plots_falling_losses(example, tmp_path, monkeypatch, capsys):
    synthetic_mnist(tmp_path)
    monkeypatch.chdir(tmp_path)
    names = ["sgd", "adam"]
    result = example.main(["--data", str(tmp_path), "--epochs", "2", "--optimizers", *names,
                           "--no-matplotlib"])
    for name in names:
        loss = result["losses"][name]
        assert len(loss) == 2 * (256 // 32)
        assert np.mean(loss[-3:]) < np.mean(loss[:3])
    pixels = read_png(tmp_path / "optimizers.png")  # the default: the current directory
    assert pixels.shape == (500, 800, 3)
    for color in example.COLORS[:len(names)]:  # a curve and a legend entry per optimizer
        assert np.sum(np.all(pixels == color, axis=-1)) > 100
    assert np.sum(np.all(pixels[:40] == 0, axis=-1)) > 200  # the title's black text
    assert "plot written to optimizers.png" in capsys.readouterr().out


def test_font_covers_the_labels(example):
    for text in (example.TITLE, example.X_LABEL, example.Y_LABEL, *example.LEARNING_RATES,
                 "0.25", "1e-03"):
        mask = example.text_mask(text, scale=1)
        assert mask.shape == (7, 6 * len(text))
        blank = [i for i, ch in enumerate(text) if ch == " "]
        for i in range(len(text)):
            assert mask[:, 6 * i:6 * i + 5].any() == (i not in blank), text[i]
