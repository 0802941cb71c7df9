"""The training loop: it trains, reports progress as plain text, and stops early keeping the
best state."""

from __future__ import annotations

import io

import numpy as np

import fnad
from fnad import data, nn, optim, random

RNG = np.random.default_rng(0)
X = RNG.standard_normal((96, 4)).astype(np.float32)
Y = (X @ np.array([1.0, -2.0, 0.5, 0.0], np.float32) > 0).astype(np.int32)


def make_step(model, state, opt):
    def loss_fn(params, batch):
        logits, _ = model.apply(params, state, batch["x"])
        return nn.softmax_cross_entropy(logits, batch["y"])

    def step(carry, batch, key):
        params, opt_state = carry
        loss, grads = fnad.value_and_grad(loss_fn)(params, batch)
        updates, opt_state = opt.update(grads, opt_state, params)
        return (optim.apply_updates(params, updates), opt_state), {"loss": loss}

    return fnad.jit(step), loss_fn


def test_fit_trains_and_reports():
    model = nn.serial(nn.Dense(8), nn.Relu, nn.Dense(2))
    _, params, state = model.init(random.key(0), (-1, 4))
    opt = optim.adam(0.05)
    step, loss_fn = make_step(model, state, opt)
    out = io.StringIO()
    result = data.fit(step, (params, opt.init(params)), {"x": X, "y": Y}, key=random.key(1),
                      epochs=5, batch_size=16,
                      evaluate=lambda c: {"loss": loss_fn(c[0], {"x": X, "y": Y})}, file=out)
    assert not result.stopped_early and len(result.history) == 5
    losses = [h["val_loss"] for h in result.history]
    assert losses[-1] < 0.5 * losses[0]
    lines = out.getvalue().splitlines()
    assert len(lines) == 5 and lines[0].startswith("epoch 1/5 [") and "6/6" in lines[0]
    assert "loss=" in lines[-1] and "val_loss=" in lines[-1]


def test_early_stopping_keeps_the_best_carry():
    # a "step" that counts, with a validation metric that is best at epoch 2 and then worsens
    scores = [5.0, 3.0, 1.0, 2.0, 4.0, 6.0, 0.5, 0.1]
    result = data.fit(lambda c, b, k: (c + 1, {"loss": 0.0}), 0, {"x": X}, key=random.key(0),
                      epochs=8, batch_size=32, evaluate=lambda c: {"loss": scores[c // 3 - 1]},
                      patience=3, verbose=False)
    assert result.stopped_early and result.best_epoch == 2 and len(result.history) == 6
    assert result.carry == 9  # 3 steps per epoch, after epoch index 2
    result = data.fit(lambda c, b, k: (c + 1, {"acc": 1.0 * c}), 0, {"x": X}, key=random.key(0),
                      epochs=3, batch_size=32, monitor="acc", mode="max", verbose=False)
    assert result.best_epoch == 2 and not result.stopped_early


def test_progress_bar_text():
    out = io.StringIO()
    bar = data.ProgressBar(4, "go ", width=8, file=out)
    bar.update(2, loss=0.5)
    assert out.getvalue() == ""  # not a terminal: one line at the end only
    bar.update(2)
    bar.close(loss=0.25)
    assert out.getvalue().startswith("go [########] 4/4 loss=0.25 (")
