"""jax.sharding's names, for programs written to lay arrays out over devices.

fnad computes on one device per process, so every mesh here has one device and every
sharding places the whole array on it: `Mesh`, `NamedSharding`, `SingleDeviceSharding`
and `PartitionSpec` build and print as JAX's, `device_put(x, sharding)`,
`lax.with_sharding_constraint` and `reshard` accept them, and a mesh asking for more
devices than there are raises, as JAX's does on a machine with one device.
"""

from __future__ import annotations

import contextlib
import enum
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from fnad.core.errors import ArgumentError
from fnad.device import Device, devices as _devices


class AxisType(enum.Enum):
    """How a mesh axis is sharded: by the compiler, by the program, or inside shard_map."""

    Auto = enum.auto()
    Explicit = enum.auto()
    Manual = enum.auto()

    def __repr__(self) -> str:
        return self.name


class PartitionSpec(tuple):
    """Which mesh axis (or axes, a tuple; None: none) each array dimension is split over.

    >>> PartitionSpec("x", None)
    P('x', None)
    """

    UNCONSTRAINED = "unconstrained"

    def __new__(cls, *partitions: Any) -> PartitionSpec:
        return super().__new__(cls, partitions)

    def __repr__(self) -> str:
        return f"P({', '.join(map(repr, self))})"


P = PartitionSpec


class Mesh:
    """Devices arranged in a named grid (`devices`: an array of them, `axis_names` one name
    per axis). Here every axis has size 1: the process's one device."""

    def __init__(self, devices: Any, axis_names: str | Sequence[Any],
                 axis_types: tuple[AxisType, ...] | None = None):
        names = (axis_names,) if isinstance(axis_names, str) else tuple(axis_names)
        grid = np.array(devices, dtype=object)
        if grid.ndim != len(names):
            raise ArgumentError(f"Mesh: devices of shape {grid.shape} need one axis name per "
                                f"dimension, got {names}")
        _check_one_device("Mesh", grid.size)
        self.devices, self.axis_names = grid, names
        self.axis_types = axis_types or (AxisType.Explicit,) * len(names)

    @property
    def shape(self) -> dict[Any, int]:
        return dict(zip(self.axis_names, self.devices.shape))

    @property
    def axis_sizes(self) -> tuple[int, ...]:
        return self.devices.shape

    @property
    def size(self) -> int:
        return self.devices.size

    @property
    def device_ids(self) -> np.ndarray:
        return np.vectorize(lambda d: d.id, otypes=[int])(self.devices)

    @property
    def local_devices(self) -> list[Device]:
        return list(self.devices.flat)

    @property
    def empty(self) -> bool:
        return self.size == 0

    @property
    def abstract_mesh(self) -> Mesh:
        return self

    def __enter__(self) -> Mesh:
        _current.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        _current.pop()

    def __eq__(self, other: Any) -> bool:
        return (isinstance(other, Mesh) and self.axis_names == other.axis_names
                and self.devices.shape == other.devices.shape)

    def __hash__(self) -> int:
        return hash((self.axis_names, self.devices.shape))

    def __repr__(self) -> str:
        return (f"Mesh(axis_sizes={self.axis_sizes}, axis_names={self.axis_names}, "
                f"axis_types=({', '.join(map(repr, self.axis_types))},))")


AbstractMesh = Mesh


def _check_one_device(what: str, n: int) -> None:
    if n != 1:
        raise ArgumentError(f"{what}: {n} devices asked for; fnad computes on one device per "
                            "process (run one process per device with fnad.pmap), so a mesh "
                            "has one device")


def make_mesh(axis_shapes: Sequence[int], axis_names: Sequence[Any],
              axis_types: tuple[AxisType, ...] | None = None, *,
              devices: Sequence[Any] | None = None) -> Mesh:
    """A mesh of `axis_shapes` over `devices` (by default this process's device).

    >>> make_mesh((1,), ("batch",)).shape
    {'batch': 1}
    """
    _check_one_device("make_mesh", math.prod(axis_shapes))
    chosen = list(devices) if devices is not None else _devices()[:1]
    return Mesh(np.array(chosen, dtype=object).reshape(tuple(axis_shapes)), axis_names,
                axis_types)


class Sharding:
    """Where an array's pieces live; here, always all of it on one device."""

    device_set: frozenset[Device]
    memory_kind: str | None = None

    @property
    def num_devices(self) -> int:
        return len(self.device_set)

    @property
    def addressable_devices(self) -> frozenset[Device]:
        return self.device_set

    @property
    def is_fully_replicated(self) -> bool:
        return True

    @property
    def is_fully_addressable(self) -> bool:
        return True

    def shard_shape(self, global_shape: Sequence[int]) -> tuple[int, ...]:
        return tuple(global_shape)

    def with_memory_kind(self, kind: str) -> Sharding:
        return self


class SingleDeviceSharding(Sharding):
    """The whole array on `device`."""

    def __init__(self, device: Any, *, memory_kind: str | None = None):
        self.device_set = frozenset([Device(str(device)) if not isinstance(device, Device)
                                     else device])
        self.memory_kind = memory_kind

    def __repr__(self) -> str:
        return f"SingleDeviceSharding(device={next(iter(self.device_set))!r})"


class NamedSharding(Sharding):
    """The array split over `mesh`'s axes as `spec` says (each of size 1 here)."""

    def __init__(self, mesh: Mesh, spec: PartitionSpec | None = None, *,
                 memory_kind: str | None = None):
        self.mesh, self.spec = mesh, spec if spec is not None else PartitionSpec()
        for part in self.spec:
            for name in (part if isinstance(part, tuple) else (part,)):
                if name not in (None, PartitionSpec.UNCONSTRAINED) and name not in mesh.shape:
                    raise ArgumentError(f"NamedSharding: spec {self.spec} names axis "
                                        f"{name!r}, which the mesh {mesh} does not have")
        self.device_set = frozenset(mesh.devices.flat)
        self.memory_kind = memory_kind

    def __repr__(self) -> str:
        return f"NamedSharding(mesh={self.mesh!r}, spec={self.spec!r})"


_current: list[Mesh] = []  # the meshes of the `set_mesh` / `with mesh:` blocks we are in


@contextlib.contextmanager
def set_mesh(mesh: Mesh) -> Iterator[Mesh]:
    """`mesh` is the current mesh inside the block (JAX's `jax.sharding.set_mesh`)."""
    _current.append(mesh)
    try:
        yield mesh
    finally:
        _current.pop()


use_mesh = set_mesh
use_abstract_mesh = set_mesh


def get_mesh() -> Mesh | None:
    """The mesh of the innermost `set_mesh` (or `with mesh:`) block, or None."""
    return _current[-1] if _current else None


get_abstract_mesh = get_mesh


def reshard(xs: Any, out_shardings: Any) -> Any:
    """`xs` laid out as `out_shardings` say: on one device, `xs` itself."""
    return xs


def auto_axes(fun: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
    """JAX's decorator switching mesh axes to Auto inside `fun`: `fun` itself here."""
    return fun if fun is not None else (lambda f: f)


explicit_axes = auto_axes


def make_single_device_sharding(device: Any) -> SingleDeviceSharding:
    return SingleDeviceSharding(device)


__all__ = ["AbstractMesh", "AxisType", "Mesh", "NamedSharding", "P", "PartitionSpec",
           "Sharding", "SingleDeviceSharding", "auto_axes", "explicit_axes",
           "get_abstract_mesh", "get_mesh", "make_mesh", "make_single_device_sharding",
           "reshard", "set_mesh", "use_abstract_mesh", "use_mesh"]
