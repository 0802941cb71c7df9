"""A spectral convolution layer (the building block of Fourier neural operators) learning the
solution operator of the heat equation u_t = nu u_xx on a periodic grid. The layer maps u to
irfft(W * rfft(u)[:modes]): one complex weight per kept frequency, stored as real and
imaginary parts and trained by Adam (cosine-decayed rate) through `fnad.numpy.fft` (rfft and irfft are linear
primitives with transpose rules, so the gradient is exact). The data are random smooth
initial conditions u(0) and their solutions u(T) with a little noise; the exact operator
multiplies frequency k by exp(-nu k^2 T), and the learned weights are compared with it at
the end.

Measured (64 grid points, 16 kept modes, batches of 32, 2 shared CPU cores): the mean
squared error falls from 4e-2 to 1.2e-4 (the noise's level, 1e-4) in 300 jitted steps
(under a second), and the learned multipliers match exp(-nu k^2 T) to 0.002 in every
kept frequency.

Default run: about 3 s on 2 shared CPU cores.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from _common import make_parser, one_blas_thread

import fnad
import fnad.numpy as fnp
from fnad import optim


def exact_multipliers(n: int, nu: float, t: float) -> np.ndarray:
    """What the heat equation does to each rfft frequency k = 0..n/2 over time t."""
    k = np.arange(n // 2 + 1)
    return np.exp(-nu * k ** 2 * t)


def make_batch(rng: np.random.Generator, batch: int, n: int, nu: float, t: float,
               noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Random smooth periodic u(0) (Fourier amplitudes decaying as 1/(1 + k)) and the
    noisy solutions u(t)."""
    k = np.arange(n // 2 + 1)
    spectrum = (rng.standard_normal((batch, k.size)) + 1j * rng.standard_normal((batch, k.size)))
    spectrum = spectrum / (1 + k) * n / 4
    u0 = np.fft.irfft(spectrum, n)
    ut = np.fft.irfft(np.fft.rfft(u0) * exact_multipliers(n, nu, t), n)
    return u0, ut + noise * rng.standard_normal(ut.shape)


def spectral_layer(params: dict[str, Any], u: Any, modes: int) -> Any:
    """irfft of the lowest `modes` frequencies of u times the complex weights (the higher
    ones dropped), back on u's grid."""
    n = u.shape[-1]
    weights = params["re"] + 1j * params["im"]
    kept = fnp.fft.rfft(u)[..., :modes] * weights
    return fnp.fft.irfft(kept, n)  # irfft pads the dropped frequencies with zeros


def loss_fn(params: dict[str, Any], u0: Any, ut: Any, modes: int) -> Any:
    return fnp.mean((spectral_layer(params, u0, modes) - ut) ** 2)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train, printing the loss as it falls; returns the loss history and the largest
    difference between the learned and the exact multipliers."""
    p = make_parser(__doc__)
    p.add_argument("--n", type=int, default=64, help="grid points")
    p.add_argument("--modes", type=int, default=16, help="frequencies the layer keeps")
    p.add_argument("--batch", type=int, default=32, help="signals per step")
    p.add_argument("--steps", type=int, default=300, help="Adam steps")
    p.add_argument("--lr", type=float, default=0.05,
                   help="Adam's learning rate at the start (cosine decay to 0)")
    p.add_argument("--nu", type=float, default=0.01, help="diffusivity")
    p.add_argument("--time", type=float, default=1.0, help="how far the operator steps")
    p.add_argument("--noise", type=float, default=0.01, help="noise on the targets")
    p.add_argument("--seed", type=int, default=0, help="data and initialization")
    args = p.parse_args(argv)
    if not 1 <= args.modes <= args.n // 2 + 1:
        p.error(f"--modes must be between 1 and n/2 + 1 = {args.n // 2 + 1}")
    rng = np.random.default_rng(args.seed)
    params = {"re": np.full(args.modes, 0.5), "im": np.zeros(args.modes)}
    opt = optim.adam(optim.cosine_decay_schedule(args.lr, args.steps))
    state = opt.init(params)

    @fnad.jit
    def step(params: dict[str, Any], state: Any, u0: Any, ut: Any) -> tuple[Any, Any, Any]:
        loss, grads = fnad.value_and_grad(loss_fn)(params, u0, ut, args.modes)
        updates, state = opt.update(grads, state, params)
        return optim.apply_updates(params, updates), state, loss

    history = []
    every = max(args.steps // 10, 1)
    with one_blas_thread():
        t0 = time.perf_counter()
        for i in range(args.steps):
            u0, ut = make_batch(rng, args.batch, args.n, args.nu, args.time, args.noise)
            params, state, loss = step(params, state, u0, ut)
            history.append(float(loss))
            if i % every == 0 or i == args.steps - 1:
                print(f"step {i:4d}  mse {history[-1]:.3e}")
        seconds = time.perf_counter() - t0
    learned = np.asarray(params["re"]) + 1j * np.asarray(params["im"])
    exact = exact_multipliers(args.n, args.nu, args.time)[:args.modes]
    error = float(np.abs(learned - exact).max())
    print(f"\nmse {history[0]:.3e} -> {history[-1]:.3e} in {args.steps} steps "
          f"({seconds:.1f} s)")
    print(f"learned multipliers vs exp(-nu k^2 T) over k = 0..{args.modes - 1}: largest "
          f"difference {error:.4f} (exact values from {exact[0]:.3f} down to {exact[-1]:.3f})")
    return {"history": history, "learned": learned, "exact": exact, "error": error}


if __name__ == "__main__":
    main()
