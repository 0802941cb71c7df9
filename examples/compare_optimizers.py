"""Train the same MLP (64 -> 128 ReLU -> 10) on the 8x8 digits with several optimizers from
`fnad.optim` and plot their training-loss curves in one PNG (`optimizers.png` in the current
directory): matplotlib draws it when installed, otherwise a small built-in PNG writer does.

Every optimizer starts from the same initial parameters and sees the same minibatches, so
the curves differ only by the update rule. Measured on 2 shared CPU cores: the default run
(8 optimizers, 4 epochs of batch 32, 176 steps each) takes about 15 s; momentum, nesterov,
adam, adamw and lamb end near 0.08, adafactor at 0.11, plain sgd at 0.32 and lion (at its
small default rate) at 0.5.

Default run: about 15 s on 2 shared CPU cores.
"""

from __future__ import annotations

import math
import struct
import time
import zlib
from typing import Any

import numpy as np
from _common import load_images, make_parser, one_blas_thread

import fnad
from fnad import data, nn, optim, random

# optimizer name -> learning rate that suits it on this problem
LEARNING_RATES = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adam": 5e-3, "adamw": 5e-3,
                  "lamb": 1e-2, "lion": 5e-4, "adafactor": 2e-2, "rmsprop": 2e-3,
                  "adagrad": 0.05, "radam": 5e-3, "nadam": 5e-3, "adabelief": 5e-3}
DEFAULT = ["sgd", "momentum", "nesterov", "adam", "adamw", "lamb", "lion", "adafactor"]
COLORS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189),
          (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
TITLE = "Training loss on the 8x8 digits by optimizer"
X_LABEL, Y_LABEL = "step", "training loss (moving average)"


def make_optimizer(name: str, lr: float) -> optim.GradientTransformation:
    """The optimizer `name` of fnad.optim at learning rate `lr`."""
    return getattr(optim, name)(lr)


def train(name: str, lr: float, splits: Any, epochs: int, batch_size: int, seed: int
          ) -> list[float]:
    """The loss of every training step of the MLP under optimizer `name`."""
    (x_train, y_train), _ = splits
    net = nn.serial(nn.Flatten, nn.Dense(128), nn.Relu, nn.Dense(10))
    _, params, state = net.init(random.key(seed), (-1, *x_train.shape[1:]))
    opt = make_optimizer(name, lr)
    opt_state = opt.init(params)

    def loss_fn(params: Any, x: Any, y: Any) -> Any:
        return nn.softmax_cross_entropy(net.apply(params, state, x)[0], y)

    @fnad.jit
    def step(params: Any, opt_state: Any, x: Any, y: Any) -> Any:
        loss, grads = fnad.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss

    losses = []
    for epoch in range(epochs):
        key = random.fold_in(random.key(seed + 1), epoch)  # the same batches for everyone
        for x, y in data.batches(key, (x_train, y_train), batch_size, drop_last=True):
            params, opt_state, loss = step(params, opt_state, x, y)
            losses.append(float(loss))
    return losses


def smooth(values: list[float], window: int) -> list[float]:
    """The trailing moving average over `window` steps (fewer at the start)."""
    sums = np.cumsum([0.0, *values])
    return [(sums[i + 1] - sums[max(0, i + 1 - window)]) / min(i + 1, window)
            for i in range(len(values))]


def plot_matplotlib(curves: dict[str, list[float]], path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5))
    for (name, ys), color in zip(curves.items(), COLORS):
        ax.plot(range(1, len(ys) + 1), ys, label=name, color=np.array(color) / 255)
    ax.set(title=TITLE, xlabel=X_LABEL, ylabel=Y_LABEL, yscale="log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# A 5x7 bitmap font for the built-in writer: each glyph is 7 rows of 5 bits (high bit left).
_GLYPHS = {
    "0": "0e11131519110e", "1": "040c040404040e", "2": "0e11010204081f", "3": "1f02040201110e",
    "4": "02060a121f0202", "5": "1f101e0101110e", "6": "0608101e11110e", "7": "1f010204080808",
    "8": "0e11110e11110e", "9": "0e11110f01020c", "a": "00000e010f110f", "b": "1010161911111e",
    "c": "00000e1010110e", "d": "01010d1311110f", "e": "00000e111f100e", "f": "0609081c080808",
    "g": "000f11110f010e", "h": "10101619111111", "i": "04000c0404040e", "j": "0200060202120c",
    "k": "10101214181412", "l": "0c04040404040e", "m": "00001a15151111", "n": "00001619111111",
    "o": "00000e1111110e", "p": "00001e111e1010", "q": "00000d130f0101", "r": "00001619101010",
    "s": "00000e100e011e", "t": "08081c08080906", "u": "0000111111130d", "v": "00001111110a04",
    "w": "0000111115150a", "x": "0000110a040a11", "y": "000011110f010e", "z": "00001f0204081f",
    " ": "00000000000000", ".": "00000000000c0c", "-": "0000001f000000", "(": "02040808080402",
    ")": "08040202020408", "+": "0004041f040400", "=": "00001f001f0000", ":": "000c0c000c0c00",
}


def _glyph(ch: str) -> np.ndarray:
    code = _GLYPHS.get(ch.lower(), _GLYPHS[" "])
    rows = [int(code[i:i + 2], 16) for i in range(0, 14, 2)]
    return np.array([[(r >> (4 - c)) & 1 for c in range(5)] for r in rows], bool)


def text_mask(text: str, scale: int = 2) -> np.ndarray:
    """`text` rendered in the 5x7 font (one blank column between glyphs), scaled up."""
    mask = np.concatenate([np.pad(_glyph(ch), ((0, 0), (0, 1))) for ch in text], axis=1)
    return np.kron(mask, np.ones((scale, scale), bool))


class Canvas:
    """An RGB image with the few drawing operations a line plot needs, saved as PNG."""

    def __init__(self, width: int, height: int) -> None:
        self.pixels = np.full((height, width, 3), 255, np.uint8)

    def text(self, text: str, x: float, y: float, color: tuple = (0, 0, 0), anchor: str = "left",
             vertical: bool = False) -> None:
        mask = text_mask(text)
        if vertical:
            mask = np.rot90(mask)
        h, w = mask.shape
        x0 = int(x - (w / 2 if anchor == "center" else w if anchor == "right" else 0))
        y0 = int(y - h / 2)
        region = self.pixels[max(y0, 0):y0 + h, max(x0, 0):x0 + w]
        region[mask[:region.shape[0], :region.shape[1]]] = color

    def line(self, x0: float, y0: float, x1: float, y1: float, color: tuple, width: int = 1
             ) -> None:
        n = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
        xs = np.rint(np.linspace(x0, x1, n)).astype(int)
        ys = np.rint(np.linspace(y0, y1, n)).astype(int)
        h, w, _ = self.pixels.shape
        for dx in range(width):
            for dy in range(width):
                ok = (xs + dx < w) & (ys + dy < h)
                self.pixels[ys[ok] + dy, xs[ok] + dx] = color

    def save_png(self, path: str) -> None:
        h, w, _ = self.pixels.shape
        raw = b"".join(b"\x00" + self.pixels[r].tobytes() for r in range(h))

        def chunk(kind: bytes, body: bytes) -> bytes:
            return (struct.pack(">I", len(body)) + kind + body
                    + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

        with open(path, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0,
                                                                          0, 0))
                    + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def plot_png(curves: dict[str, list[float]], path: str, width: int = 800, height: int = 500
             ) -> None:
    """Loss curves (log scale) with title, axis labels, ticks and a legend, drawn by hand."""
    c = Canvas(width, height)
    left, right, top, bottom = 110, width - 20, 50, height - 60
    steps = max(len(v) for v in curves.values())
    lo = math.log10(min(min(v) for v in curves.values()))
    hi = math.log10(max(max(v) for v in curves.values()))
    px = lambda i: left + (right - left) * i / max(steps - 1, 1)
    py = lambda v: bottom - (bottom - top) * (math.log10(v) - lo) / ((hi - lo) or 1)
    for x0, y0, x1, y1 in ((left, top, left, bottom), (left, bottom, right, bottom)):
        c.line(x0, y0, x1, y1, (0, 0, 0))
    for k in range(5):  # ticks
        i = round(k * (steps - 1) / 4)
        c.line(px(i), bottom, px(i), bottom + 5, (0, 0, 0))
        c.text(str(i + 1), px(i), bottom + 16, anchor="center")
        v = 10 ** (lo + (hi - lo) * k / 4)
        c.line(left - 5, py(v), left, py(v), (0, 0, 0))
        c.text(f"{v:.2g}", left - 8, py(v), anchor="right")
    c.text(TITLE, width / 2, 22, anchor="center")
    c.text(X_LABEL, (left + right) / 2, height - 22, anchor="center")
    c.text(Y_LABEL, 16, (top + bottom) / 2, vertical=True)
    for k, ((name, ys), color) in enumerate(zip(curves.items(), COLORS)):
        points = [(px(i), py(v)) for i, v in enumerate(ys)]
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            c.line(x0, y0, x1, y1, color, width=2)
        y = top + 12 + 18 * k  # legend, top right
        c.line(right - 150, y, right - 120, y, color, width=3)
        c.text(name, right - 112, y)
    c.save_png(path)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train with each optimizer, print the final losses, write the plot; returns the raw
    per-step losses and the plot's path."""
    p = make_parser(__doc__)
    p.add_argument("--optimizers", nargs="+", default=DEFAULT, choices=sorted(LEARNING_RATES),
                   help="optimizers to compare, each at the learning rate that suits it")
    p.add_argument("--epochs", type=int, default=4, help="passes over the training set")
    p.add_argument("--batch-size", type=int, default=32, help="examples per step")
    p.add_argument("--seed", type=int, default=0, help="initial parameters and batch order")
    p.add_argument("--data", default=None, help="directory with the MNIST IDX files")
    p.add_argument("--out", default="optimizers.png", help="plot path (PNG)")
    p.add_argument("--no-matplotlib", action="store_true", help="use the built-in PNG writer")
    args = p.parse_args(argv)

    start = time.perf_counter()
    _, splits = load_images(args.data)
    losses = {}
    with one_blas_thread():
        for name in args.optimizers:
            losses[name] = train(name, LEARNING_RATES[name], splits, args.epochs,
                                 args.batch_size, args.seed)
            first, last = np.mean(losses[name][:5]), np.mean(losses[name][-5:])
            print(f"{name:<10} lr {LEARNING_RATES[name]:<7g} loss {first:.3f} -> {last:.3f}")
    window = max(1, min(len(v) for v in losses.values()) // 20)
    curves = {name: smooth(v, window) for name, v in losses.items()}
    try:
        if args.no_matplotlib:
            raise ImportError
        plot_matplotlib(curves, args.out)
    except ImportError:
        plot_png(curves, args.out)
    print(f"plot written to {args.out} in {time.perf_counter() - start:.1f}s")
    return {"losses": losses, "plot": args.out}


if __name__ == "__main__":
    main()
