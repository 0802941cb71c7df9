"""Gaussian-process regression with hyperparameters fitted by gradient: the RBF kernel's
lengthscale and variance and the noise level maximize the log marginal likelihood

    log p(y | X) = -1/2 y^T K^-1 y - 1/2 log det K - n/2 log 2 pi,   K = k(X, X) + noise^2 I,

computed through a Cholesky factor (fnad.scipy.linalg.cho_factor / cho_solve; log det K is
twice the sum of the log diagonal of L). One jitted `value_and_grad` step differentiates
through the factorization; Adam walks the three log-parameters. Then the posterior mean and
+-2 standard deviations on a grid (triangular solves against L) are plotted with the data
to gaussian_process.png in the current directory (--out to change it; with --svg or without
matplotlib, an SVG drawn by hand, named .svg).

Measured (60 noisy samples of sin(x) + 0.3 sin(3x), noise 0.2; float64; 2 shared CPU
cores): the negative log marginal likelihood falls from 35.8 to 12.9 within 60 steps and
stays; the fitted noise is 0.21 (the data's: 0.2), the lengthscale 0.79, the variance 0.47;
150 jitted steps take under a second.

Default run: about 3 s on 2 shared CPU cores.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from _common import add_plot_arguments, make_parser, one_blas_thread, plot_target

import fnad
import fnad.numpy as fnp
from fnad import optim
from fnad.scipy.linalg import cho_factor, cho_solve, solve_triangular

JITTER = 1e-8  # keeps K positive definite in floating point whatever the noise


def target(x: np.ndarray) -> np.ndarray:
    return np.sin(x) + 0.3 * np.sin(3 * x)


def make_data(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-5, 5, n))
    return x, target(x) + noise * rng.standard_normal(n)


def rbf(a: Any, b: Any, lengthscale: Any, variance: Any) -> Any:
    """variance * exp(-|a - b|^2 / (2 lengthscale^2)) for every pair of 1-d points."""
    d = (a[:, None] - b[None, :]) / lengthscale
    return variance * fnp.exp(-0.5 * d * d)


def hyper(params: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(lengthscale, variance, noise) from their logs: positive whatever the step does."""
    return (fnp.exp(params["log_lengthscale"]), fnp.exp(params["log_variance"]),
            fnp.exp(params["log_noise"]))


def neg_log_marginal_likelihood(params: dict[str, Any], x: Any, y: Any) -> Any:
    """-log p(y | x, params) through one Cholesky factorization of K."""
    lengthscale, variance, noise = hyper(params)
    n = x.shape[0]
    k = rbf(x, x, lengthscale, variance) + (noise * noise + JITTER) * fnp.eye(n)
    factor = cho_factor(k, lower=True)
    alpha = cho_solve(factor, y)
    half_log_det = fnp.sum(fnp.log(fnp.diagonal(factor[0])))
    return 0.5 * y @ alpha + half_log_det + 0.5 * n * math.log(2 * math.pi)


def posterior(params: dict[str, Any], x: Any, y: Any, grid: Any) -> tuple[Any, Any]:
    """Mean and standard deviation of f(grid) given the data: K*^T K^-1 y and the prior
    variance less |L^-1 K*|^2 per grid point."""
    lengthscale, variance, noise = hyper(params)
    k = rbf(x, x, lengthscale, variance) + (noise * noise + JITTER) * fnp.eye(x.shape[0])
    factor = cho_factor(k, lower=True)
    cross = rbf(x, grid, lengthscale, variance)
    mean = cross.T @ cho_solve(factor, y)
    v = solve_triangular(factor[0], cross, lower=True)
    var = variance - fnp.sum(v * v, axis=0)
    return mean, fnp.sqrt(fnp.maximum(var, 0.0))


def fit(x: np.ndarray, y: np.ndarray, steps: int, lr: float, every: int
        ) -> tuple[dict[str, Any], list[float]]:
    """Adam on the log-parameters; prints the objective as it falls."""
    params = {"log_lengthscale": np.float64(0.0), "log_variance": np.float64(0.0),
              "log_noise": np.float64(math.log(0.5))}
    opt = optim.adam(lr)
    state = opt.init(params)

    @fnad.jit
    def step(params: dict[str, Any], state: Any) -> tuple[Any, Any, Any]:
        loss, grads = fnad.value_and_grad(neg_log_marginal_likelihood)(params, x, y)
        updates, state = opt.update(grads, state, params)
        return optim.apply_updates(params, updates), state, loss

    history = []
    for i in range(steps + 1):
        if i == steps:  # the objective at the final parameters
            history.append(float(neg_log_marginal_likelihood(params, x, y)))
            break
        params, state, loss = step(params, state)
        history.append(float(loss))
        if i % every == 0:
            ls, var, noise = (float(v) for v in hyper(params))
            print(f"step {i:4d}  -log p(y|X) {history[-1]:9.3f}  lengthscale {ls:.3f}  "
                  f"variance {var:.3f}  noise {noise:.3f}")
    return params, history


def plot_matplotlib(x, y, grid, mean, std, truth, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.fill_between(grid, mean - 2 * std, mean + 2 * std, color="#9ecae1", alpha=0.6,
                    label="posterior mean +- 2 sd")
    ax.plot(grid, mean, color="#08519c", label="posterior mean")
    ax.plot(grid, truth, "--", color="#555555", label="true function")
    ax.plot(x, y, "o", color="#d62728", markersize=4, label="data")
    ax.set(xlabel="x", ylabel="y", title="Gaussian process, hyperparameters fitted by "
                                         "gradient of the marginal likelihood")
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_svg(x, y, grid, mean, std, truth, path: str, w: int = 800, h: int = 450,
             pad: int = 50) -> None:
    """The same plot as plain SVG: the band as a polygon, lines as polylines, data as dots."""
    lo = float(min((mean - 2 * std).min(), y.min(), truth.min()))
    hi = float(max((mean + 2 * std).max(), y.max(), truth.max()))

    def px(v):
        return pad + (v - grid[0]) / (grid[-1] - grid[0]) * (w - 2 * pad)

    def py(v):
        return h - pad - (v - lo) / (hi - lo) * (h - 2 * pad)

    def line(xs, ys):
        return " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(xs, ys))

    band = line(grid, mean + 2 * std) + " " + line(grid[::-1], (mean - 2 * std)[::-1])
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">Gaussian process, '
           'hyperparameters fitted by gradient of the marginal likelihood</text>',
           f'<rect x="{pad}" y="{pad}" width="{w - 2 * pad}" height="{h - 2 * pad}" '
           'fill="none" stroke="#333"/>',
           f'<polygon points="{band}" fill="#9ecae1" fill-opacity="0.6"/>',
           f'<polyline points="{line(grid, truth)}" fill="none" stroke="#555" '
           'stroke-dasharray="5,4"/>',
           f'<polyline points="{line(grid, mean)}" fill="none" stroke="#08519c" '
           'stroke-width="2"/>']
    out += [f'<circle cx="{px(a):.1f}" cy="{py(b):.1f}" r="3" fill="#d62728"/>'
            for a, b in zip(x, y)]
    for v in np.linspace(grid[0], grid[-1], 5):
        out.append(f'<text x="{px(v):.1f}" y="{h - pad + 16}" text-anchor="middle">{v:g}</text>')
    for v in np.linspace(lo, hi, 5):
        out.append(f'<text x="{pad - 6}" y="{py(v) + 4:.1f}" text-anchor="end">{v:.1f}</text>')
    legend = [("#9ecae1", "posterior mean +- 2 sd"), ("#08519c", "posterior mean"),
              ("#555", "true function"), ("#d62728", "data")]
    for i, (color, label) in enumerate(legend):
        ly = h - pad - 70 + 16 * i
        out.append(f'<rect x="{pad + 10}" y="{ly - 9}" width="18" height="10" '
                   f'fill="{color}"/>')
        out.append(f'<text x="{pad + 34}" y="{ly}">{label}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Fit, print the fitted hyperparameters, write the plot; returns the parameters, the
    objective's history, the posterior on the grid and the plot's path."""
    p = make_parser(__doc__)
    p.add_argument("--n", type=int, default=60, help="noisy samples")
    p.add_argument("--noise", type=float, default=0.2, help="the data's noise level")
    p.add_argument("--steps", type=int, default=150, help="Adam steps")
    p.add_argument("--lr", type=float, default=0.05, help="Adam's learning rate")
    p.add_argument("--seed", type=int, default=0, help="the data's seed")
    add_plot_arguments(p, "gaussian_process.png")
    args = p.parse_args(argv)
    path, use_svg, note = plot_target(args)
    x, y = make_data(args.n, args.noise, args.seed)
    with one_blas_thread():
        t0 = time.perf_counter()
        params, history = fit(x, y, args.steps, args.lr, max(args.steps // 10, 1))
        seconds = time.perf_counter() - t0
        grid = np.linspace(-6, 6, 200)
        mean, std = (np.asarray(v) for v in posterior(params, x, y, grid))
    ls, var, noise = (float(v) for v in hyper(params))
    rmse = float(np.sqrt(np.mean((mean - target(grid)) ** 2)))
    (plot_svg if use_svg else plot_matplotlib)(x, y, grid, mean, std, target(grid), path)
    print(f"\n{note or f'plot written to {path}'}")
    print(f"\n-log p(y|X): {history[0]:.3f} -> {history[-1]:.3f} in {args.steps} steps "
          f"({seconds:.1f} s)")
    print(f"fitted: lengthscale {ls:.3f}, variance {var:.3f}, noise {noise:.3f} (data's "
          f"noise {args.noise:g}); posterior mean RMSE to the true function {rmse:.3f}")
    return {"params": {"lengthscale": ls, "variance": var, "noise": noise},
            "history": history, "grid": grid, "mean": mean, "std": std, "rmse": rmse,
            "plot": path}


if __name__ == "__main__":
    main()
