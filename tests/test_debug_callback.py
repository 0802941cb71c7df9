"""`fnad.debug.callback` (JAX's `jax.debug.callback`): runtime values reach a Python function
eagerly, under jit (each run), vmap (once per element) and grad (the primals), and the call
survives dead-code elimination."""

from __future__ import annotations

import numpy as np

import fnad
import fnad.numpy as fnp


def test_callback_sees_runtime_values_under_every_transform() -> None:
    seen: list = []

    def f(x):
        fnad.debug.callback(lambda v, scale=1: seen.append(np.asarray(v) * scale), x, scale=2)
        return fnp.sum(x * x)

    x = np.arange(3.0, dtype=np.float32)
    f(x)
    jf = fnad.jit(f)
    jf(x)
    jf(x + 1)  # compiled once, called at every run
    np.testing.assert_allclose(fnad.grad(f)(x), 2 * x)
    fnad.vmap(f)(np.stack([x, x + 10]))
    expected = [2 * x, 2 * x, 2 * (x + 1), 2 * x, 2 * x, 2 * (x + 10)]
    assert len(seen) == len(expected)
    for got, want in zip(seen, expected):
        np.testing.assert_allclose(got, want)


def test_callback_is_kept_though_it_has_no_outputs(capsys) -> None:
    jaxpr = fnad.make_jaxpr(lambda x: fnad.debug.callback(print, x) or x + 1)(1.0)
    assert "debug_callback" in str(jaxpr)
    fnad.jit(lambda x: fnad.debug.print("value {}", x) or x)(np.float32(4.0))
    assert capsys.readouterr().out == "value 4.0\n"
