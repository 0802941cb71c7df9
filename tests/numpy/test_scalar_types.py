"""`fnad.numpy.float32` and the other scalar types behave as JAX's: dtypes wherever NumPy
takes one, equal to and hashed as NumPy's types, and conversions when called, traced
values included (NumPy's `np.float32(tracer)` needs a concrete value)."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad.test_util import assert_allclose

NAMES = ["bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
         "float16", "float32", "float64", "complex64", "complex128"]
ALIASES = {"bool": "bool_", "int_": "int64", "uint": "uint64", "float_": "float64",
           "complex_": "complex128", "single": "float32", "double": "float64",
           "csingle": "complex64", "cdouble": "complex128"}


@pytest.mark.parametrize("name", NAMES)
def test_a_scalar_type_is_a_dtype_everywhere(name: str) -> None:
    t, want = getattr(fnp, name), np.dtype(getattr(np, name))
    assert t.dtype == want and np.dtype(t) == want and t == want.type and want.type == t
    assert hash(t) == hash(want.type) and {want.type: 1}[t] == 1
    assert t != np.dtype("int8" if name != "int8" else "int16").type
    assert np.zeros(2, t).dtype == want and np.ones(2).astype(t).dtype == want
    assert fnp.zeros(2, t).dtype == want and fnp.asarray([1, 0], dtype=t).dtype == want
    assert fnad.lax.convert_element_type(np.ones(2), t).dtype == want
    assert np.issubdtype(t, np.number) == (name != "bool_")
    assert isinstance(want.type(1), t) and not isinstance(1, t)
    assert repr(t) == f"<class 'fnad.numpy.{want.type.__name__}'>"


@pytest.mark.parametrize("alias", list(ALIASES))
def test_aliases_name_the_same_types(alias: str) -> None:
    assert getattr(fnp, alias) is getattr(fnp, ALIASES[alias])


@pytest.mark.parametrize("name", NAMES)
def test_calling_converts_as_asarray_does(name: str) -> None:
    t = getattr(fnp, name)
    x = np.array([-1.5, 0.0, 2.7, 300.0], np.float32)
    for value in (x, 2.0, True, [1, 0]):
        got = t(value)
        want = fnp.asarray(value, t.dtype)
        assert got.dtype == t.dtype and np.shape(got) == np.shape(want)
        np.testing.assert_array_equal(got, want)
    # under jit, vmap and grad the argument is traced
    assert_allclose(fnad.jit(t)(x), fnp.asarray(x, t.dtype))
    assert_allclose(fnad.vmap(t)(x), fnp.asarray(x, t.dtype))


def test_traced_conversions_differentiate() -> None:
    f = lambda x: fnp.float64(x) ** 2 + fnp.float32(x)  # noqa: E731
    assert_allclose(fnad.grad(f)(np.float32(3.0)), 7.0)
    assert fnad.jit(lambda i: fnp.float32(i) / 2)(np.int32(3)) == 1.5


@pytest.mark.parametrize("bad", [None, "1.5", b"1", [1.0, None], [1, "a"], {"a": 1},
                                 object()])
def test_values_that_are_not_numbers_raise_not_nan(bad: object) -> None:
    """NumPy makes NaN of None (np.float32(None), np.asarray([None], np.float32)) and string
    arrays of strings; JAX refuses them, and so does fnad, naming what it got."""
    for convert in (fnp.float32, fnp.int32, fnp.asarray, lambda x: fnp.asarray(x, np.float64)):
        with pytest.raises(fnad.FnadError, match="is not a number") as info:
            convert(bad)
        assert isinstance(info.value, TypeError)
