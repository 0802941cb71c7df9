"""compare_modes and print_saved_residuals: the library's tools for choosing a mode and
understanding reverse mode's memory."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad.autodiff import saved_residuals
from fnad.cost import cost_analysis

F32 = np.float32


def test_compare_modes_recommends_by_jacobian_shape() -> None:
    x = np.linspace(-1, 1, 50).astype(F32)
    wide = fnad.compare_modes(lambda x: fnp.sum(fnp.sin(x) ** 2), x, repeats=2)
    assert (wide.n_inputs, wide.n_outputs) == (50, 1)
    assert wide.recommended == "jacrev" and "50 input" in wide.reason
    tall = fnad.compare_modes(lambda s: fnp.sin(s * x), np.float32(0.5), repeats=2)
    assert (tall.n_inputs, tall.n_outputs) == (1, 50)
    assert tall.recommended == "jacfwd"


def test_compare_modes_measures_each_mode() -> None:
    x = np.linspace(-1, 1, 8).astype(F32)
    f = lambda x: fnp.tanh(x) * x
    report = fnad.compare_modes(f, x, repeats=3)
    assert set(report.modes) == {"jacfwd", "jacrev"}
    for name, jac in [("jacfwd", fnad.jacfwd(f)), ("jacrev", fnad.jacrev(f))]:
        stats = report.modes[name]
        c = cost_analysis(fnad.make_jaxpr(jac)(x))
        assert stats.primitive_applications == c["primitive_applications"] > 0
        assert stats.flops == c["flops"] > 0
        assert stats.time_s > 0
    assert report.modes["jacfwd"].residual_bytes == 0
    assert report.modes["jacrev"].residual_bytes == sum(
        r.nbytes for r in saved_residuals(f, x)) > 0
    text = str(report)
    for word in ["jacfwd", "jacrev", "time", "FLOPs", "residual bytes", "recommended"]:
        assert word in text


def test_compare_modes_raises_when_modes_disagree() -> None:
    @fnad.custom_vjp
    def f(x):
        return x

    # a backward rule that is not linear in the cotangent: reverse mode sees 2 on the
    # diagonal of the Jacobian, forward mode (its linearization at 0) sees 1
    f.defvjp(lambda x: (x, None), lambda _, ct: (ct * ct + ct,))
    with pytest.raises(fnad.FnadError, match="disagree"):
        fnad.compare_modes(f, np.ones(3, F32))


def test_saved_residuals_name_shape_dtype_bytes_and_user_line() -> None:
    x = np.ones((4, 3), F32)

    def f(x):
        y = fnp.sin(x)  # cos(x) is kept for the backward pass
        return fnp.sum(y * y)

    rows = saved_residuals(f, x)
    assert rows and all(r.shape == (4, 3) and r.dtype == np.float32 and r.nbytes == 48
                        for r in rows)
    line = f.__code__.co_firstlineno + 1
    assert any(r.source.startswith("cos") and f"test_autodiff.py:{line}" in r.source
               for r in rows)
    assert len(saved_residuals(fnad.checkpoint(f), x)) == 1


def test_print_saved_residuals_table(capsys: pytest.CaptureFixture[str]) -> None:
    fnad.print_saved_residuals(lambda x: fnp.sum(fnp.exp(x) * x), np.ones(5, F32))
    out = capsys.readouterr().out
    assert "shape" in out and "float32" in out and "(5,)" in out
    assert "exp" in out and "test_autodiff.py" in out
    assert out.strip().splitlines()[-1].startswith("total:")
