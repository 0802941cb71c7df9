"""cost_analysis: FLOPs and bytes from avals, by primitive family, nested jaxprs included."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad.cost import TRANSCENDENTAL_FLOPS

F32 = np.float32


def cost(f, *args):
    return fnad.cost_analysis(fnad.make_jaxpr(f)(*args))


def test_dot_general_is_two_m_n_k() -> None:
    for m, k, n in [(2, 3, 4), (7, 1, 5), (16, 32, 8)]:
        c = cost(lambda a, b: fnp.matmul(a, b), np.ones((m, k), F32), np.ones((k, n), F32))
        assert c["flops"] == 2 * m * n * k
        assert c["primitive_applications"] == 1
        assert c["bytes_read"] == 4 * (m * k + k * n)
        assert c["bytes_written"] == 4 * m * n
        assert c["bytes_accessed"] == c["bytes_read"] + c["bytes_written"]


def test_batched_dot_general_counts_the_batch() -> None:
    a, b = np.ones((5, 2, 3), F32), np.ones((5, 3, 4), F32)
    c = cost(lambda a, b: fnad.lax.dot_general(a, b, (((2,), (1,)), ((0,), (0,)))), a, b)
    assert c["flops"] == 5 * 2 * 2 * 4 * 3


def test_elementwise_transcendental_reduction_structural() -> None:
    x = np.ones((10, 3), F32)
    c = cost(lambda x: x * x, x)
    assert c["flops"] == 30 and c["transcendentals"] == 0
    c = cost(fnp.exp, x)
    assert c["flops"] == TRANSCENDENTAL_FLOPS * 30 and c["transcendentals"] == 30
    c = cost(lambda x: fnad.lax.reduce_sum(x, (0, 1)), x)
    assert c["flops"] == 30 and c["bytes_written"] == 4
    c = cost(lambda x: fnad.lax.transpose(fnad.lax.reshape(x, (3, 10)), (1, 0)), x)
    assert c["flops"] == 0 and c["bytes_accessed"] == 4 * 4 * 30
    assert c["per_primitive"]["reshape"] == {"count": 1, "flops": 0, "bytes": 240}


def test_per_primitive_breakdown_adds_up_and_literals_read_nothing() -> None:
    x = np.ones(8, F32)
    c = cost(lambda x: fnp.sum(fnp.sin(x) * 2.0 + x), x)
    per = c["per_primitive"]
    assert sum(r["count"] for r in per.values()) == c["primitive_applications"] == 4
    assert sum(r["flops"] for r in per.values()) == c["flops"]
    assert sum(r["bytes"] for r in per.values()) == c["bytes_accessed"]
    assert per["mul"]["bytes"] == 2 * 32  # the literal 2.0 is not a buffer


def test_nested_jaxprs_are_counted_where_they_run() -> None:
    x = np.ones(6, F32)
    body = lambda x: fnp.sin(x) * x
    flat = cost(body, x)
    nested = cost(fnad.checkpoint(body), x)
    assert nested["flops"] == flat["flops"]
    assert nested["primitive_applications"] == flat["primitive_applications"]
    assert "checkpoint" not in nested["per_primitive"]


def test_gradient_costs_a_small_multiple_of_the_forward_pass() -> None:
    w, x = np.ones((64, 32), F32), np.ones((32,), F32)
    f = lambda w: fnp.sum(fnp.tanh(fnp.matmul(w, x)))
    fwd, rev = cost(f, w), cost(fnad.grad(f), w)
    assert fwd["flops"] < rev["flops"] <= 3 * fwd["flops"]


@pytest.mark.parametrize("layout, groups", [(("NCHW", "OIHW", "NCHW"), 1),
                                            (("NHWC", "HWIO", "NHWC"), 2)])
def test_conv_is_two_out_size_window_in_features_over_groups(layout, groups) -> None:
    n, c, h, o, k = 2, 6, 8, 4, 3
    x = np.ones((n, c, h, h) if layout[0] == "NCHW" else (n, h, h, c), F32)
    w = np.ones((o, c // groups, k, k) if layout[1] == "OIHW" else (k, k, c // groups, o), F32)
    c_ = cost(lambda x, w: fnad.lax.conv_general_dilated(
        x, w, (1, 1), "VALID", dimension_numbers=layout, feature_group_count=groups), x, w)
    out_size = n * o * (h - k + 1) ** 2
    assert c_["flops"] == 2 * out_size * k * k * c // groups
