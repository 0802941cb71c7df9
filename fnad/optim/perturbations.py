"""`optax.perturbations`: differentiable Monte-Carlo smoothings of functions that need not
be differentiable (argmax, ranks, ...), `f_sigma(x) = E_z f(x + sigma z)` (Berthet et al.,
2020), whose derivatives of every order come from values of `f` only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import fnad.numpy as fnp
from fnad import lax, random
from fnad.api import vmap
from fnad.optim import tree as otree
from fnad.tree import tree_map


class Normal:
    """The standard normal noise: `sample` draws it, `log_prob` is its log density up to a
    constant."""

    def sample(self, key: Any, sample_shape: tuple[int, ...] = (), dtype: Any = float) -> Any:
        return random.normal(key, sample_shape, dtype)

    def log_prob(self, inputs: Any) -> Any:
        return -0.5 * inputs ** 2


class Gumbel:
    """The standard Gumbel noise (perturbing an argmax by it samples a softmax)."""

    def sample(self, key: Any, sample_shape: tuple[int, ...] = (), dtype: Any = float) -> Any:
        return random.gumbel(key, sample_shape, dtype)

    def log_prob(self, inputs: Any) -> Any:
        return -inputs - fnp.exp(-inputs)


def _magicbox(x: Any) -> Any:
    """1 in value, with the derivative of exp(x): DiCE's operator (Foerster et al., 2018)."""
    return fnp.exp(x - lax.stop_gradient(x))


def make_perturbed_fun(fun: Callable[[Any], Any], num_samples: int = 1000,
                       sigma: Any = 0.1, noise: Any = None, use_baseline: bool = True
                       ) -> Callable[[Any, Any], Any]:
    """`(key, x) -> ` a `num_samples` Monte-Carlo estimate of `E_z fun(x + sigma z)`, `z`
    drawn from `noise` (`Gumbel()` by default), whose derivatives (through the score
    function, written with DiCE's magic box) estimate the smoothed function's; `fun(x)`
    is subtracted as a baseline to reduce their variance unless `use_baseline` is False.

    >>> import fnad, numpy as np
    >>> f = make_perturbed_fun(lambda x: fnp.sum(fnp.maximum(x, 0.0)), 20000, 0.5, Normal())
    >>> g = fnad.grad(f, argnums=1)(random.key(0), np.zeros(2, np.float32))
    >>> bool(np.allclose(g, 0.5, atol=0.05))  # P(0.5 z > 0)
    True
    """
    noise = Gumbel() if noise is None else noise

    def estimate(key: Any, x: Any, baseline: Any) -> Any:
        z = otree.random_like(key, x, sampler=noise.sample)
        shifted = lax.stop_gradient(tree_map(lambda a, b: a + sigma * b, x, z))
        z = tree_map(lambda a, y: (y - a) / sigma, x, shifted)  # carries x's derivative
        box = _magicbox(otree.sum(tree_map(noise.log_prob, z)))
        out = otree.scale(box, fun(shifted))
        return out if baseline is None else otree.add_scale(out, 1 - box, baseline)

    def perturbed(key: Any, x: Any) -> Any:
        baseline = fun(lax.stop_gradient(x)) if use_baseline else None
        out = vmap(estimate, in_axes=(0, None, None))(random.split(key, num_samples), x,
                                                      baseline)
        return tree_map(lambda v: fnp.mean(v, axis=0), out)

    return perturbed


__all__ = ["Gumbel", "Normal", "make_perturbed_fun"]
