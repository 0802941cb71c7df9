"""sort and argsort against NumPy's stable sort (NaNs last), eagerly and staged."""

from __future__ import annotations

import numpy as np
from fnp_cases import ALL, arrays, axes_for, check, nonempty_shapes
from hypothesis import given, settings, strategies as st

import fnad.numpy as fnp
from fnad.test_util import check_grads


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_sort_argsort(data):
    dtype = data.draw(st.sampled_from(ALL))
    x = data.draw(arrays(dtype, nonempty_shapes, -3, 3, special=data.draw(st.booleans())))
    axis = data.draw(axes_for(x.ndim, allow_tuple=False))
    check(lambda a: fnp.sort(a, axis), lambda a: np.sort(a, axis), (x,))
    check(lambda a: fnp.argsort(a, axis), lambda a: np.argsort(a, axis, stable=True), (x,))


def test_sort_grad():
    x = np.random.default_rng(0).standard_normal((3, 4))
    check_grads(lambda a: fnp.sort(a, 0), (x,), order=1)
