"""fnad.optim: optax-style optimizers as pure `GradientTransformation(init, update)` pairs
over parameter pytrees, with chainable building blocks and learning-rate schedules.
"""

from fnad.optim.alias import adagrad, adam, adamw, momentum, nesterov, rmsprop, sgd
from fnad.optim.base import (
    EmptyState,
    GradientTransformation,
    apply_updates,
    chain,
    identity,
    stateless,
)
from fnad.optim.schedules import (
    Schedule,
    constant_schedule,
    cosine_decay_schedule,
    exponential_decay,
    inverse_time_decay,
    join_schedules,
    linear_schedule,
    piecewise_constant_schedule,
    step_decay,
    warmup_cosine_decay_schedule,
)
from fnad.optim.transforms import (
    ScaleByAdamState,
    ScaleByRmsState,
    ScaleByRssState,
    ScaleByScheduleState,
    TraceState,
    add_decayed_weights,
    add_l1_decay,
    clip,
    clip_by_global_norm,
    global_norm,
    scale,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_rms,
    scale_by_rss,
    scale_by_schedule,
    trace,
)
