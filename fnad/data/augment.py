"""Image augmentations as pure functions of (key, images) on NCHW batches: each image gets
its own random draw, and they work under jit and vmap like any fnad function.
"""

from __future__ import annotations

from typing import Any

import fnad.numpy as fnp
from fnad import lax, random
from fnad.api import vmap
from fnad.core.ir import get_aval


def random_crop(key: Any, images: Any, padding: int) -> Any:
    """Pad each image by `padding` zeros on every side, then cut out a window of the
    original size at a random offset: random translations of up to `padding` pixels."""
    images = fnp.asarray(images)
    n, c, h, w = get_aval(images).shape
    padded = fnp.pad(images, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dy, dx = (random.randint(random.fold_in(key, i), (n,), 0, 2 * padding + 1) for i in (0, 1))

    def crop(img: Any, y: Any, x: Any) -> Any:
        return lax.dynamic_slice(img, (fnp.zeros_like(y), y, x), (c, h, w))

    return vmap(crop)(padded, dy, dx)


def random_horizontal_flip(key: Any, images: Any, p: float = 0.5) -> Any:
    """Mirror each image left-right with probability `p`."""
    images = fnp.asarray(images)
    flip = random.bernoulli(key, p, get_aval(images).shape[:1])
    return fnp.where(fnp.reshape(flip, (-1, 1, 1, 1)), lax.rev(images, (3,)), images)


__all__ = ["random_crop", "random_horizontal_flip"]
