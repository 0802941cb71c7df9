"""`checkpoint` with JAX's options: static arguments, save policies (accepted; values and
derivatives unchanged), `checkpoint_name` tags; the policy predicates themselves."""

from __future__ import annotations

import numpy as np

import fnad
import fnad.numpy as fnp
from fnad import ad_checkpoint, checkpoint_policies as cp
from fnad.lax.linalg import dot_general_p
from fnad.test_util import check_grads


def layer(w, x):
    return fnp.tanh(ad_checkpoint.checkpoint_name(x @ w, "pre"))


def test_policies_leave_derivatives_unchanged() -> None:
    rng = np.random.default_rng(0)
    w, x = rng.standard_normal((3, 3)), rng.standard_normal((2, 3))
    plain = fnad.grad(lambda w: fnp.sum(layer(w, x)))(w)
    for policy in (None, cp.everything_saveable, cp.nothing_saveable, cp.dots_saveable,
                   cp.dots_with_no_batch_dims_saveable, cp.save_only_these_names("pre"),
                   cp.save_any_names_but_these("pre"),
                   cp.save_from_both_policies(cp.dots_saveable, cp.nothing_saveable)):
        f = fnad.checkpoint(layer, policy=policy, prevent_cse=False)
        np.testing.assert_allclose(fnad.grad(lambda w, f=f: fnp.sum(f(w, x)))(w), plain,
                                   rtol=1e-12)
    check_grads(fnad.checkpoint(layer, policy=cp.dots_saveable), (w, x), order=2)


def test_static_argnums_and_the_decorator_form() -> None:
    @fnad.checkpoint(static_argnums=(1,))
    def power(x, n):
        assert isinstance(n, int)  # a Python value, not traced
        return fnp.sin(x) ** n

    np.testing.assert_allclose(fnad.grad(power)(0.5, 2), np.sin(1.0), rtol=1e-6)
    np.testing.assert_allclose(fnad.jit(fnad.grad(power), static_argnums=1)(0.5, 3),
                               3 * np.sin(0.5) ** 2 * np.cos(0.5), rtol=1e-6)


def test_policy_predicates() -> None:
    batched = {"dimension_numbers": (((2,), (1,)), ((0,), (0,)))}
    plain = {"dimension_numbers": (((1,), (0,)), ((), ()))}
    assert cp.dots_saveable(dot_general_p) and not cp.nothing_saveable(dot_general_p)
    assert cp.dots_with_no_batch_dims_saveable(dot_general_p, **plain)
    assert not cp.dots_with_no_batch_dims_saveable(dot_general_p, **batched)
    assert cp.save_only_these_names("a")("name", name="a")
    assert not cp.save_only_these_names("a")("name", name="b")
    assert cp.save_any_names_but_these("a")("name", name="b")
    assert ad_checkpoint.checkpoint_name(np.ones(2), "x").shape == (2,)
