"""Smoke tests of the Gaussian-process and spectral-layer examples in small settings: each
must show what its docstring claims (the objective falls, the fitted quantities approach the
truth, the plot is written), in a couple of seconds."""

from __future__ import annotations

import importlib
import pathlib
import sys
from xml.etree import ElementTree

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return importlib.import_module


def test_gaussian_process_fits_and_plots(example, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # the hand-drawn SVG path
    gp = example("gaussian_process")
    result = gp.main(["--n", "30", "--steps", "40", "--out", str(tmp_path / "gp.png")])
    history = result["history"]
    assert history[-1] < history[0] - 5  # the objective fell
    assert 0.1 < result["params"]["noise"] < 0.35  # near the data's noise, 0.2
    assert result["rmse"] < 0.4
    # the posterior is tight near data and widens away from it
    std, grid = result["std"], result["grid"]
    assert std[np.argmin(np.abs(grid))] < std[0] and std[np.argmin(np.abs(grid))] < std[-1]
    path = tmp_path / "gp.svg"
    assert result["plot"] == str(path)
    root = ElementTree.fromstring(path.read_text())
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{ns}circle")) == 30 and root.findall(f"{ns}polygon")
    out = capsys.readouterr().out
    assert "-log p(y|X):" in out and "fitted: lengthscale" in out


def test_gaussian_process_objective_is_the_marginal_likelihood(example):
    """The jitted objective equals -log N(y; 0, K) computed with NumPy."""
    gp = example("gaussian_process")
    x, y = gp.make_data(12, 0.2, 1)
    params = {"log_lengthscale": np.float64(0.3), "log_variance": np.float64(-0.2),
              "log_noise": np.float64(-1.0)}
    ls, var, noise = np.exp(0.3), np.exp(-0.2), np.exp(-1.0)
    k = var * np.exp(-0.5 * (x[:, None] - x[None, :]) ** 2 / ls ** 2)
    k += (noise ** 2 + gp.JITTER) * np.eye(12)
    expected = 0.5 * y @ np.linalg.solve(k, y) + 0.5 * np.linalg.slogdet(k)[1] \
        + 6 * np.log(2 * np.pi)
    np.testing.assert_allclose(gp.neg_log_marginal_likelihood(params, x, y), expected,
                               rtol=1e-10)


def test_spectral_layer_learns_the_heat_operator(example, capsys):
    spectral = example("spectral")
    result = spectral.main(["--n", "32", "--modes", "12", "--nu", "0.05", "--steps", "120"])
    history = result["history"]
    assert history[-1] < history[0] / 50
    assert result["error"] < 0.02
    out = capsys.readouterr().out
    assert out.count("mse") >= 10 and "learned multipliers" in out
