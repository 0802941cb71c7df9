"""Minibatching: every example exactly once per epoch, order set by the key, drop_last."""

from __future__ import annotations

import numpy as np
import pytest

from fnad import data, random

DATA = {"x": np.arange(10) * 10, "y": (np.arange(10), np.ones((10, 2)))}


def test_covers_every_example_once_in_key_order():
    out = list(data.batches(random.key(0), DATA, 3))
    assert [len(b["x"]) for b in out] == [3, 3, 3, 1]
    xs = np.concatenate([b["x"] for b in out])
    assert sorted(xs.tolist()) == list(range(0, 100, 10))
    np.testing.assert_array_equal(xs, DATA["x"][random.permutation(random.key(0), 10)])
    for b in out:  # the leaves of a batch stay aligned
        np.testing.assert_array_equal(b["x"], b["y"][0] * 10)
    again = np.concatenate([b["x"] for b in data.batches(random.key(0), DATA, 3)])
    np.testing.assert_array_equal(xs, again)
    other = np.concatenate([b["x"] for b in data.batches(random.key(1), DATA, 3)])
    assert not np.array_equal(xs, other)


def test_drop_last_and_no_shuffle():
    out = list(data.batches(None, DATA, 4, drop_last=True))
    assert [b["x"].tolist() for b in out] == [[0, 10, 20, 30], [40, 50, 60, 70]]


def test_bad_inputs():
    with pytest.raises(ValueError, match="same number of examples"):
        list(data.batches(None, (np.ones(3), np.ones(4)), 2))
    with pytest.raises(ValueError, match="batch_size"):
        list(data.batches(None, DATA, 0))
