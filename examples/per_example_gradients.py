"""Per-example gradients with `vmap(grad(loss))`: one batched program instead of a Python loop
of per-example `grad` calls (checked to agree), and what they are for: DP-SGD (Abadi et al.,
2016), which clips each example's gradient to norm C and adds Gaussian noise before
averaging, so that no single example can move the model much.

Measured on 2 shared CPU cores, MLP 64-128-10 on the digits, batch 64: the jitted vmap takes
1-2 ms against 7-12 ms for the loop of jitted per-example grads (5-9x), agreeing to float32
rounding (5e-7); DP-SGD (C = 1, noise 1.0) then reaches 93.3% test accuracy in 300 steps.

Default run: about 8 s on 2 shared CPU cores.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from _common import load_images, make_parser, one_blas_thread

import fnad
import fnad.numpy as fnp
from fnad import data, nn, random
from fnad.tree import tree_leaves, tree_map


def median_ms(fn: Callable[[], Any], repeats: int = 5) -> float:
    fn()  # compile
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Compare vmap against a loop, then train with DP-SGD; returns the measurements."""
    p = make_parser(__doc__)
    p.add_argument("--batch-size", type=int, default=64, help="examples per step")
    p.add_argument("--hidden", type=int, default=128, help="hidden units of the MLP")
    p.add_argument("--steps", type=int, default=300, help="DP-SGD steps")
    p.add_argument("--lr", type=float, default=0.5, help="SGD's learning rate")
    p.add_argument("--clip", type=float, default=1.0, help="per-example gradient norm bound C")
    p.add_argument("--noise", type=float, default=1.0, help="noise std as a multiple of C")
    p.add_argument("--seed", type=int, default=0, help="initialization, batches and noise")
    args = p.parse_args(argv)

    _, ((x_train, y_train), (x_test, y_test)) = load_images(None)
    x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    net = nn.serial(nn.Dense(args.hidden), nn.Relu, nn.Dense(10))
    _, params, state = net.init(random.key(args.seed), (-1, x_train.shape[1]))

    def loss(params: Any, x: Any, y: Any) -> Any:
        """The loss of ONE example (x: (features,), y: ()); vmap adds the batch axis."""
        logits, _ = net.apply(params, state, x[None])
        return nn.softmax_cross_entropy(logits, y[None])

    per_example = fnad.jit(fnad.vmap(fnad.grad(loss), in_axes=(None, 0, 0)))
    one = fnad.jit(fnad.grad(loss))

    def loop(params: Any, x: np.ndarray, y: np.ndarray) -> Any:
        grads = [one(params, xi, yi) for xi, yi in zip(x, y)]
        return tree_map(lambda *g: np.stack(g), *grads)

    xb, yb = x_train[:args.batch_size], y_train[:args.batch_size]
    with one_blas_thread():
        diff = max(float(np.max(np.abs(a - b))) for a, b in
                   zip(tree_leaves(per_example(params, xb, yb)), tree_leaves(loop(params, xb, yb))))
        t_vmap = median_ms(lambda: per_example(params, xb, yb))
        t_loop = median_ms(lambda: loop(params, xb, yb), repeats=3)
    print(f"{args.batch_size} per-example gradients: vmap(grad) {t_vmap:.2f} ms, loop of grad "
          f"{t_loop:.2f} ms ({t_loop / t_vmap:.1f}x); max |difference| = {diff:.1e}")

    @fnad.jit
    def dp_sgd_step(params: Any, x: Any, y: Any, key: Any) -> Any:
        grads = fnad.vmap(fnad.grad(loss), in_axes=(None, 0, 0))(params, x, y)
        norms = fnp.sqrt(sum(fnp.sum(fnp.reshape(g * g, (g.shape[0], -1)), axis=1)
                             for g in tree_leaves(grads)))
        factor = fnp.minimum(1.0, args.clip / (norms + 1e-12))  # clip each example to C
        leaves = tree_leaves(params)
        keys = [random.fold_in(key, i) for i in range(len(leaves))]
        noisy = [fnp.sum(fnp.reshape(factor, (-1,) + (1,) * (g.ndim - 1)) * g, axis=0)
                 + args.noise * args.clip * random.normal(k, g.shape[1:])
                 for g, k in zip(tree_leaves(grads), keys)]
        it = iter(noisy)
        return tree_map(lambda w: w - args.lr * next(it) / x.shape[0], params)

    @fnad.jit
    def accuracy(params: Any, x: Any, y: Any) -> Any:
        logits, _ = net.apply(params, state, x)
        return fnp.mean(fnp.asarray(fnp.argmax(logits, axis=-1) == y, np.float32))

    key, step = random.key(args.seed + 1), 0
    with one_blas_thread():
        while step < args.steps:
            for x, y in data.batches(random.fold_in(key, step), (x_train, y_train),
                                     args.batch_size, drop_last=True):
                params = dp_sgd_step(params, x, y, random.fold_in(key, -1 - step))
                step += 1
                if step == args.steps:
                    break
        acc = float(accuracy(params, x_test, y_test))
    print(f"DP-SGD, {args.steps} steps (clip C={args.clip}, noise {args.noise}C): "
          f"test accuracy {acc:.1%}")
    return {"vmap_ms": t_vmap, "loop_ms": t_loop, "max_difference": diff, "test_accuracy": acc}


if __name__ == "__main__":
    main()
