"""fnad.sharding: JAX's layout objects on fnad's one device per process."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad.core.errors import ArgumentError
from fnad.sharding import (
    AxisType,
    Mesh,
    NamedSharding,
    P,
    PartitionSpec,
    SingleDeviceSharding,
    get_mesh,
    reshard,
    set_mesh,
)


def test_meshes_and_shardings_describe_one_device() -> None:
    mesh = fnad.make_mesh((1, 1), ("data", "model"))
    assert mesh.shape == {"data": 1, "model": 1} and mesh.size == 1
    assert mesh.axis_names == ("data", "model") and mesh.axis_types == (AxisType.Explicit,) * 2
    assert mesh == Mesh(np.array(fnad.devices()).reshape(1, 1), ("data", "model"))
    s = NamedSharding(mesh, P("data", None))
    assert s.device_set == frozenset(fnad.devices()) and s.num_devices == 1
    assert s.is_fully_replicated and s.shard_shape((8, 3)) == (8, 3)
    assert repr(P("data", None)) == "P('data', None)" and PartitionSpec() == ()
    assert SingleDeviceSharding(fnad.devices()[0]).device_set == s.device_set


def test_arrays_placed_and_constrained_keep_their_values() -> None:
    mesh = fnad.make_mesh((1,), ("batch",))
    s = NamedSharding(mesh, P("batch"))
    x = np.arange(4.0, dtype=np.float32)
    np.testing.assert_array_equal(fnad.device_put(x, s), x)
    np.testing.assert_array_equal(fnad.device_put({"w": x}, SingleDeviceSharding("cpu"))["w"], x)
    step = fnad.jit(lambda a: fnad.lax.with_sharding_constraint(fnp.sin(a), s),
                    in_shardings=s, out_shardings=s)
    np.testing.assert_allclose(step(x), np.sin(x), rtol=1e-6)
    with set_mesh(mesh):
        assert get_mesh() is mesh
        np.testing.assert_array_equal(fnad.lax.with_sharding_constraint(x, P("batch")), x)
    with mesh:
        assert get_mesh() is mesh
    assert get_mesh() is None
    assert reshard(x, s) is x
    grad = fnad.grad(lambda a: fnp.sum(fnad.lax.with_sharding_constraint(a, s) ** 2))(x)
    np.testing.assert_allclose(grad, 2 * x)


def test_more_devices_than_there_are_is_an_error() -> None:
    with pytest.raises(ArgumentError, match="one device"):
        fnad.make_mesh((2,), ("x",))
    with pytest.raises(ArgumentError, match="does not have"):
        NamedSharding(fnad.make_mesh((1,), ("x",)), P("y"))
    with pytest.raises(ArgumentError, match="one axis name per"):
        Mesh(np.array(fnad.devices()), ("a", "b"))
