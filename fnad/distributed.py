"""Multi-process SPMD: one process (and one device) per member of a `pmap` axis.

`initialize` reads the MPI world through mpi4py (without it, or without `mpirun`, the world
is this one process). Inside `pmap(f, axis_name)` the collectives of `fnad.lax` over
`axis_name` run as MPI Allreduce/Allgather on NumPy buffers, or NCCL on CuPy buffers.
"""

from __future__ import annotations

import atexit
import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad import tree as tree_util
from fnad.core.errors import FnadError
from fnad.core.ir import get_aval
from fnad.lax.collectives import bind_axis
from fnad.lax.structural import expand_dims, squeeze


def _is_cupy(x: Any) -> bool:
    return type(x).__module__.startswith("cupy")


class SingleProcess:
    """The world of one process: every collective is the identity (size 1)."""

    rank, size = 0, 1

    def allreduce(self, xs: Sequence[Any], op: str) -> list[Any]:
        return list(xs)

    def allgather(self, x: Any) -> Any:
        return x.reshape((1, *x.shape))

    def broadcast(self, xs: Sequence[Any]) -> list[Any]:
        return list(xs)


class MPICommunicator:
    """Collectives over an mpi4py communicator: NumPy buffers go through MPI, CuPy buffers
    through an NCCL communicator whose id rank 0 broadcasts over MPI (made on first use)."""

    def __init__(self, comm: Any):
        from mpi4py import MPI
        self._mpi, self.comm = MPI, comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self._ops = {"sum": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}
        self._nccl: Any = None

    def allreduce(self, xs: Sequence[Any], op: str) -> list[Any]:
        """Arrays of one dtype travel as one message (gradient bucketing)."""
        outs: list[Any] = list(xs)
        if self.size == 1:
            return outs
        groups: dict[tuple[bool, np.dtype], list[int]] = {}
        for i, x in enumerate(xs):
            groups.setdefault((_is_cupy(x), x.dtype), []).append(i)
        for (gpu, _), idx in groups.items():
            arrays = [xs[i] for i in idx]
            if gpu:
                reduced = self._nccl_comm().allreduce(arrays, op)
            else:
                reduced = _split(self._allreduce_buffer(_concat(np, arrays), op), arrays)
            for i, r in zip(idx, reduced):
                outs[i] = r
        return outs

    def _allreduce_buffer(self, buf: np.ndarray, op: str) -> np.ndarray:
        out = np.empty_like(buf)
        self.comm.Allreduce(buf, out, op=self._ops[op])
        return out

    def allgather(self, x: Any) -> Any:
        if _is_cupy(x):
            return self._nccl_comm().allgather(x)
        x = np.ascontiguousarray(x)
        out = np.empty((self.size, *x.shape), x.dtype)
        self.comm.Allgather(x, out)
        return out

    def broadcast(self, xs: Sequence[Any]) -> list[Any]:
        """Rank 0's arrays, on every rank (through the host for CuPy arrays)."""
        outs = []
        for x in xs:
            host = np.array(x.get() if _is_cupy(x) else x, order="C")  # a copy: Bcast writes
            self.comm.Bcast(host, root=0)
            outs.append(_to_device_of(host, x))
        return outs

    def _nccl_comm(self) -> Any:
        if self._nccl is None:
            self._nccl = NCCLCommunicator(self.comm, self.rank, self.size)
        return self._nccl


def _concat(xp: Any, arrays: Sequence[Any]) -> Any:
    if len(arrays) == 1:
        return xp.ascontiguousarray(arrays[0]).reshape(-1)
    return xp.concatenate([xp.ravel(a) for a in arrays])


def _split(buf: Any, like: Sequence[Any]) -> list[Any]:
    outs, start = [], 0
    for a in like:
        outs.append(buf[start:start + a.size].reshape(a.shape))
        start += a.size
    return outs


def _to_device_of(host: np.ndarray, like: Any) -> Any:
    if _is_cupy(like):
        import cupy
        return cupy.asarray(host)
    return host


class NCCLCommunicator:
    """NCCL all-reduce/all-gather on CuPy arrays, on the current stream.

    Written against `cupy.cuda.nccl` but not exercised by the test suite (it needs one GPU
    per process); `initialize` picks each process's GPU by its node-local MPI rank.
    """

    def __init__(self, mpi_comm: Any, rank: int, size: int):
        import cupy
        from cupy.cuda import nccl
        self._cupy, self._nccl = cupy, nccl
        uid = nccl.get_unique_id() if rank == 0 else None
        uid = mpi_comm.bcast(uid, root=0)
        self.comm = nccl.NcclCommunicator(size, uid, rank)
        self.size = size
        self._ops = {"sum": nccl.NCCL_SUM, "max": nccl.NCCL_MAX, "min": nccl.NCCL_MIN}
        self._dtypes = {np.dtype(k): getattr(nccl, v) for k, v in (
            ("float16", "NCCL_FLOAT16"), ("float32", "NCCL_FLOAT32"),
            ("float64", "NCCL_FLOAT64"), ("int8", "NCCL_INT8"), ("uint8", "NCCL_UINT8"),
            ("int32", "NCCL_INT32"), ("int64", "NCCL_INT64"))}

    def _dtype(self, dtype: np.dtype) -> int:
        code = self._dtypes.get(np.dtype(dtype))
        if code is None:
            raise FnadError(f"NCCL collectives do not support {dtype} arrays")
        return code

    def allreduce(self, arrays: Sequence[Any], op: str) -> list[Any]:
        buf = _concat(self._cupy, arrays)
        out = self._cupy.empty_like(buf)
        stream = self._cupy.cuda.get_current_stream().ptr
        self.comm.allReduce(buf.data.ptr, out.data.ptr, buf.size, self._dtype(buf.dtype),
                            self._ops[op], stream)
        return _split(out, arrays)

    def allgather(self, x: Any) -> Any:
        x = self._cupy.ascontiguousarray(x)
        out = self._cupy.empty((self.size, *x.shape), x.dtype)
        stream = self._cupy.cuda.get_current_stream().ptr
        self.comm.allGather(x.data.ptr, out.data.ptr, x.size, self._dtype(x.dtype), stream)
        return out


_world: SingleProcess | MPICommunicator | None = None


def initialize() -> None:
    """Read the MPI world (rank, size) through mpi4py; a single process without it.

    Idempotent, and called by the other functions of this module. Under a multi-process
    launch an uncaught exception on any rank aborts the whole job (MPI_Abort) instead of
    leaving the others waiting forever in a collective.
    """
    global _world
    if _world is not None:
        return
    try:
        from mpi4py import MPI
    except ImportError:
        _world = SingleProcess()
        return
    _world = MPICommunicator(MPI.COMM_WORLD)
    if _world.size > 1:
        _install_abort_hook(MPI.COMM_WORLD)
        _select_gpu(MPI.COMM_WORLD)


def _install_abort_hook(comm: Any) -> None:
    previous = sys.excepthook

    def abort(kind: Any, value: Any, tb: Any) -> None:
        previous(kind, value, tb)
        sys.stderr.flush()
        comm.Abort(1)

    sys.excepthook = abort
    _install_exit_hook(comm)


def _install_exit_hook(comm: Any) -> None:
    """`sys.exit(n)` with n not 0 ends the job like an exception. SystemExit never reaches
    `sys.excepthook`: this process would wait in MPI_Finalize while the others wait for it in
    a collective. So the code `sys.exit` asks for is kept, and at exit (before mpi4py's
    finalization: atexit runs the last registered first) a failing one aborts the job. A
    `sys.exit(n)` the program caught and went on from counts too: say `raise SystemExit`
    for an exit that is not a failure."""
    requested: list[Any] = []
    original = sys.exit

    def exit(status: Any = None) -> None:  # noqa: A001  (sys.exit's stand-in)
        requested[:] = [status]
        original(status)

    def abort_on_failure() -> None:
        if not requested or requested[0] in (None, 0):
            return
        status = requested[0]
        if not isinstance(status, int):  # sys.exit("message"): Python prints it, exits 1
            sys.stderr.write(f"{status}\n")
            status = 1
        sys.stderr.write(f"fnad.distributed: rank {comm.Get_rank()} called sys.exit({status}); "
                         "aborting the job\n")
        sys.stderr.flush()
        comm.Abort(status)

    sys.exit = exit
    atexit.register(abort_on_failure)


def _select_gpu(comm: Any) -> None:
    """One GPU per process: the node-local rank picks the device, when CuPy sees any."""
    try:
        import cupy
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception:  # no CuPy, or no driver / device: host arrays only
        return
    if count:
        from mpi4py import MPI
        local = comm.Split_type(MPI.COMM_TYPE_SHARED).Get_rank()
        cupy.cuda.Device(local % count).use()


def _get_world() -> SingleProcess | MPICommunicator:
    initialize()
    assert _world is not None
    return _world


def process_index() -> int:
    """This process's rank in the world (0 without MPI)."""
    return _get_world().rank


def process_count() -> int:
    """The number of processes in the world (1 without MPI)."""
    return _get_world().size


def pmap(fun: Callable[..., Any], axis_name: Any = None, *, in_axes: Any = 0,
         out_axes: Any = 0, static_broadcasted_argnums: int | Sequence[int] = (),
         devices: Any = None, backend: str | None = None, axis_size: int | None = None,
         donate_argnums: int | Sequence[int] = ()) -> Callable[..., Any]:
    """Run `fun` once per process, SPMD, with collectives over `axis_name` across processes.

    Convention (jax.pmap's with one device per process): each process holds its own slice
    of the mapped axis, so a mapped argument (in_axes not None) has that axis with local
    size 1; `fun` sees the argument without it. Outputs get it back at `out_axes`
    (`None`: returned as `fun` made them, e.g. replicated parameters after a `pmean`).
    Arguments with in_axes None, and those at `static_broadcasted_argnums`, are passed as
    they are. Call `jit` inside, not around: `pmap(jit(step), "batch")`. JAX's `devices`
    (this process's one device), `backend`, `axis_size` (1) and `donate_argnums` (a
    hint) are accepted.

    >>> import numpy as np, fnad
    >>> fnad.pmap(lambda x: fnad.lax.psum(x, "i"), "i")(np.ones((1, 2), np.float32))
    array([[1., 1.]], dtype=float32)
    """
    static = ((static_broadcasted_argnums,) if isinstance(static_broadcasted_argnums, int)
              else tuple(static_broadcasted_argnums))
    del donate_argnums  # a hint: each process's arrays are its own
    if devices is not None and len(devices) != 1:
        raise FnadError(f"pmap: devices={devices!r}; each process maps over its one device "
                        "(run one process per device), so pass None or one device")
    if backend not in (None, "cpu"):
        raise FnadError(f"pmap: backend={backend!r}; processes run on the CPU: pass None")
    if axis_size not in (None, 1):
        raise FnadError(f"pmap: axis_size={axis_size}; each process's slice of the mapped "
                        "axis has size 1 (one device per process): pass None or 1")

    @functools.wraps(fun)
    def mapped(*args: Any) -> Any:
        world = _get_world()
        static_at = {i % len(args) for i in static if -len(args) <= i < len(args)}
        dynamic = [a for i, a in enumerate(args) if i not in static_at]
        prefix = tuple(in_axes) if isinstance(in_axes, list) else in_axes
        if not isinstance(prefix, tuple):
            prefix = (prefix,) * len(dynamic)
        elif static_at and len(prefix) == len(args):
            prefix = tuple(p for i, p in enumerate(prefix) if i not in static_at)
        leaves, in_tree = tree_util.tree_flatten(tuple(dynamic))
        try:
            axes = tree_util.tree_broadcast_prefix(prefix, tuple(dynamic))
        except FnadError as e:
            raise FnadError(f"pmap: in_axes {in_axes} does not match the arguments: {e}"
                            ) from None
        local = iter(tree_util.tree_unflatten(in_tree, [
            x if ax is None else _unmap(x, ax) for x, ax in zip(leaves, axes)]))
        full = [a if i in static_at else next(local) for i, a in enumerate(args)]
        with bind_axis(axis_name, world):
            out = fun(*full)
        out_leaves, out_tree = tree_util.tree_flatten(out)
        oax = tree_util.tree_broadcast_prefix(out_axes, out)
        return tree_util.tree_unflatten(out_tree, [
            x if ax is None else expand_dims(x, (ax,)) for x, ax in zip(out_leaves, oax)])

    return mapped


def _unmap(x: Any, axis: int) -> Any:
    shape = get_aval(x).shape
    if not -len(shape) <= axis < len(shape) or shape[axis] != 1:
        raise FnadError(
            f"pmap: a mapped argument of shape {shape} must have axis {axis} of size 1, the "
            "number of devices of this process (one per process); take this process's slice "
            "with fnad.distributed.shard_batch, or pass in_axes=None for replicated values")
    return squeeze(x, (axis,))


def shard_batch(batch: Any) -> Any:
    """This process's slice, along axis 0, of every array of a pytree holding the global
    batch, with a leading axis of size 1 as `pmap` takes it.

    >>> import numpy as np
    >>> shard_batch({"x": np.arange(4.0)})["x"].shape  # one process: all of it
    (1, 4)
    """
    world = _get_world()

    def take(x: Any) -> Any:
        n = x.shape[0]
        if n % world.size:
            raise FnadError(f"shard_batch: a batch of {n} examples does not split evenly "
                            f"over {world.size} processes; use a multiple of {world.size}")
        k = n // world.size
        return x[world.rank * k:(world.rank + 1) * k][None]

    return tree_util.tree_map(take, batch)


def broadcast_params(params: Any) -> Any:
    """Process 0's copy of a pytree of arrays, on every process: start every replica from
    the same parameters.

    >>> import numpy as np
    >>> broadcast_params([np.zeros(2, np.float32)])
    [array([0., 0.], dtype=float32)]
    """
    leaves, treedef = tree_util.tree_flatten(params)
    return tree_util.tree_unflatten(treedef, _get_world().broadcast(leaves))


__all__ = ["initialize", "process_index", "process_count", "pmap", "shard_batch",
           "broadcast_params"]
