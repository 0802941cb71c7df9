"""The batch-sized GEMM paths of conv_general_dilated's NumPy impl (fnad/lax/conv.py): tap
by tap over the kernel (small kernels), and over the output positions (a large kernel
and a small output, which is the shape of a small-kernel convolution's weight gradient),
against the loop reference of tests/lax/test_conv.py, with their derivatives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
from fnad import lax
from fnad.lax.conv import _MAX_TAPS, padtype_to_pads
from fnad.test_util import assert_allclose, check_grads
from tests.lax.test_conv import conv_ref

# (x shape, w shape, strides, padding, lhs dilation, rhs dilation): kernels larger than
# _MAX_TAPS with few output positions, and weight-gradient shapes
BIG_KERNEL = [
    ((2, 3, 8, 8), (4, 3, 7, 7), (1, 1), ((0, 0), (0, 0)), (1, 1), (1, 1)),
    ((2, 3, 9, 9), (4, 3, 6, 6), (2, 2), ((1, 0), (0, 1)), (1, 1), (1, 1)),
    ((1, 2, 12, 11), (3, 2, 6, 6), (1, 1), ((0, 0), (0, 0)), (1, 1), (2, 2)),
    ((2, 2, 5, 5), (2, 2, 6, 6), (1, 1), ((1, 1), (1, 1)), (2, 2), (1, 1)),
    ((3, 1, 4, 40), (2, 1, 1, 38), (1, 1), ((0, 0), (0, 0)), (1, 1), (1, 1)),
]


@pytest.mark.parametrize("case", BIG_KERNEL)
def test_big_kernel_small_output(case):
    xs, ws, strides, pads, ldil, rdil = case
    assert np.prod(ws[2:]) > _MAX_TAPS
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    out = lax.conv_general_dilated(x, w, strides, pads, ldil, rdil)
    assert_allclose(out, conv_ref(x, w, strides, pads, ldil, rdil), rtol=1e-10, atol=1e-10)
    check_grads(lambda x, w: lax.conv_general_dilated(x, w, strides, pads, ldil, rdil),
                (x, w), order=1, modes=("rev",))


@pytest.mark.parametrize("layout", [("NCHW", "OIHW", "NCHW"), ("NHWC", "HWIO", "NHWC")])
@pytest.mark.parametrize("strides,rdil", [((1, 1), (1, 1)), ((2, 2), (1, 1)), ((1, 1), (2, 1))])
def test_weight_gradient_of_a_3x3_conv(layout, strides, rdil):
    """The weight gradient is a conv with the image as kernel and a 3x3 output: it runs
    over the output positions, one GEMM for the whole batch."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3, 10, 10)).astype(np.float32)
    w = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    ct = rng.standard_normal(lax.conv_general_dilated(x, w, strides, "SAME", None, rdil).shape
                             ).astype(np.float32)
    to = lambda a, spec: a.transpose(["NCHW".index(c) for c in spec])
    xt, wt = to(x, layout[0]), to(w, layout[1].replace("O", "N").replace("I", "C"))
    f = lambda x, w: lax.conv_general_dilated(x, w, strides, "SAME", None, rdil,
                                              dimension_numbers=layout)
    _, vjp = fnad.vjp(f, xt, wt)
    ct_t = to(ct, layout[2])
    gx, gw = vjp(ct_t)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    _, vjp64 = fnad.vjp(lambda x, w: lax.conv_general_dilated(x, w, strides, "SAME", None,
                                                              rdil), x64, w64)
    ex, ew = vjp64(ct.astype(np.float64))
    assert gw.dtype == np.float32
    assert_allclose(gw, to(ew, layout[1].replace("O", "N").replace("I", "C")
                           ).astype(np.float32), rtol=2e-4, atol=2e-4)
    assert_allclose(gx, to(ex, layout[0]).astype(np.float32), rtol=2e-4, atol=2e-4)
    # the weight gradient against the loop reference: sum over images of patch x ct
    pads = padtype_to_pads((10, 10), [(3 - 1) * d + 1 for d in rdil], strides, "SAME")
    ref = conv_ref(x64.transpose(1, 0, 2, 3), ct.astype(np.float64).transpose(1, 0, 2, 3),
                   rdil, pads, (1, 1), strides).transpose(1, 0, 2, 3)
    if strides == (1, 1):
        assert_allclose(ew, ref, rtol=1e-10, atol=1e-10)


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_gemm_paths_match_the_reference(data):
    n, c, o = (data.draw(st.integers(1, 3)) for _ in range(3))
    k = data.draw(st.sampled_from([(1, 1), (2, 3), (3, 3), (5, 7), (6, 6)]))
    size = [data.draw(st.integers(k[i], k[i] + 4)) for i in range(2)]
    strides = tuple(data.draw(st.integers(1, 2)) for _ in range(2))
    rdil = tuple(data.draw(st.integers(1, 2)) for _ in range(2))
    pads = tuple((data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))) for _ in range(2))
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    x, w = rng.standard_normal((n, c, *size)), rng.standard_normal((o, c, *k))
    out = lax.conv_general_dilated(x, w, strides, pads, None, rdil)
    assert_allclose(out, conv_ref(x, w, strides, pads, (1, 1), rdil), rtol=1e-10, atol=1e-10)


def test_zero_sized_outputs():
    x, w = np.ones((2, 3, 4, 4)), np.ones((5, 3, 6, 6))
    assert lax.conv_general_dilated(x, w, (1, 1), "VALID").shape == (2, 5, 0, 0)
    assert lax.conv_general_dilated(np.ones((0, 3, 9, 9)), w, (1, 1), "VALID").shape == \
        (0, 5, 4, 4)
