"""Hessian-vector products by forward-over-reverse, `jvp(grad(f), (w,), (v,))`: the cost of a
few gradients, never forming the Hessian. Checked against the full `fnad.hessian(f)` times v
and against central differences of gradients, then used by Newton-CG (conjugate gradients
on H d = -g, one HVP per iteration) on L2-regularized multinomial logistic regression.

Measured (float64, digits, 650 parameters, 2 shared CPU cores): the HVP matches H v to 1e-15
and finite differences to 2e-10; one HVP takes ~1 ms against 200-500 ms for the full
Hessian; 6 Newton-CG steps take the gradient norm from 0.45 to 1e-9, the last ones
quadratically (3e-4, 4e-6, 1e-9).

Default run: about 5 s on 2 shared CPU cores.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from _common import load_images, make_parser, one_blas_thread

import fnad
import fnad.numpy as fnp
from fnad import nn


def make_loss(x: np.ndarray, y: np.ndarray, lam: float) -> Callable[[Any], Any]:
    """Mean cross-entropy of softmax(x W + b) plus lam/2 |w|^2, over one flat vector w."""
    d, k = x.shape[1], 10

    def loss(w: Any) -> Any:
        logits = x @ fnp.reshape(w[:d * k], (d, k)) + w[d * k:]
        return nn.softmax_cross_entropy(logits, y) + 0.5 * lam * fnp.sum(w * w)

    return loss


def conjugate_gradient(hvp: Callable[[np.ndarray], np.ndarray], b: np.ndarray, iters: int,
                       tol: float) -> tuple[np.ndarray, int]:
    """Solve H d = b for symmetric positive definite H, given only v -> H v."""
    d, r = np.zeros_like(b), b.copy()
    p, rs = r.copy(), r @ r
    for i in range(iters):
        hp = hvp(p)
        alpha = rs / (p @ hp)
        d, r = d + alpha * p, r - alpha * hp
        rs_new = r @ r
        if np.sqrt(rs_new) < tol:
            return d, i + 1
        p, rs = r + rs_new / rs * p, rs_new
    return d, iters


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    fn()  # compile
    t0 = time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - t0) * 1e3


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Check the HVP three ways, then run Newton-CG; returns errors and gradient norms."""
    p = make_parser(__doc__)
    p.add_argument("--newton-steps", type=int, default=6, help="Newton-CG steps")
    p.add_argument("--cg-iters", type=int, default=100,
                   help="most conjugate-gradient iterations (HVPs) per Newton step")
    p.add_argument("--lam", type=float, default=1e-3, help="L2 coefficient")
    p.add_argument("--examples", type=int, default=0, help="use only this many (0: all)")
    args = p.parse_args(argv)

    _, ((x, y), _) = load_images(None)
    x = x.reshape(len(x), -1).astype(np.float64)
    if args.examples:
        x, y = x[:args.examples], y[:args.examples]
    loss = make_loss(x, y, args.lam)
    grad = fnad.jit(fnad.grad(loss))
    hvp = fnad.jit(lambda w, v: fnad.jvp(fnad.grad(loss), (w,), (v,))[1])
    hessian = fnad.jit(fnad.hessian(loss))

    rng = np.random.default_rng(0)
    w = rng.standard_normal(x.shape[1] * 10 + 10) * 0.01
    v = rng.standard_normal(w.shape)
    eps = 1e-5
    with one_blas_thread():
        hv, t_hvp = timed(lambda: np.asarray(hvp(w, v)))
        h, t_hess = timed(lambda: np.asarray(hessian(w)))
        fd = (np.asarray(grad(w + eps * v)) - np.asarray(grad(w - eps * v))) / (2 * eps)
        errors = {"full Hessian": float(np.max(np.abs(hv - h @ v))),
                  "finite differences": float(np.max(np.abs(hv - fd)))}
        print(f"{w.size} parameters; HVP {t_hvp:.2f} ms, full Hessian {t_hess:.1f} ms")
        for name, err in errors.items():
            print(f"max |HVP - {name}| = {err:.1e}")

        print(f"\n{'step':>4} {'loss':>10} {'|gradient|':>11} {'CG iterations':>14}")
        norms = []
        w = np.zeros_like(w)
        for step in range(args.newton_steps + 1):
            g = np.asarray(grad(w))
            norms.append(float(np.linalg.norm(g)))
            if step == args.newton_steps:
                print(f"{step:>4} {float(loss(w)):>10.6f} {norms[-1]:>11.2e}")
                break
            # solve more exactly as the gradient shrinks: quadratic convergence near the end
            tol = norms[-1] * min(0.1, norms[-1])
            d, iters = conjugate_gradient(lambda u, w=w: np.asarray(hvp(w, u)), -g,
                                          args.cg_iters, tol)
            print(f"{step:>4} {float(loss(w)):>10.6f} {norms[-1]:>11.2e} {iters:>14}")
            w = w + d
    return {"errors": errors, "grad_norms": norms, "hvp_ms": t_hvp, "hessian_ms": t_hess}


if __name__ == "__main__":
    main()
