"""Tests of the example scripts as a newcomer meets them: every `--help` shows the whole
docstring, each option's default and how long a default run takes; each example runs in its
fast settings through `main(argv)` (marked slow) and must show what it claims: learning and
the closing accuracy lines, agreement between methods, a plot file, a summary. The
full-length demo (>= 97% test accuracy on the digits) is marked slow too.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import pathlib
import re
import subprocess
import sys
from xml.etree import ElementTree

import numpy as np
import pytest

from fnad import optim
from fnad.backends import available_backends

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(p.stem for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))
needs_sklearn = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None,
                                   reason="the examples' default data needs scikit-learn")
# the closing lines of every training example
RESULT = re.compile(r"\n(?P<model>[^\n]+): final test accuracy (?P<pct>\d+\.\d\d)% "
                    r"\((?P<right>\d+) of (?P<total>\d+) test images\)\n"
                    r"training time \d+\.\d s \([^\n]+\)\n$")


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch):
    """Import an example script as a module (its directory on sys.path, as when run)."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return importlib.import_module


def closing(out: str, accuracy: float) -> re.Match:
    """The closing lines of `out`, checked against the returned test accuracy."""
    match = RESULT.search(out)
    assert match, out[-400:]
    assert float(match["pct"]) == pytest.approx(100 * accuracy, abs=0.005)
    assert int(match["right"]) == round(accuracy * int(match["total"]))
    return match


def write_idx(path: pathlib.Path, array: np.ndarray) -> None:
    """An IDX file as MNIST ships it: magic (0, 0, dtype code, ndim), big-endian sizes, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">i4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_shows_whole_docstring_defaults_and_run_time(script, tmp_path):
    path = EXAMPLES / f"{script}.py"
    proc = subprocess.run([sys.executable, str(path), "--help"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"})
    assert proc.returncode == 0, proc.stderr
    docstring = ast.get_docstring(ast.parse(path.read_text()), clean=False)
    assert docstring.strip() in proc.stdout  # the whole purpose, as written
    assert re.search(r"Default run: about \d+ (s|min) on 2 shared CPU cores", docstring)
    options = proc.stdout.split("options:")[1]
    assert "(default: " in options


def test_unknown_optimizer_lists_the_available_ones(example, capsys, monkeypatch):
    mlp, common = example("mnist_mlp"), example("_common")
    with pytest.raises(SystemExit) as exit_:
        mlp.main(["--optimizer", "adamax_typo"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "'adamax_typo' is not one of the optimizers" in err and "has: sgd, momentum" in err
    assert common.available_optimizers() == [
        name for name in common.OPTIMIZER_LR_SCALE if hasattr(optim, name)]
    monkeypatch.delattr(optim, "adamw")  # a known name this fnad.optim lacks
    with pytest.raises(SystemExit):
        mlp.main(["--optimizer", "adamw"])
    err = capsys.readouterr().err
    assert "this fnad.optim has no 'adamw'" in err
    listed = err.split("it has: ")[1].strip().split(", ")
    assert "adam" in listed and "adamw" not in listed


def test_schedules_follow_their_descriptions(example):
    common = example("_common")
    steps_per_epoch, epochs, lr = 10, 3, 0.5
    total = steps_per_epoch * epochs
    values = {name: [float(common.make_schedule(name, lr, steps_per_epoch, epochs)(k))
                     for k in range(total + 1)] for name in common.SCHEDULES}
    assert values["constant"] == pytest.approx([lr] * (total + 1))
    for name in ("cosine", "linear"):
        assert values[name][0] == pytest.approx(lr) and values[name][-1] == pytest.approx(0)
        assert values[name][total // 2] == pytest.approx(lr / 2, rel=1e-5)
    warm = values["warmup_cosine"]
    assert warm[0] == 0 and warm[total // 10] == pytest.approx(lr)
    assert max(warm) == pytest.approx(lr) and warm[-1] == pytest.approx(0, abs=1e-7)
    assert values["exponential"][-1] == pytest.approx(lr / 100, rel=1e-5)
    assert values["step"][total // 3 - 1] == pytest.approx(lr)
    assert values["step"][total // 3] == pytest.approx(lr / 10)
    inverse = values["inverse_time"]
    assert inverse[steps_per_epoch] == pytest.approx(lr)
    assert inverse[2 * steps_per_epoch] == pytest.approx(lr / 2)
    with pytest.raises(ValueError, match="constant, cosine"):
        common.make_schedule("cosin", lr, steps_per_epoch, epochs)


@pytest.mark.slow
@needs_sklearn
@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_mnist_mlp_learns_and_ends_with_accuracy_and_time(example, capsys, backend):
    if backend not in available_backends():
        pytest.skip("no C compiler")
    args = ["--epochs", "2", "--backend", backend]
    train_acc, test_acc = example("mnist_mlp").main(args)["dropout"]
    assert test_acc > 0.8 and train_acc > 0.8  # chance is 0.1
    out = capsys.readouterr().out
    assert "epoch 2/2" in out
    # fixed precision: never "train_acc=1" next to "train_acc=0.9993"
    assert len(re.findall(r"train_acc=\d\.\d{4} test_acc=\d\.\d{4}\n", out)) == 2
    match = closing(out, test_acc)
    assert match["model"] == "MLP, dropout" and match["total"] == "359"


@pytest.mark.slow
@needs_sklearn
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop",
                                       "adam", "adamw", "lamb", "lion", "adafactor"])
def test_mnist_mlp_trains_with_each_optimizer(example, capsys, optimizer):
    if not hasattr(optim, optimizer):
        pytest.skip(f"fnad.optim has no {optimizer} yet")
    _, test_acc = example("mnist_mlp").main(["--epochs", "2", "--optimizer", optimizer,
                                             "--schedule", "cosine"])["dropout"]
    assert test_acc > 0.7, optimizer  # its default learning rate learns: chance is 0.1
    assert f"{optimizer} at learning rate" in capsys.readouterr().out


@pytest.mark.slow
@needs_sklearn
def test_mnist_mlp_compare_table(example, capsys):
    results = example("mnist_mlp").main(["--epochs", "1", "--compare-logistic"])
    assert set(results) == {"dropout", "l2", "none", "logistic"}
    out = capsys.readouterr().out
    table = out.split("test error")[1]
    for row in ("MLP, dropout", "MLP, L2 (ridge)", "logistic regression"):
        assert row in table
    assert "1.8%" in table and "7.2%" in table  # the classic numbers, printed alongside
    closing(out, results["dropout"][1])


@pytest.mark.slow
@needs_sklearn
def test_mnist_mlp_reads_mnist_idx_files(example, tmp_path, capsys):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 96), ("t10k", 32)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n))
    results = example("mnist_mlp").main(["--data", str(tmp_path), "--epochs", "1",
                                         "--regularization", "l2"])
    out = capsys.readouterr().out
    assert "MNIST: 96 train / 32 test images of 784 pixels" in out
    assert closing(out, results["l2"][1])["total"] == "32"


@pytest.mark.slow
@needs_sklearn
def test_mnist_mlp_demo_reaches_97_percent(example):
    _, test_acc = example("mnist_mlp").main([])["dropout"]
    assert test_acc >= 0.97


def fvr_run(example, args: list[str]) -> tuple[dict, str]:
    fvr = example("forward_vs_reverse")
    return fvr.main(["--sizes", "2", "32", "--repeats", "1", *args]), fvr


@pytest.mark.slow
def test_forward_vs_reverse_table_reasons_and_summary(example, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result, fvr = fvr_run(example, ["--svg"])
    assert set(result["reports"]) == {(2, 2), (2, 32), (32, 2), (32, 32)}
    flops = {k: {m: s.flops for m, s in r.modes.items()} for k, r in result["reports"].items()}
    assert flops[32, 2]["jacrev"] < flops[32, 2]["jacfwd"]  # many inputs: reverse is cheaper
    assert flops[2, 32]["jacfwd"] < flops[2, 32]["jacrev"]
    out = capsys.readouterr().out
    table = [ln for ln in out.splitlines() if re.match(r" *\d+ +\d+ ", ln)]
    assert len(table) == 4
    for (n, m), r in result["reports"].items():  # the reason, exactly where the modes differ
        differs = fvr.faster(r) != r.recommended
        assert (f"n={n}, m={m}: f maps" in out) == differs
    lines = out.rstrip("\n").splitlines()
    assert lines[-3] == "summary:" and lines[-2:] == result["summary"]
    assert re.match(r"the faster mode was the recommended one in \d of 4 cases", lines[-2])
    assert re.match(r"at n=2, m=32 (jacfwd|jacrev) was \d+\.\dx faster; at n=32, m=2 ", lines[-1])
    assert result["plot"] == "forward_vs_reverse.svg"  # --svg: named .svg, in the cwd
    assert (tmp_path / "forward_vs_reverse.svg").exists()
    assert "wrote the hand-drawn SVG to forward_vs_reverse.svg" in out


@pytest.mark.slow
def test_forward_vs_reverse_svg_without_matplotlib(example, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails
    result, _ = fvr_run(example, ["--out", str(tmp_path / "plots" / "modes.png")])
    path = tmp_path / "plots" / "modes.svg"
    assert result["plot"] == str(path) and not (tmp_path / "plots" / "modes.png").exists()
    assert f"matplotlib is not installed: wrote the hand-drawn SVG to {path}" in \
        capsys.readouterr().out
    svg = path.read_text()
    root = ElementTree.fromstring(svg)  # well-formed XML
    ns = "{http://www.w3.org/2000/svg}"
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert "f(x) = tanh(A x)" in " ".join(texts)
    assert "forward mode wins when inputs are few, reverse mode when outputs are few" in texts
    assert texts.count("time (ms), log scale") == 2
    assert "n (inputs), log scale" in texts and "m (outputs), log scale" in texts
    assert len(root.findall(f"{ns}polyline")) == 4  # 2 panels x 2 modes
    assert len(root.findall(f"{ns}circle")) == 4 * 2 + 4  # a marker per point, and the legend
    assert texts.count("2") == 2 and texts.count("32") == 2  # x ticks, labelled
    assert len([t for t in texts if re.fullmatch(r"0\.\d+|\d+|1e-?\d+", t or "")]) > 4
    ticks = [ln for ln in root.findall(f"{ns}line") if ln.get("stroke") == "#333"]
    assert len(ticks) >= 2 * (2 + 2)  # tick marks on both axes of both panels


@pytest.mark.slow
def test_forward_vs_reverse_png(example, tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    result, _ = fvr_run(example, [])
    assert result["plot"] == "forward_vs_reverse.png"  # the default: the current directory
    assert (tmp_path / "forward_vs_reverse.png").read_bytes()[:4] == b"\x89PNG"
    assert "plot written to forward_vs_reverse.png" in capsys.readouterr().out


@pytest.mark.slow
def test_autodiff_tour_shows_programs_and_fd_tradeoff(example, capsys):
    tour = example("autodiff_tour")
    rows = tour.main(["--max-exponent", "12"])
    out = capsys.readouterr().out
    for title in ("--- f", "--- jvp(f)", "--- grad(f)", "--- jit(grad(f))"):
        assert title in out
    assert "cos" in out.split("--- grad(f)")[1]  # the derivative of sin appears
    before, after = map(int, re.search(r"from (\d+) to (\d+) equations", out).groups())
    assert after < before  # the docstring's "jit's passes shorten grad(f)'s program"
    forward = [r[1] for r in rows]
    best = int(np.argmin(forward))
    assert 0 < best < len(rows) - 1  # truncation error on the left, rounding on the right
    assert forward[0] > 100 * forward[best] and forward[-1] > 100 * forward[best]
    # the docstring's numbers: forward best at h = 1e-8, central at 1e-6
    assert rows[best][0] == 1e-8 and forward[best] < 1e-8
    central = min(rows, key=lambda r: r[2])
    assert central[0] == 1e-6 and central[2] < 1e-10
    assert abs(float(tour.fnad.grad(tour.f)(np.float64(0.7))) - tour.df_by_hand(0.7)) < 1e-14


@pytest.mark.slow
@needs_sklearn
def test_cnn_learns(example, capsys):
    _, test_acc = example("cnn").main(["--epochs", "2", "--channels", "8", "8", "--lr", "3e-3"])
    assert test_acc > 0.5
    assert closing(capsys.readouterr().out, test_acc)["model"] == "CNN"


@pytest.mark.slow
@needs_sklearn
def test_resnet_learns(example, capsys):
    _, test_acc = example("resnet").main(["--epochs", "1"])
    assert test_acc > 0.5
    assert closing(capsys.readouterr().out, test_acc)["model"] == "ResNet"


@pytest.mark.slow
def test_char_rnn_loss_falls_and_samples(example, capsys):
    result = example("char_rnn").main(["--steps", "25", "--seq-len", "16", "--hidden", "32",
                                       "--batch-size", "16", "--sample-length", "20",
                                       "--prime", "def "])
    losses = result["losses"]
    assert losses[0] > 5 and min(losses[-5:]) < losses[0] - 1.0  # from ~log2(88 characters)
    assert 4.0 < result["unigram_bits"] < 4.5  # the docstring's ~4.2
    assert result["sample"].startswith("def ") and len(result["sample"]) == 4 + 20


@pytest.mark.slow
@needs_sklearn
def test_per_example_gradients_match_loop(example):
    result = example("per_example_gradients").main(["--steps", "30", "--batch-size", "16"])
    assert result["max_difference"] < 1e-5
    assert result["test_accuracy"] > 0.3


@pytest.mark.slow
@needs_sklearn
def test_hessian_vector_products_and_newton(example):
    result = example("hessian_vector").main(["--newton-steps", "5", "--examples", "200"])
    assert result["errors"]["full Hessian"] < 1e-10
    assert result["errors"]["finite differences"] < 1e-6
    norms = result["grad_norms"]
    assert all(b < a for a, b in zip(norms, norms[1:])) and norms[-1] < 1e-3 * norms[0]


@pytest.mark.slow
def test_custom_gradients(example):
    result = example("custom_gradients").main([])  # the default run is fast
    assert np.isnan(result["naive"][-1]) and result["custom"][-1] == 1.0
    np.testing.assert_allclose(result["clipped"], [0.03, 1.0, 1.0], rtol=1e-5)
    np.testing.assert_allclose(result["plain"], [0.03, 3.0, 300.0], rtol=1e-5)
    # the docstring's numbers: 32 arrays (328 KB) -> 16 (197 KB)
    assert result["residual_counts"] == {False: 32, True: 16}
    assert result["residual_bytes"] == {False: 327680, True: 196608}
    assert result["grad_difference"] < 1e-6


@pytest.mark.slow
@needs_sklearn
def test_data_parallel_single_process(example, capsys):
    accuracy = example("data_parallel").main(["--epochs", "3"])
    assert accuracy > 0.9
    match = closing(capsys.readouterr().out, accuracy)
    assert match["model"] == "MLP" and "over 1 process(es)" in match.group(0)


@pytest.mark.slow
@needs_sklearn
def test_vae_elbo_improves(example, capsys):
    history = example("vae").main(["--epochs", "3"])
    assert len(history) == 4 and all(np.isfinite(history))
    assert history[-1] > history[0] + 15  # measured: -48.2 -> -24.8 nats per image
    out = capsys.readouterr().out
    assert "epoch 3/3" in out and "test_elbo=" in out
