"""Helpers the example scripts share: the data switch (8x8 digits by default, MNIST from IDX
files with --data or FNAD_DATA) and a one-thread BLAS setting for their small matrices.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from typing import Any

from fnad import data


def add_training_arguments(parser: argparse.ArgumentParser, epochs: int, batch_size: int = 32,
                           lr: float = 1e-3) -> None:
    """The options `mnist_mlp.train` reads, and --data."""
    parser.add_argument("--data", default=os.environ.get("FNAD_DATA"),
                        help="directory with the four MNIST IDX files (default: env FNAD_DATA, "
                             "else scikit-learn's 8x8 digits)")
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--lr", type=float, default=lr, help="Adam's learning rate")
    parser.add_argument("--backend", choices=["auto", "numpy", "c"], default="auto",
                        help="the jit backend")
    parser.add_argument("--seed", type=int, default=0)


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
