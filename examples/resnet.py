"""A small residual network (He et al., 2016): a 3x3 conv stem, then basic blocks (two 3x3
convs with BatchNorm plus a shortcut), a strided block to halve the size, global average
pooling and a dense softmax layer; on the 8x8 digits (or MNIST with --data), trained by the
main demo's loop (`mnist_mlp.train`, Adam by default; --optimizer and --schedule pick
others), which threads BatchNorm's running statistics as explicit state. It ends with the
final test accuracy and the training time. The default run (widths 16 and 32, one block each,
10 epochs) reaches 98.1% test accuracy on the digits.

Default run: about 15 s on 2 shared CPU cores.
"""

from __future__ import annotations

import time

from _common import (
    add_training_arguments,
    describe_training,
    load_images,
    make_parser,
    one_blas_thread,
    print_result,
)
from mnist_mlp import train

import fnad.numpy as fnp
from fnad import nn

GlobalAvgPool = nn.stateless(lambda key, shape: ((shape[0], shape[1]), ()),
                             lambda params, x: fnp.mean(x, axis=(2, 3)))


def resnet(widths: list[int], blocks: int) -> nn.Layer:
    """`blocks` basic blocks per width; each new width starts with a stride-2 block."""
    layers = [nn.Conv2D(widths[0], 3, padding="SAME", use_bias=False), nn.BatchNorm(), nn.Relu]
    for i, width in enumerate(widths):
        layers += [nn.BasicBlock(width, strides=2 if i else 1)]
        layers += [nn.BasicBlock(width) for _ in range(blocks - 1)]
    return nn.serial(*layers, GlobalAvgPool, nn.Dense(10))


def main(argv: list[str] | None = None) -> tuple[float, float]:
    """Train the ResNet; returns the final (train accuracy, test accuracy)."""
    p = make_parser(__doc__)
    add_training_arguments(p, epochs=10)
    p.add_argument("--widths", type=int, nargs="+", default=[16, 32],
                   help="channels of each stage; every stage after the first halves the size")
    p.add_argument("--blocks", type=int, default=1, help="basic blocks per width")
    args = p.parse_args(argv)
    name, splits = load_images(args.data)
    print(f"{name}: ResNet with widths {args.widths}, {args.blocks} block(s) each")
    start = time.perf_counter()
    with one_blas_thread():
        accs = train(resnet(args.widths, args.blocks), splits, args)
    print_result("ResNet", accs[1], len(splits[1][1]), time.perf_counter() - start,
                 describe_training(args))
    return accs


if __name__ == "__main__":
    main()
