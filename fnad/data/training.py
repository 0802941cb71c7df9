"""A small training loop: epochs of shuffled minibatches through a user's pure `step`, a
plain-text progress bar, evaluation after each epoch, and early stopping that keeps the
best state seen.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import IO, Any, NamedTuple

import numpy as np

from fnad import random
from fnad.core.errors import ArgumentError
from fnad.data.batching import batches, num_examples


class ProgressBar:
    """`epoch 2/5 [########..........] 40/100 loss=0.4123 (1.2s)` on one line: redrawn in
    place on a terminal, written once when finished otherwise (so logs stay readable)."""

    def __init__(self, total: int, prefix: str = "", width: int = 24,
                 file: IO[str] | None = None):
        self.total, self.prefix, self.width = total, prefix, width
        self.file = sys.stderr if file is None else file
        self.count, self.start = 0, time.perf_counter()
        self.live = getattr(self.file, "isatty", lambda: False)()

    def render(self, metrics: dict[str, float]) -> str:
        filled = self.width * self.count // max(self.total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        stats = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
        return (f"{self.prefix}[{bar}] {self.count}/{self.total} {stats} "
                f"({time.perf_counter() - self.start:.1f}s)").replace("  ", " ")

    def update(self, n: int = 1, **metrics: float) -> None:
        self.count += n
        if self.live:
            self.file.write("\r" + self.render(metrics))
            self.file.flush()

    def close(self, **metrics: float) -> None:
        self.file.write(("\r" if self.live else "") + self.render(metrics) + "\n")
        self.file.flush()


class FitResult(NamedTuple):
    """The best `carry` (lowest/highest validation metric; the last one without
    validation), its epoch (from 0), the per-epoch history, and whether training stopped
    early."""

    carry: Any
    best_epoch: int
    history: list[dict[str, float]]
    stopped_early: bool


def fit(step: Callable[[Any, Any, Any], tuple[Any, dict[str, Any]]], carry: Any,
        train_data: Any, *, key: Any, epochs: int, batch_size: int,
        evaluate: Callable[[Any], dict[str, Any]] | None = None, monitor: str = "loss",
        mode: str = "min", patience: int | None = None, drop_last: bool = True,
        file: IO[str] | None = None, verbose: bool = True) -> FitResult:
    """Train: for each epoch, `carry, metrics = step(carry, batch, key)` over minibatches of
    `train_data` shuffled by `key` (each step gets its own key), then `evaluate(carry)` ->
    dict of validation metrics. With `patience`, stop once `monitor` (a key of evaluate's
    dict, or of the mean training metrics without `evaluate`) has not improved (`mode`
    "min" or "max") for `patience` epochs; the best carry is returned.

    `carry` is any pytree (params, optimizer state, model state...), and `step` a pure
    function of it, typically jitted.
    """
    if mode not in ("min", "max"):
        raise ArgumentError(f"mode must be 'min' or 'max', got {mode!r}")
    n = num_examples(train_data)
    per_epoch = n // batch_size if drop_last else math.ceil(n / batch_size)
    sign = 1.0 if mode == "min" else -1.0
    best, best_carry, best_epoch, waited, history = math.inf, carry, -1, 0, []
    for epoch in range(epochs):
        epoch_key = random.fold_in(key, epoch)
        bar = ProgressBar(per_epoch, f"epoch {epoch + 1}/{epochs} ", file=file) \
            if verbose else None
        sums: dict[str, float] = {}
        for i, batch in enumerate(batches(random.fold_in(epoch_key, 0), train_data, batch_size,
                                          drop_last)):
            carry, metrics = step(carry, batch, random.fold_in(random.fold_in(epoch_key, 1), i))
            for k, v in metrics.items():
                sums[k] = sums.get(k, 0.0) + float(np.asarray(v))
            if bar is not None:
                bar.update(**{k: s / (i + 1) for k, s in sums.items()})
        record = {k: s / max(per_epoch, 1) for k, s in sums.items()}
        if evaluate is not None:
            record.update({f"val_{k}": float(np.asarray(v)) for k, v in evaluate(carry).items()})
        history.append(record)
        if bar is not None:
            bar.close(**record)
        name = f"val_{monitor}" if evaluate is not None else monitor
        if name not in record:
            raise KeyError(f"fit monitors {name!r}, but the metrics are {sorted(record)}")
        value = sign * record[name]
        if value < best:
            best, best_carry, best_epoch, waited = value, carry, epoch, 0
        else:
            waited += 1
            if patience is not None and waited >= patience:
                return FitResult(best_carry, best_epoch, history, True)
    return FitResult(best_carry, best_epoch, history, False)


__all__ = ["FitResult", "ProgressBar", "fit"]
