"""Helpers the example scripts share: the command-line parser (whole docstring and defaults in
--help), the data switch (8x8 digits by default, MNIST from IDX files with --data or
FNAD_DATA), the optimizer and schedule switches, the closing lines, and a one-thread BLAS
setting for their small matrices.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from typing import Any

from fnad import data, optim

# The optimizers --optimizer knows, with the learning rate each starts from relative to Adam's
# (an example's --lr default is Adam's; sgd to adamw reach 96-97% on the digits MLP in 5
# epochs): plain SGD needs far larger steps; LAMB and Adafactor scale each step by the
# parameters' norm (~0.1 here); Lion's sign steps are full-size, so it takes a 3-10x smaller
# rate than Adam.
OPTIMIZER_LR_SCALE = {"sgd": 100.0, "momentum": 30.0, "nesterov": 30.0, "adagrad": 50.0,
                      "rmsprop": 1.0, "adam": 1.0, "adamw": 1.0, "lamb": 10.0, "lion": 0.3,
                      "adafactor": 10.0}

SCHEDULES = {
    "constant": "the same rate throughout",
    "cosine": "half a cosine from the rate down to 0 over the run",
    "warmup_cosine": "linear warmup over the first tenth of the steps, then cosine to 0",
    "exponential": "decays by 100x over the run",
    "linear": "straight down to 0 over the run",
    "step": "divided by 10 after each third of the run",
    "inverse_time": "constant for one epoch, then decaying as 1/step",
}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """--help prints the module docstring as written and each option's default."""


def make_parser(doc: str | None) -> argparse.ArgumentParser:
    """A parser whose --help shows the example's whole docstring (its purpose, what a default
    run measured and how long it takes on 2 cores) and every default."""
    return argparse.ArgumentParser(description=doc, formatter_class=HelpFormatter)


def available_optimizers() -> list[str]:
    """The names in OPTIMIZER_LR_SCALE that this fnad.optim has."""
    return [name for name in OPTIMIZER_LR_SCALE if callable(getattr(optim, name, None))]


def optimizer_name(name: str) -> str:
    """argparse type of --optimizer: the name, if fnad.optim has that optimizer."""
    names = available_optimizers()
    available = ", ".join(names)
    if name not in OPTIMIZER_LR_SCALE:
        raise argparse.ArgumentTypeError(
            f"{name!r} is not one of the optimizers this example knows "
            f"({', '.join(OPTIMIZER_LR_SCALE)}); this fnad.optim has: {available}")
    if name not in names:
        raise argparse.ArgumentTypeError(
            f"this fnad.optim has no {name!r} (an older fnad?); it has: {available}")
    return name


def add_training_arguments(parser: argparse.ArgumentParser, epochs: int, batch_size: int = 32,
                           lr: float = 1e-3) -> None:
    """The options `mnist_mlp.train` reads, and --data; `lr` is Adam's learning rate."""
    parser.add_argument("--data", default=os.environ.get("FNAD_DATA"),
                        help="directory with the four MNIST IDX files (default: %(default)s, "
                             "from env FNAD_DATA; None: scikit-learn's 8x8 digits)")
    parser.add_argument("--epochs", type=int, default=epochs, help="passes over the data")
    parser.add_argument("--batch-size", type=int, default=batch_size, help="examples per step")
    parser.add_argument("--optimizer", type=optimizer_name, default="adam",
                        help="an fnad.optim optimizer: " + ", ".join(OPTIMIZER_LR_SCALE))
    scaled = ", ".join(f"{name} {lr * scale:g}" for name, scale in OPTIMIZER_LR_SCALE.items())
    parser.add_argument("--lr", type=float, default=None,
                        help=f"peak learning rate (default: %(default)s, meaning {lr:g} for "
                             f"Adam and, scaled alike, {scaled})")
    parser.add_argument("--schedule", choices=list(SCHEDULES), default="constant",
                        help="learning rate over the run: " + "; ".join(
                            f"{name}: {text}" for name, text in SCHEDULES.items()))
    parser.add_argument("--backend", choices=["auto", "numpy", "c"], default="auto",
                        help="the jit backend (auto: C when a compiler is found)")
    parser.add_argument("--seed", type=int, default=0, help="initialization and shuffling")
    parser.set_defaults(adam_lr=lr)


def learning_rate(args: argparse.Namespace) -> float:
    """--lr, or the example's Adam rate scaled for --optimizer."""
    if args.lr is not None:
        return args.lr
    return args.adam_lr * OPTIMIZER_LR_SCALE[args.optimizer]


def make_schedule(name: str, lr: float, steps_per_epoch: int, epochs: int) -> optim.Schedule:
    """The --schedule `name` peaking at `lr` over a run of `epochs` epochs."""
    total = max(steps_per_epoch * epochs, 1)
    if name == "constant":
        return optim.constant_schedule(lr)
    if name == "cosine":
        return optim.cosine_decay_schedule(lr, total)
    if name == "warmup_cosine":
        return optim.warmup_cosine_decay_schedule(0.0, lr, max(total // 10, 1), total)
    if name == "exponential":
        return optim.exponential_decay(lr, total, 0.01)
    if name == "linear":
        return optim.linear_schedule(lr, 0.0, total)
    if name == "step":
        return optim.step_decay(lr, max(total // 3, 1), 0.1)
    if name == "inverse_time":
        return optim.inverse_time_decay(lr, max(steps_per_epoch, 1))
    raise ValueError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}")


def make_optimizer(args: argparse.Namespace, steps_per_epoch: int
                   ) -> optim.GradientTransformation:
    """--optimizer at --lr, following --schedule over --epochs epochs."""
    schedule = make_schedule(args.schedule, learning_rate(args), steps_per_epoch, args.epochs)
    return getattr(optim, args.optimizer)(schedule)


def describe_training(args: argparse.Namespace) -> str:
    """What `make_optimizer` trains with, in words, for the closing lines."""
    return (f"{args.epochs} epochs of batch {args.batch_size}, {args.optimizer} at learning "
            f"rate {learning_rate(args):g}, {args.schedule} schedule")


def print_result(model: str, test_accuracy: float, n_test: int, train_seconds: float,
                 how: str) -> None:
    """The two closing lines every training example ends with."""
    print(f"\n{model}: final test accuracy {test_accuracy:.2%} "
          f"({round(test_accuracy * n_test)} of {n_test} test images)")
    print(f"training time {train_seconds:.1f} s ({how})")


def load_images(directory: str | None) -> tuple[str, Any]:
    """(name, ((x_train, y_train), (x_test, y_test))) with NCHW float32 images in [0, 1]."""
    if directory:
        return "MNIST", data.load_mnist(directory)
    return "digits", data.load_digits()


def one_blas_thread() -> contextlib.AbstractContextManager[Any]:
    """The examples multiply small matrices: on a couple of busy cores, BLAS threads cost far
    more than they save (the MLP's train step runs 5-10x faster on one thread). Needs
    threadpoolctl (installed with scikit-learn); without it, changes nothing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def add_plot_arguments(parser: argparse.ArgumentParser, default: str) -> None:
    """--out PATH (default `default`, in the current directory) and --svg."""
    parser.add_argument("--out", default=default,
                        help="the plot's path (.svg: the hand-drawn SVG)")
    parser.add_argument("--svg", action="store_true",
                        help="write the hand-drawn SVG even with matplotlib installed")


def plot_target(args: argparse.Namespace) -> tuple[str, bool, str | None]:
    """(the file to write, whether it is the hand-drawn SVG, a note when that is not what
    was asked: --svg, or matplotlib missing), its folder made."""
    out = args.out
    try:
        import matplotlib  # noqa: F401
        missing = False
    except ImportError:
        missing = True
    use_svg = args.svg or missing or out.endswith(".svg")
    path, note = out, None
    if use_svg and not out.endswith(".svg"):
        path = os.path.splitext(out)[0] + ".svg"
        why = "matplotlib is not installed" if missing else "--svg"
        note = f"{why}: wrote the hand-drawn SVG to {path} instead of {out}"
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    return path, use_svg, note
