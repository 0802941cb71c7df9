"""The array API's and JAX's creation keywords: `copy` (True: always new, False: never),
`device`, `ndmin`, `order`."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp


def test_asarray_copy_semantics() -> None:
    x = np.ones(3, np.float32)
    assert fnp.asarray(x, copy=True) is not x and fnp.asarray(x, copy=True).base is None
    assert fnp.asarray(x, copy=False) is x and fnp.asarray(x, copy=None) is x
    with pytest.raises(fnad.FnadError, match="needs a copy to become float64"):
        fnp.asarray(x, np.float64, copy=False)
    with pytest.raises(fnad.FnadError, match="a list is copied"):  # as NumPy 2 and JAX
        fnp.asarray([1, 2], copy=False)
    np.testing.assert_array_equal(fnad.jit(lambda v: fnp.asarray(v, copy=True) + 1)(x), x + 1)


def test_ndmin_and_order() -> None:
    assert fnp.array(3.0, ndmin=2).shape == (1, 1)
    assert fnp.array(np.ones((2, 3)), ndmin=3, order="C").shape == (1, 2, 3)
    assert fnp.array(np.ones((2, 3)), ndmin=1).shape == (2, 3)
    assert fnad.jit(lambda v: fnp.array(v, ndmin=4))(np.ones(3)).shape == (1, 1, 1, 3)
    np.testing.assert_array_equal(fnp.asarray(np.eye(2), order="F"), np.eye(2))


@pytest.mark.parametrize("make", [
    lambda d: fnp.zeros(2, device=d), lambda d: fnp.ones((2,), device=d),
    lambda d: fnp.full(2, 3.0, device=d), lambda d: fnp.zeros_like(np.ones(2), device=d),
    lambda d: fnp.ones_like(np.ones(2), device=d),
    lambda d: fnp.full_like(np.ones(2), 1.0, device=d), lambda d: fnp.arange(2, device=d),
    lambda d: fnp.linspace(0, 1, 2, device=d), lambda d: fnp.eye(2, device=d),
    lambda d: fnp.identity(2, device=d), lambda d: fnp.asarray([1.0], device=d),
    lambda d: fnp.array([1.0], device=d)])
def test_device_keyword(make) -> None:
    assert type(make("cpu")) is np.ndarray and type(make(fnad.devices("cpu")[0])) is np.ndarray
    np.testing.assert_array_equal(make(None), make("cpu"))
    if not fnad.device.gpu_count():
        with pytest.raises(fnad.FnadError, match="needs a GPU"):
            make("gpu")


def test_like_functions_keep_a_python_numbers_weak_type_in_transforms():
    """zeros_like(a) of a Python number given to jit is weak, as JAX's: it takes the dtype
    of what it meets (float16 here) and leaves the transform as float32, not float64."""

    def f(a):
        return (fnp.zeros_like(a), fnp.ones_like(a), fnp.full_like(a, 2.0),
                a + fnp.zeros_like(a), fnp.zeros_like(a) * np.float16(3))

    outs = fnad.jit(f)(1.5)
    assert [o.dtype for o in outs] == [np.float32] * 4 + [np.float16]
    np.testing.assert_array_equal([float(o) for o in outs], [0.0, 1.0, 2.0, 1.5, 0.0])
    assert fnad.jit(lambda a: fnp.zeros_like(a, dtype=np.float64))(1.5).dtype == np.float64
    assert fnad.grad(lambda a: a * fnp.ones_like(a))(1.5) == 1.0


def test_print_options_are_numpys():
    with fnp.printoptions(precision=2):
        assert str(fnp.linspace(0, 1, 4)) == "[0.   0.33 0.67 1.  ]"
        assert fnp.get_printoptions()["precision"] == 2
    assert fnp.set_printoptions is np.set_printoptions
