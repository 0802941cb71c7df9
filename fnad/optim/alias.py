"""The usual optimizers as chains of `fnad.optim.transforms`, each taking a learning rate
that may be a number or a schedule (a function of the step count).
"""

from __future__ import annotations

from typing import Any

from fnad.optim.base import GradientTransformation, chain
from fnad.optim.transforms import (
    ScalarOrSchedule,
    add_decayed_weights,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_rms,
    scale_by_rss,
    trace,
)


def sgd(learning_rate: ScalarOrSchedule, momentum: float | None = None,
        nesterov: bool = False) -> GradientTransformation:
    """Stochastic gradient descent, `p <- p - lr * g`, optionally with (Nesterov) momentum.

    >>> import numpy as np
    >>> opt = sgd(0.1)
    >>> opt.update({"w": np.float32(2)}, opt.init({"w": np.float32(0)}))[0]["w"]
    np.float32(-0.2)
    """
    if momentum is None:
        return scale_by_learning_rate(learning_rate)
    return chain(trace(momentum, nesterov), scale_by_learning_rate(learning_rate))


def momentum(learning_rate: ScalarOrSchedule, beta: float = 0.9) -> GradientTransformation:
    """Heavy-ball momentum (Polyak, 1964): `v <- beta v + g`, `p <- p - lr v`."""
    return sgd(learning_rate, beta)


def nesterov(learning_rate: ScalarOrSchedule, beta: float = 0.9) -> GradientTransformation:
    """Nesterov's accelerated gradient in Sutskever et al.'s (2013) form:
    `v <- beta v + g`, `p <- p - lr (g + beta v)`; the params are the lookahead points."""
    return sgd(learning_rate, beta, nesterov=True)


def adagrad(learning_rate: ScalarOrSchedule, initial_accumulator_value: float = 0.1,
            eps: float = 1e-7) -> GradientTransformation:
    """Adagrad (Duchi et al., 2011): per-coordinate steps `lr g / (sqrt(sum g**2) + eps)`."""
    return chain(scale_by_rss(initial_accumulator_value, eps),
                 scale_by_learning_rate(learning_rate))


def rmsprop(learning_rate: ScalarOrSchedule, decay: float = 0.9, eps: float = 1e-8,
            momentum: float | None = None, nesterov: bool = False) -> GradientTransformation:
    """RMSProp (Tieleman & Hinton, 2012): steps `lr g / (sqrt(nu) + eps)` with `nu` a moving
    average of `g**2`, optionally followed by momentum."""
    parts: list[Any] = [scale_by_rms(decay, eps)]
    if momentum is not None:
        parts.append(trace(momentum, nesterov))
    return chain(*parts, scale_by_learning_rate(learning_rate))


def adam(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8) -> GradientTransformation:
    """Adam (Kingma & Ba, 2015) with exact bias correction."""
    return chain(scale_by_adam(b1, b2, eps), scale_by_learning_rate(learning_rate))


def adamw(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
          eps: float = 1e-8, weight_decay: float = 1e-4, mask: Any = None
          ) -> GradientTransformation:
    """AdamW (Loshchilov & Hutter, 2019): Adam with weight decay decoupled from the adaptive
    scaling, `p <- p - lr (adam(g) + weight_decay p)`; `mask` limits the decay (e.g. to
    weight matrices)."""
    return chain(scale_by_adam(b1, b2, eps), add_decayed_weights(weight_decay, mask),
                 scale_by_learning_rate(learning_rate))
