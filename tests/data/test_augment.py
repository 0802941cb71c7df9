"""Augmentations: each image is a translated or mirrored copy, chosen per image by the key."""

from __future__ import annotations

import numpy as np

import fnad
import fnad.test_util as tu
from fnad import data, random

IMAGES = np.random.default_rng(0).standard_normal((16, 2, 5, 5)).astype(np.float32)


def test_random_crop_is_a_translation():
    pad = 2
    out = data.random_crop(random.key(0), IMAGES, pad)
    assert out.shape == IMAGES.shape
    padded = np.pad(IMAGES, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    offsets = set()
    for img, p in zip(out, padded):
        matches = [(dy, dx) for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)
                   if np.array_equal(img, p[:, dy:dy + 5, dx:dx + 5])]
        assert matches, "a crop is not a window of the padded image"
        offsets.add(matches[0])
    assert len(offsets) > 3  # offsets vary between images
    np.testing.assert_array_equal(data.random_crop(random.key(0), IMAGES, pad), out)


def test_random_horizontal_flip():
    out = data.random_horizontal_flip(random.key(1), IMAGES)
    flipped = [np.array_equal(o, i[..., ::-1]) for o, i in zip(out, IMAGES)]
    same = [np.array_equal(o, i) for o, i in zip(out, IMAGES)]
    assert all(f or s for f, s in zip(flipped, same)) and 0 < sum(flipped) < 16
    assert np.array_equal(data.random_horizontal_flip(random.key(1), IMAGES, p=0.0), IMAGES)


def test_augmentations_under_transforms():
    for f in (lambda k, x: data.random_crop(k, x, 1), data.random_horizontal_flip):
        tu.check_transforms(f, (random.key(2), IMAGES))
        np.testing.assert_array_equal(fnad.jit(f)(random.key(2), IMAGES),
                                      f(random.key(2), IMAGES))
