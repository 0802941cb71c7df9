"""Smoke tests of the example scripts: each runs for a few steps through its `main(argv)`
and must show the effect it is about (learning, agreement between methods, a plot file).
The full-length demo (>= 97% test accuracy on the digits) is marked slow.
"""

from __future__ import annotations

import importlib
import pathlib
from xml.etree import ElementTree

import numpy as np
import pytest

from fnad.backends import available_backends

pytest.importorskip("sklearn", reason="the examples' default data needs scikit-learn")

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch):
    """Import an example script as a module (its directory on sys.path, as when run)."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return importlib.import_module


def write_idx(path: pathlib.Path, array: np.ndarray) -> None:
    """An IDX file as MNIST ships it: magic (0, 0, dtype code, ndim), big-endian sizes, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">i4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_mnist_mlp_learns(example, capsys, backend):
    if backend not in available_backends():
        pytest.skip("no C compiler")
    args = ["--epochs", "2", "--backend", backend]
    train_acc, test_acc = example("mnist_mlp").main(args)["dropout"]
    assert test_acc > 0.8 and train_acc > 0.8  # chance is 0.1
    out = capsys.readouterr().out
    assert "epoch 2/2" in out and "test_acc=" in out


def test_mnist_mlp_compare_table(example, capsys):
    results = example("mnist_mlp").main(["--epochs", "1", "--compare-logistic"])
    assert set(results) == {"dropout", "l2", "none", "logistic"}
    table = capsys.readouterr().out.split("test error")[1]
    for row in ("MLP, dropout", "MLP, L2 (ridge)", "logistic regression"):
        assert row in table
    assert "1.8%" in table and "7.2%" in table  # the classic numbers, printed alongside


def test_mnist_mlp_reads_mnist_idx_files(example, tmp_path, capsys):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 96), ("t10k", 32)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n))
    example("mnist_mlp").main(["--data", str(tmp_path), "--epochs", "1", "--regularization",
                               "l2"])
    assert "MNIST: 96 train / 32 test images of 784 pixels" in capsys.readouterr().out


@pytest.mark.slow
def test_mnist_mlp_demo_reaches_97_percent(example):
    _, test_acc = example("mnist_mlp").main([])["dropout"]
    assert test_acc >= 0.97


def test_forward_vs_reverse_table_and_plots(example, tmp_path, capsys):
    fvr = example("forward_vs_reverse")
    result = fvr.main(["--sizes", "2", "32", "--repeats", "1", "--out",
                       str(tmp_path / "modes.svg")])
    assert set(result["reports"]) == {(2, 2), (2, 32), (32, 2), (32, 32)}
    flops = {k: {m: s.flops for m, s in r.modes.items()} for k, r in result["reports"].items()}
    assert flops[32, 2]["jacrev"] < flops[32, 2]["jacfwd"]  # many inputs: reverse is cheaper
    assert flops[2, 32]["jacfwd"] < flops[2, 32]["jacrev"]
    svg = (tmp_path / "modes.svg").read_text()
    root = ElementTree.fromstring(svg)  # well-formed XML
    assert root.tag.endswith("svg") and svg.count("<polyline") == 4  # 2 panels x 2 modes
    assert len([ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(" ")]) == 5
    pytest.importorskip("matplotlib")
    fvr.plot_matplotlib(fvr.panels(result["reports"], [2, 32]), str(tmp_path / "modes.png"))
    assert (tmp_path / "modes.png").read_bytes()[:4] == b"\x89PNG"


def test_autodiff_tour_shows_programs_and_fd_tradeoff(example, capsys):
    tour = example("autodiff_tour")
    rows = tour.main(["--max-exponent", "12"])
    out = capsys.readouterr().out
    for title in ("--- f", "--- jvp(f)", "--- grad(f)", "--- jit(grad(f))"):
        assert title in out
    assert "cos" in out.split("--- grad(f)")[1]  # the derivative of sin appears
    forward = [r[1] for r in rows]
    best = int(np.argmin(forward))
    assert 0 < best < len(rows) - 1  # truncation error on the left, rounding on the right
    assert forward[0] > 100 * forward[best] and forward[-1] > 100 * forward[best]
    assert abs(float(tour.fnad.grad(tour.f)(np.float64(0.7))) - tour.df_by_hand(0.7)) < 1e-14


def test_cnn_learns(example):
    _, test_acc = example("cnn").main(["--epochs", "2", "--channels", "8", "8", "--lr", "3e-3"])
    assert test_acc > 0.5


def test_resnet_learns(example):
    _, test_acc = example("resnet").main(["--epochs", "1"])
    assert test_acc > 0.5


def test_char_rnn_loss_falls_and_samples(example, capsys):
    result = example("char_rnn").main(["--steps", "25", "--seq-len", "16", "--hidden", "32",
                                       "--batch-size", "16", "--sample-length", "20",
                                       "--prime", "def "])
    losses = result["losses"]
    assert losses[0] > 5 and min(losses[-5:]) < losses[0] - 1.0  # from ~log2(88 characters)
    assert result["sample"].startswith("def ") and len(result["sample"]) == 4 + 20


def test_per_example_gradients_match_loop(example):
    result = example("per_example_gradients").main(["--steps", "30", "--batch-size", "16"])
    assert result["max_difference"] < 1e-5
    assert result["test_accuracy"] > 0.3


def test_hessian_vector_products_and_newton(example):
    result = example("hessian_vector").main(["--newton-steps", "5", "--examples", "200"])
    assert result["errors"]["full Hessian"] < 1e-10
    assert result["errors"]["finite differences"] < 1e-6
    norms = result["grad_norms"]
    assert all(b < a for a, b in zip(norms, norms[1:])) and norms[-1] < 1e-3 * norms[0]


def test_custom_gradients(example):
    result = example("custom_gradients").main(["--layers", "3"])
    assert np.isnan(result["naive"][-1]) and result["custom"][-1] == 1.0
    np.testing.assert_allclose(result["clipped"], [0.03, 1.0, 1.0], rtol=1e-5)
    np.testing.assert_allclose(result["plain"], [0.03, 3.0, 300.0], rtol=1e-5)
    assert result["residual_bytes"][True] < result["residual_bytes"][False]
    assert result["grad_difference"] < 1e-6


def test_vae_elbo_improves(example, capsys):
    history = example("vae").main(["--epochs", "3"])
    assert len(history) == 4 and all(np.isfinite(history))
    assert history[-1] > history[0] + 15  # measured: -48.2 -> -24.8 nats per image
    out = capsys.readouterr().out
    assert "epoch 3/3" in out and "test_elbo=" in out
