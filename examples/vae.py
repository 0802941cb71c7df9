"""A variational autoencoder (Kingma & Welling, 2014) on the 8x8 digits: an MLP encoder gives
q(z|x) = N(mu, sigma^2) over 8 latent dimensions, a reparameterized draw z = mu + sigma eps
(eps from `fnad.random.normal`) feeds an MLP decoder of Bernoulli pixel probabilities, and
Adam maximizes the ELBO E_q[log p(x|z) + log p(z) - log q(z|x)], every term a
`fnad.scipy.stats` log-density, with one compiled step `fnad.jit(fnad.value_and_grad(...))`.

Pixels are binarized at 1/2. Measured on 2 shared CPU cores (NumPy and C backends give the
same numbers): the test ELBO per image rises from -48.2 nats untrained to -24.8 after the
fast settings (`--epochs 3`, 3 s; +23.4 nats) and to -19.0 after the default 30 epochs
(11 s; +29.2 nats).

Default run: about 11 s on 2 shared CPU cores.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from typing import Any

import numpy as np
from _common import (
    add_training_arguments,
    load_images,
    make_optimizer,
    make_parser,
    one_blas_thread,
)

import fnad
import fnad.numpy as fnp
from fnad import data, nn, optim, random
from fnad.scipy import special, stats

LATENT = 8


def networks(pixels: int) -> tuple[nn.Layer, nn.Layer]:
    """(encoder: x -> (mu, log sigma) stacked, decoder: z -> pixel logits)."""
    encoder = nn.serial(nn.Dense(128), nn.Relu, nn.Dense(2 * LATENT))
    decoder = nn.serial(nn.Dense(128), nn.Relu, nn.Dense(pixels))
    return encoder, decoder


def elbo(params: Any, nets: tuple[nn.Layer, nn.Layer], states: Any, x: Any, key: Any) -> Any:
    """The mean over the batch of a one-draw estimate of the ELBO (nats per image)."""
    (encoder, decoder), (enc_params, dec_params) = nets, params
    stats_, _ = encoder.apply(enc_params, states[0], x)
    mu, log_sigma = stats_[:, :LATENT], stats_[:, LATENT:]
    sigma = fnp.exp(log_sigma)
    z = mu + sigma * random.normal(key, mu.shape, mu.dtype)
    logits, _ = decoder.apply(dec_params, states[1], z)
    p = fnp.clip(special.expit(logits), 1e-6, 1 - 1e-6)
    log_lik = fnp.sum(stats.bernoulli.logpmf(x, p), axis=-1)
    log_prior = fnp.sum(stats.norm.logpdf(z), axis=-1)
    log_q = fnp.sum(stats.norm.logpdf(z, mu, sigma), axis=-1)
    return fnp.mean(log_lik + log_prior - log_q)


def train(splits: Any, args: argparse.Namespace) -> list[float]:
    """Train the VAE, printing a progress bar and the ELBO per epoch; returns the test ELBO
    before training and after each epoch."""
    (x_train, _), (x_test, _) = splits
    binarize = lambda x: (x.reshape(len(x), -1) > 0.5).astype(np.float32)  # noqa: E731
    x_train, x_test = binarize(x_train), binarize(x_test)
    nets = networks(x_train.shape[1])
    k_enc, k_dec, key = random.split(random.key(args.seed), 3)
    _, enc_params, enc_state = nets[0].init(k_enc, (-1, x_train.shape[1]))
    _, dec_params, dec_state = nets[1].init(k_dec, (-1, LATENT))
    params, states = (enc_params, dec_params), (enc_state, dec_state)
    opt = make_optimizer(args, len(x_train) // args.batch_size)  # --optimizer, --lr, --schedule
    opt_state = opt.init(params)
    loss = lambda params, x, key: -elbo(params, nets, states, x, key)  # noqa: E731

    @functools.partial(fnad.jit, backend=args.backend)
    def step(params: Any, opt_state: Any, x: Any, key: Any) -> Any:
        value, grads = fnad.value_and_grad(loss)(params, x, key)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, -value

    evaluate = fnad.jit(lambda params, x, key: elbo(params, nets, states, x, key),
                        backend=args.backend)
    history = [float(evaluate(params, x_test, random.key(-1)))]
    print(f"untrained: test ELBO {history[0]:.2f} nats per image")
    steps = len(x_train) // args.batch_size
    for epoch in range(args.epochs):
        bar = data.ProgressBar(steps, f"epoch {epoch + 1}/{args.epochs} ", file=sys.stdout)
        epoch_key, total = random.fold_in(key, epoch), 0.0
        for i, (x,) in enumerate(data.batches(epoch_key, (x_train,), args.batch_size,
                                              drop_last=True)):
            params, opt_state, value = step(params, opt_state, x, random.fold_in(epoch_key, i))
            total += float(value)
            bar.update(elbo=total / (i + 1))
        history.append(float(evaluate(params, x_test, random.key(-1))))
        bar.close(train_elbo=total / steps, test_elbo=history[-1])
    return history


def main(argv: list[str] | None = None) -> list[float]:
    """Run the demo; returns the test ELBO before training and after each epoch."""
    p = make_parser(__doc__)
    add_training_arguments(p, epochs=30, batch_size=32, lr=2e-3)
    args = p.parse_args(argv)
    start = time.perf_counter()
    name, splits = load_images(args.data)
    print(f"{name}: {len(splits[0][0])} train / {len(splits[1][0])} test images")
    with one_blas_thread():
        history = train(splits, args)
    print(f"test ELBO {history[0]:.2f} -> {history[-1]:.2f} nats per image "
          f"(+{history[-1] - history[0]:.2f}); done in {time.perf_counter() - start:.1f}s")
    return history


if __name__ == "__main__":
    main()
