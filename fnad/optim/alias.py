"""The usual optimizers as chains of `fnad.optim.transforms`, each taking a learning rate
that may be a number or a schedule (a function of the step count), with optax's names,
arguments and defaults.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fnad.optim import transforms as tx
from fnad.optim.base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    chain,
    checked,
    identity as _identity,
)
from fnad.optim.errors import OptimizerArgumentError, OptimizerTypeError
from fnad.optim.linesearch import scale_by_lbfgs, scale_by_zoom_linesearch
from fnad.optim.masking import masked

ScalarOrSchedule = Any


def _optimizer(factory: Callable[..., GradientTransformation]
               ) -> Callable[..., GradientTransformationExtraArgs]:
    """`factory` whose transformations check their updates under the optimizer's own name
    (errors read "adam.update: ..." rather than name the chain inside)."""

    @functools.wraps(factory)
    def make(*args: Any, **kwargs: Any) -> GradientTransformationExtraArgs:
        made = factory(*args, **kwargs)
        return checked(factory.__name__, made.init, made.update)

    return make


def _lr(learning_rate: ScalarOrSchedule) -> GradientTransformationExtraArgs:
    """Descent steps of `learning_rate`; None is refused (as optax refuses it): it would
    leave the updates unscaled and unnegated, an ascent that ends in NaN."""
    if learning_rate is None:
        raise OptimizerTypeError("the learning rate is None: give a number or a schedule "
                             "(e.g. adam(1e-3), or adam(optim.cosine_decay_schedule(1e-3, "
                             "1000)))")
    return tx.scale_by_learning_rate(learning_rate)


@_optimizer
def sgd(learning_rate: ScalarOrSchedule, momentum: float | None = None,
        nesterov: bool = False, accumulator_dtype: Any = None) -> GradientTransformationExtraArgs:
    """Stochastic gradient descent, `p <- p - lr * g`, optionally with (Nesterov) momentum.

    >>> import numpy as np
    >>> opt = sgd(0.1)
    >>> opt.update({"w": np.float32(2)}, opt.init({"w": np.float32(0)}))[0]["w"]
    np.float32(-0.2)
    """
    first = _identity() if momentum is None else tx.trace(momentum, nesterov, accumulator_dtype)
    return chain(first, _lr(learning_rate))


@_optimizer
def momentum(learning_rate: ScalarOrSchedule, beta: float = 0.9) -> GradientTransformationExtraArgs:
    """Heavy-ball momentum (Polyak, 1964): `v <- beta v + g`, `p <- p - lr v` (fnad's
    shorthand for `sgd(lr, beta)`).

    >>> momentum(0.1).init({"w": 0.0})[0].trace
    {'w': array(0., dtype=float32)}
    """
    return sgd(learning_rate, beta)


@_optimizer
def nesterov(learning_rate: ScalarOrSchedule, beta: float = 0.9) -> GradientTransformationExtraArgs:
    """Nesterov's accelerated gradient in Sutskever et al.'s (2013) form (fnad's shorthand
    for `sgd(lr, beta, nesterov=True)`).

    >>> round(float(nesterov(0.1).update({"w": 1.0}, nesterov(0.1).init({"w": 0.0}))[0]["w"]), 6)
    -0.19
    """
    return sgd(learning_rate, beta, nesterov=True)


@_optimizer
def sign_sgd(learning_rate: ScalarOrSchedule) -> GradientTransformationExtraArgs:
    """signSGD (Bernstein et al., 2018): `p <- p - lr * sign(g)`.

    >>> round(float(sign_sgd(0.1).update({"w": 5.0}, sign_sgd(0.1).init({"w": 0.0}))[0]["w"]), 6)
    -0.1
    """
    return chain(tx.scale_by_sign(), _lr(learning_rate))


@_optimizer
def signum(learning_rate: ScalarOrSchedule, beta: float = 0.9, accumulator_dtype: Any = None
           ) -> GradientTransformationExtraArgs:
    """Signum (Bernstein et al., 2018): the sign of a moving average of the gradients.

    >>> round(float(signum(0.1).update({"w": 5.0}, signum(0.1).init({"w": 0.0}))[0]["w"]), 6)
    -0.1
    """
    return chain(tx.ema(beta, debias=False, accumulator_dtype=accumulator_dtype),
                 tx.scale_by_sign(), _lr(learning_rate))


@_optimizer
def noisy_sgd(learning_rate: ScalarOrSchedule, eta: float = 0.01, gamma: float = 0.55,
              key: Any = None, *, seed: int | None = None) -> GradientTransformationExtraArgs:
    """SGD with annealed Gaussian gradient noise (Neelakantan et al., 2015).

    >>> noisy_sgd(0.1, key=0).init({"w": 0.0})[0].count
    array(0, dtype=int32)
    """
    return chain(tx.add_noise(eta, gamma, key, seed=seed), _lr(learning_rate))


@_optimizer
def adagrad(learning_rate: ScalarOrSchedule, initial_accumulator_value: float = 0.1,
            eps: float = 1e-7) -> GradientTransformationExtraArgs:
    """Adagrad (Duchi et al., 2011): per-coordinate steps `lr g / sqrt(sum g**2 + eps)`.

    >>> adagrad(0.1).init({"w": 0.0})[0].sum_of_squares
    {'w': array(0.1, dtype=float32)}
    """
    return chain(tx.scale_by_rss(initial_accumulator_value, eps), _lr(learning_rate))


@_optimizer
def adadelta(learning_rate: ScalarOrSchedule = None, rho: float = 0.9, eps: float = 1e-6,
             weight_decay: float = 0.0, weight_decay_mask: Any = None
             ) -> GradientTransformationExtraArgs:
    """Adadelta (Zeiler, 2012): steps scaled by the ratio of RMS past steps to RMS gradients.

    >>> len(adadelta(1.0).init({"w": 0.0}))
    3
    """
    return chain(tx.add_decayed_weights(weight_decay, weight_decay_mask),
                 tx.scale_by_adadelta(rho, eps), tx.scale_by_learning_rate(learning_rate))


@_optimizer
def rmsprop(learning_rate: ScalarOrSchedule, decay: float = 0.9, eps: float = 1e-8,
            initial_scale: float = 0.0, eps_in_sqrt: bool = True, centered: bool = False,
            momentum: float | None = None, nesterov: bool = False, bias_correction: bool = False
            ) -> GradientTransformationExtraArgs:
    """RMSProp (Tieleman & Hinton, 2012): steps `lr g / sqrt(nu + eps)` with `nu` a moving
    average of `g**2` (of the variance with `centered`), optionally followed by momentum.

    >>> round(float(rmsprop(0.1).update({"w": 1.0}, rmsprop(0.1).init({"w": 0.0}))[0]["w"]), 4)
    -0.3162
    """
    scaling = tx.scale_by_stddev if centered else tx.scale_by_rms
    return chain(scaling(decay, eps, initial_scale, eps_in_sqrt, bias_correction),
                 _lr(learning_rate),
                 tx.trace(momentum, nesterov) if momentum is not None else _identity())


@_optimizer
def adam(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8, eps_root: float = 0.0, mu_dtype: Any = None, *,
         nesterov: bool = False) -> GradientTransformationExtraArgs:
    """Adam (Kingma & Ba, 2015) with bias correction; `nesterov` gives NAdam.

    >>> round(float(adam(0.1).update({"w": 2.0}, adam(0.1).init({"w": 0.0}))[0]["w"]), 4)
    -0.1
    """
    return chain(tx.scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
                 _lr(learning_rate))


@_optimizer
def adamw(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
          eps: float = 1e-8, eps_root: float = 0.0, mu_dtype: Any = None,
          weight_decay: ScalarOrSchedule = 1e-4, mask: Any = None, *, nesterov: bool = False
          ) -> GradientTransformationExtraArgs:
    """AdamW (Loshchilov & Hutter, 2019): Adam with weight decay decoupled from the adaptive
    scaling, `p <- p - lr (adam(g) + weight_decay p)`; `mask` limits the decay.

    >>> opt = adamw(0.1, weight_decay=0.5)
    >>> round(float(opt.update({"w": 2.0}, opt.init({"w": 1.0}), {"w": 1.0})[0]["w"]), 4)
    -0.15
    """
    return chain(tx.scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
                 tx.add_decayed_weights(weight_decay, mask), _lr(learning_rate))


def _nesterov(fn: Callable[..., GradientTransformation], name: str, doc: str
              ) -> Callable[..., GradientTransformation]:
    """`fn` with `nesterov=True` by default, and a signature that says so (optax's)."""
    alias = functools.wraps(fn)(functools.partial(fn, nesterov=True))
    sig = inspect.signature(fn)
    alias.__signature__ = sig.replace(parameters=[  # type: ignore[attr-defined]
        p.replace(default=True) if p.name == "nesterov" else p for p in sig.parameters.values()])
    alias.__name__ = alias.__qualname__ = name  # type: ignore[attr-defined]
    alias.__doc__ = doc
    return alias


nadam = _nesterov(adam, "nadam", """NAdam (Dozat, 2016): Adam with Nesterov momentum, `adam(...,
    nesterov=True)`.

    >>> round(float(nadam(0.1).update({"w": 2.0}, nadam(0.1).init({"w": 0.0}))[0]["w"]), 4)
    -0.1474
    """)
nadamw = _nesterov(adamw, "nadamw", """NAdamW: AdamW with Nesterov momentum, `adamw(..., nesterov=True)`.

    >>> len(nadamw(0.1).init({"w": 0.0}))
    3
    """)


@_optimizer
def adamax(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
           eps: float = 1e-8) -> GradientTransformationExtraArgs:
    """Adamax (Kingma & Ba, 2015): Adam with the infinity norm in the denominator.

    >>> round(float(adamax(0.1).update({"w": 2.0}, adamax(0.1).init({"w": 0.0}))[0]["w"]), 4)
    -0.1
    """
    return chain(tx.scale_by_adamax(b1, b2, eps), _lr(learning_rate))


@_optimizer
def adamaxw(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
            eps: float = 1e-8, weight_decay: ScalarOrSchedule = 1e-4, mask: Any = None
            ) -> GradientTransformationExtraArgs:
    """Adamax with decoupled weight decay.

    >>> len(adamaxw(0.1).init({"w": 0.0}))
    3
    """
    return chain(tx.scale_by_adamax(b1, b2, eps), tx.add_decayed_weights(weight_decay, mask),
                 _lr(learning_rate))


@_optimizer
def amsgrad(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
            eps: float = 1e-8, eps_root: float = 0.0, mu_dtype: Any = None,
            bias_correction_mu: bool = True, bias_correction_nu: bool = True
            ) -> GradientTransformationExtraArgs:
    """AMSGrad (Reddi et al., 2018): Adam with a non-decreasing second moment.

    >>> round(float(amsgrad(0.1).update({"w": 2.0}, amsgrad(0.1).init({"w": 0.0}))[0]["w"]), 4)
    -0.1
    """
    return chain(tx.scale_by_amsgrad(b1, b2, eps, eps_root, mu_dtype, bias_correction_mu,
                                     bias_correction_nu), _lr(learning_rate))


@_optimizer
def adabelief(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
              eps: float = 1e-16, eps_root: float = 1e-16,
              weight_decay: ScalarOrSchedule | None = None, weight_decay_mask: Any = None, *,
              nesterov: bool = False) -> GradientTransformationExtraArgs:
    """AdaBelief (Zhuang et al., 2020): Adam scaled by the belief in the gradient, the
    variance of its prediction error.

    >>> len(adabelief(0.1).init({"w": 0.0}))
    2
    """
    parts = [tx.scale_by_belief(b1, b2, eps, eps_root, nesterov=nesterov)]
    if weight_decay is not None:
        parts.append(tx.add_decayed_weights(weight_decay, weight_decay_mask))
    return chain(*parts, _lr(learning_rate))


@_optimizer
def adan(learning_rate: ScalarOrSchedule, b1: float = 0.98, b2: float = 0.92, b3: float = 0.99,
         eps: float = 1e-8, eps_root: float = 1e-8, weight_decay: ScalarOrSchedule = 0.0,
         mask: Any = None) -> GradientTransformationExtraArgs:
    """Adan (Xie et al., 2022): adaptive Nesterov momentum.

    >>> len(adan(0.1).init({"w": 0.0}))
    3
    """
    return chain(tx.scale_by_adan(b1, b2, b3, eps, eps_root),
                 tx.add_decayed_weights(weight_decay, mask), _lr(learning_rate))


@_optimizer
def radam(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
          eps: float = 1e-8, eps_root: float = 0.0, threshold: float = 5.0, *,
          nesterov: bool = False) -> GradientTransformationExtraArgs:
    """RAdam (Liu et al., 2020): Adam with the variance of its adaptive rate rectified.

    >>> round(float(radam(0.1).update({"w": 2.0}, radam(0.1).init({"w": 0.0}))[0]["w"]), 4)
    -0.2
    """
    return chain(tx.scale_by_radam(b1, b2, eps, eps_root, threshold, nesterov=nesterov),
                 _lr(learning_rate))


@_optimizer
def yogi(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-3
         ) -> GradientTransformationExtraArgs:
    """Yogi (Zaheer et al., 2018): Adam with an additive second-moment update.

    >>> len(yogi(0.1).init({"w": 0.0}))
    2
    """
    return chain(tx.scale_by_yogi(b1, b2, eps), _lr(learning_rate))


@_optimizer
def lion(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.99,
         mu_dtype: Any = None, weight_decay: ScalarOrSchedule = 1e-3, mask: Any = None
         ) -> GradientTransformationExtraArgs:
    """Lion (Chen et al., 2023): sign of an interpolated momentum, with decoupled decay.

    >>> round(float(lion(0.1).update({"w": 2.0}, lion(0.1).init({"w": 0.0}), {"w": 0.0})[0]["w"]), 6)
    -0.1
    """
    return chain(tx.scale_by_lion(b1, b2, mu_dtype), tx.add_decayed_weights(weight_decay, mask),
                 _lr(learning_rate))


@_optimizer
def lamb(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-6, eps_root: float = 0.0, weight_decay: ScalarOrSchedule = 0.0,
         mask: Any = None) -> GradientTransformationExtraArgs:
    """LAMB (You et al., 2020): Adam with weight decay, scaled per layer by the trust ratio
    `|params| / |update|`, for large-batch training.

    >>> round(float(lamb(0.1).update({"w": 2.0}, lamb(0.1).init({"w": 1.0}), {"w": 1.0})[0]["w"]), 6)
    -0.1
    """
    return chain(tx.scale_by_adam(b1, b2, eps, eps_root),
                 tx.add_decayed_weights(weight_decay, mask), tx.scale_by_trust_ratio(),
                 _lr(learning_rate))


@_optimizer
def lars(learning_rate: ScalarOrSchedule, weight_decay: ScalarOrSchedule = 0.0,
         weight_decay_mask: Any = True, trust_coefficient: float = 1e-3, eps: float = 0.0,
         trust_ratio_mask: Any = True, momentum: float = 0.9, nesterov: bool = False
         ) -> GradientTransformationExtraArgs:
    """LARS (You et al., 2017): SGD with momentum, each layer's step scaled by the trust
    ratio `trust_coefficient |params| / |grad|`.

    >>> len(lars(0.1).init({"w": 0.0}))
    4
    """
    return chain(tx.add_decayed_weights(weight_decay, weight_decay_mask),
                 masked(tx.scale_by_trust_ratio(trust_coefficient=trust_coefficient, eps=eps),
                        trust_ratio_mask),
                 _lr(learning_rate), tx.trace(momentum, nesterov))


@_optimizer
def fromage(learning_rate: ScalarOrSchedule, min_norm: float = 1e-6
            ) -> GradientTransformationExtraArgs:
    """Fromage (Bernstein et al., 2020): steps of relative size `lr` per layer, shrunk by
    `1/sqrt(1 + lr**2)` so parameter norms do not grow.

    >>> len(fromage(0.1).init({"w": 0.0}))
    3
    """
    if callable(learning_rate):
        mult = lambda count: 1 / (1 + learning_rate(count) ** 2) ** 0.5
        return chain(tx.scale_by_trust_ratio(min_norm),
                     _lr(lambda count: mult(count) * learning_rate(count)),
                     tx.add_decayed_weights(lambda count: mult(count) - 1))
    m = 1 / (1 + learning_rate ** 2) ** 0.5
    return chain(tx.scale_by_trust_ratio(min_norm), _lr(learning_rate * m),
                 tx.add_decayed_weights(m - 1))


@_optimizer
def novograd(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.25,
             eps: float = 1e-6, eps_root: float = 0.0, weight_decay: float = 0.0
             ) -> GradientTransformationExtraArgs:
    """NovoGrad (Ginsburg et al., 2019): layer-wise second moments, normalized gradients.

    >>> len(novograd(0.1).init({"w": 0.0}))
    2
    """
    return chain(tx.scale_by_novograd(b1, b2, eps, eps_root, weight_decay), _lr(learning_rate))


@_optimizer
def sm3(learning_rate: float, momentum: float = 0.9) -> GradientTransformationExtraArgs:
    """SM3 (Anil et al., 2019): memory-efficient Adagrad with per-axis accumulators.

    >>> len(sm3(0.1).init({"w": 0.0}))
    2
    """
    return chain(tx.scale_by_sm3(momentum), tx.scale(-learning_rate))


@_optimizer
def adafactor(learning_rate: ScalarOrSchedule = None, min_dim_size_to_factor: int = 128,
              decay_rate: float = 0.8, decay_offset: int = 0,
              multiply_by_parameter_scale: bool = True, clipping_threshold: float | None = 1.0,
              momentum: float | None = None, dtype_momentum: Any = "float32",
              weight_decay_rate: ScalarOrSchedule | None = None, eps: float = 1e-30,
              factored: bool = True, weight_decay_mask: Any = None
              ) -> GradientTransformationExtraArgs:
    """Adafactor (Shazeer & Stern, 2018): factored second moments (sub-linear memory),
    update clipping by RMS, steps relative to the parameter scale.

    >>> len(adafactor(0.1).init({"w": 0.0}))
    5
    """
    parts: list[GradientTransformation] = [tx.scale_by_factored_rms(
        factored, decay_rate, decay_offset, min_dim_size_to_factor, eps)]
    if clipping_threshold is not None:
        parts.append(tx.clip_by_block_rms(clipping_threshold))
    if learning_rate is not None:
        parts.append(tx.scale_by_learning_rate(learning_rate, flip_sign=False))
    if multiply_by_parameter_scale:
        parts.append(tx.scale_by_param_block_rms())
    if momentum is not None:
        parts.append(tx.ema(momentum, debias=False, accumulator_dtype=dtype_momentum))
    if weight_decay_rate is not None:
        parts.append(tx.add_decayed_weights(weight_decay_rate, weight_decay_mask))
    return chain(*parts, tx.scale(-1))


@_optimizer
def rprop(learning_rate: float, eta_minus: float = 0.5, eta_plus: float = 1.2,
          min_step_size: float = 1e-6, max_step_size: float = 50.0
          ) -> GradientTransformationExtraArgs:
    """Rprop (Riedmiller & Braun, 1993): sign-based steps with per-coordinate adaptive sizes
    (full-batch training).

    >>> len(rprop(0.1).init({"w": 0.0}))
    2
    """
    return chain(tx.scale_by_rprop(learning_rate, eta_minus, eta_plus, min_step_size,
                                   max_step_size), tx.scale(-1.0))


@_optimizer
def optimistic_gradient_descent(learning_rate: ScalarOrSchedule, alpha: float = 1.0,
                                beta: float = 1.0) -> GradientTransformationExtraArgs:
    """Optimistic gradient descent (Mokhtari et al., 2019), for min-max games.

    >>> len(optimistic_gradient_descent(0.1).init({"w": 0.0}))
    2
    """
    return chain(tx.scale_by_optimistic_gradient(alpha, beta), _lr(learning_rate))


@_optimizer
def optimistic_adam(learning_rate: float, optimism: float | None = None, b1: float = 0.9,
                    b2: float = 0.999, eps: float = 1e-8, eps_root: float = 0.0,
                    mu_dtype: Any = None, *, nesterov: bool = True
                    ) -> GradientTransformationExtraArgs:
    """Optimistic Adam (Daskalakis et al., 2018), optax's first form: the optimism term is
    scaled by `optimism` (default: the learning rate); schedules are not supported.

    >>> len(optimistic_adam(0.1).init({"w": 0.0}))
    3
    """
    if callable(learning_rate):
        raise OptimizerArgumentError("optimistic_adam takes a number as learning rate; use "
                         "optimistic_adam_v2 for schedules")
    optimism = learning_rate if optimism is None else optimism
    return chain(tx.scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
                 tx.scale_by_optimistic_gradient(learning_rate, optimism),
                 tx.scale_by_learning_rate(1.0))


@_optimizer
def optimistic_adam_v2(learning_rate: ScalarOrSchedule, *, alpha: float = 1.0,
                       beta: float = 1.0, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
                       eps_root: float = 0.0, mu_dtype: Any = None, nesterov: bool = True
                       ) -> GradientTransformationExtraArgs:
    """Optimistic Adam: Adam's direction, then `(alpha + beta) d - beta d_prev`, then `lr`.

    >>> len(optimistic_adam_v2(0.1).init({"w": 0.0}))
    3
    """
    return chain(tx.scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
                 tx.scale_by_optimistic_gradient(alpha, beta), _lr(learning_rate))


@_optimizer
def polyak_sgd(max_learning_rate: float = 1.0, scaling: ScalarOrSchedule = 1.0,
               f_min: float = 0.0, eps: float = 0.0, variant: str = "sps"
               ) -> GradientTransformationExtraArgs:
    """SGD with the Polyak step size (Loizou et al., 2021): `update(..., value=loss)`.

    >>> import numpy as np
    >>> opt = polyak_sgd()
    >>> float(opt.update({"w": np.float32(2)}, opt.init({"w": 0.0}), value=1.0)[0]["w"])
    -0.5
    """
    return chain(sgd(scaling), tx.scale_by_polyak(f_min, max_learning_rate, eps, variant))


_ZOOM = scale_by_zoom_linesearch(max_linesearch_steps=20, initial_guess_strategy="one")


@_optimizer
def lbfgs(learning_rate: ScalarOrSchedule = None, memory_size: int = 10,
          scale_init_precond: bool = True,
          linesearch: GradientTransformation | None = _ZOOM
          ) -> GradientTransformationExtraArgs:
    """L-BFGS (Nocedal & Wright, Algorithm 7.5) with a zoom line search: call
    `update(grads, state, params, value=f(params), grad=grads, value_fn=f)`, and get the
    value and gradient for the next step with `value_and_grad_from_state(f)`.

    >>> import numpy as np, fnad.numpy as fnp
    >>> from fnad.optim import apply_updates, value_and_grad_from_state
    >>> f = lambda w: fnp.sum((w - 2.0) ** 2); opt = lbfgs(); w = np.zeros(2); s = opt.init(w)
    >>> for _ in range(3):
    ...     v, g = value_and_grad_from_state(f)(w, state=s)
    ...     u, s = opt.update(g, s, w, value=v, grad=g, value_fn=f); w = apply_updates(w, u)
    >>> np.round(w, 4)
    array([2., 2.])
    """
    scaling = tx.scale(-1.0) if learning_rate is None else _lr(learning_rate)
    return chain(scale_by_lbfgs(memory_size, scale_init_precond), scaling,
                 _identity() if linesearch is None else linesearch)

