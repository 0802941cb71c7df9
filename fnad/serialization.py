"""Checkpoints: `save(path, tree)` writes a pytree of arrays as one `.npz` file holding the
leaves and a JSON description of the structure (no pickle, so loading runs no code), and
`load(path, like=None)` reads it back, checked against `like` when given.
"""

from __future__ import annotations

import collections
import json
import os
import socket
import tempfile
import zipfile
import zlib
from typing import Any

import numpy as np

from fnad.core.errors import FnadError
from fnad.core.trace import Tracer
from fnad.tree import tree_flatten, tree_leaves, tree_unflatten

_STRUCTURE = "__fnad_structure__"
_FORMAT = 1
_SCALAR_KEYS = {str: "str", int: "int", float: "float", bool: "bool", type(None): "none"}


class CheckpointError(FnadError, ValueError):
    """A checkpoint cannot be written, read, or does not match what the caller expects."""


# ------------------------------------------------------------------ structure <-> JSON

def _encode_key(k: Any) -> list:
    if type(k) in _SCALAR_KEYS:
        return [_SCALAR_KEYS[type(k)], k]
    if type(k) is tuple:
        return ["tuple", [_encode_key(e) for e in k]]
    raise CheckpointError(f"cannot store the dict key {k!r} of type {type(k).__name__}; "
                          "checkpoint dict keys must be str, int, float, bool, None or tuples "
                          "of those")


def _decode_key(tagged: list) -> Any:
    kind, value = tagged
    return tuple(_decode_key(e) for e in value) if kind == "tuple" else value


def _encode(node: Any, path: str, paths: list[str]) -> Any:
    """JSON for a tree whose leaves were replaced by their flattening index."""
    if type(node) is int:
        paths.append(path or "<root>")
        return {"leaf": node}
    if node is None:
        return None
    if type(node) is dict:
        return {"dict": [[_encode_key(k), _encode(v, f"{path}[{k!r}]", paths)]
                         for k, v in node.items()]}
    if type(node) in (list, tuple):
        return {type(node).__name__: [_encode(v, f"{path}[{i}]", paths)
                                      for i, v in enumerate(node)]}
    if isinstance(node, tuple) and hasattr(node, "_fields"):
        return {"namedtuple": [type(node).__name__, list(node._fields),
                               [_encode(v, f"{path}.{f}", paths)
                                for f, v in zip(node._fields, node)]]}
    leaves = tree_leaves(node)
    paths.extend(f"{path}<{type(node).__name__} leaf {i}>" for i in range(len(leaves)))
    return {"opaque": [type(node).__qualname__, leaves]}


def _decode(desc: Any, leaves: list[np.ndarray]) -> Any:
    if desc is None:
        return None
    (kind,) = desc
    if kind == "leaf":
        return leaves[desc["leaf"]]
    if kind == "dict":
        return {_decode_key(k): _decode(v, leaves) for k, v in desc["dict"]}
    if kind in ("list", "tuple"):
        seq = [_decode(v, leaves) for v in desc[kind]]
        return seq if kind == "list" else tuple(seq)
    if kind == "namedtuple":
        name, fields, children = desc[kind]
        cls = collections.namedtuple(name, fields)  # type: ignore[misc]
        return cls(*(_decode(v, leaves) for v in children))
    raise CheckpointError(f"the checkpoint holds a {desc['opaque'][0]} node, which can only be "
                          "rebuilt from a template: call load(path, like=<a tree of that "
                          "structure>)")


def _describe(tree: Any) -> tuple[Any, list[str], list[Any], Any]:
    leaves, treedef = tree_flatten(tree)
    paths: list[str] = []
    desc = _encode(tree_unflatten(treedef, range(len(leaves))), "", paths)
    return desc, paths, leaves, treedef


# ------------------------------------------------------------------ save / load

def _to_numpy(x: Any, path: str) -> np.ndarray:
    if isinstance(x, Tracer):
        raise CheckpointError(f"cannot save the traced value at {path}: save concrete arrays, "
                              "outside jit/vmap/grad")
    if hasattr(x, "__cuda_array_interface__"):
        x = x.get()
    arr = np.asarray(x)
    if arr.dtype.hasobject:
        raise CheckpointError(f"cannot save the leaf at {path} of type {type(x).__name__} "
                              "(object arrays would need pickle); leaves must be arrays or "
                              "numbers")
    return arr


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save(path: str | os.PathLike, tree: Any) -> None:
    """Write the pytree of arrays `tree` to `path` atomically: the data goes to a temporary
    file in the same directory, is flushed to disk, then renamed over `path`, so a crash
    leaves either the old file or the new one, never a half-written one.

    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
    >>> save(p, {"w": np.ones(2), "b": None}); load(p)
    {'b': None, 'w': array([1., 1.])}
    """
    path = os.fspath(path)
    desc, paths, leaves, treedef = _describe(tree)
    arrays = {str(i): _to_numpy(x, p) for i, (x, p) in enumerate(zip(leaves, paths))}
    header = {"format": _FORMAT, "structure": desc, "paths": paths, "treedef": repr(treedef)}
    arrays[_STRUCTURE] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    directory = os.path.dirname(os.path.abspath(path))
    prefix = _temporary_prefix(path)
    _remove_stale_temporaries(directory, prefix)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f"{prefix}{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; a checkpoint is not
        os.replace(tmp, path)
    except BaseException as e:
        os.unlink(tmp)
        if isinstance(e, OSError) and e.errno is not None:  # disk full, quota...: say where
            raise type(e)(e.errno, f"fnad.save could not write the checkpoint {path}: "
                          f"{e.strerror}") from e
        raise
    _fsync_directory(directory)


def _temporary_prefix(path: str) -> str:
    """The names of `path`'s temporary files: `.name.<host>.<pid>.<random>.tmp`."""
    return f".{os.path.basename(path)}.{socket.gethostname().replace('.', '_')}."


def _remove_stale_temporaries(directory: str, prefix: str) -> None:
    """Delete the temporary files a killed save of this checkpoint left on this host: those
    whose writing process is gone (a live one may be another save in progress)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid = name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass  # removed meanwhile, or not ours to remove


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, under another user
        return True
    return True


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories can't be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path: str | os.PathLike, like: Any = None) -> Any:
    """Read a pytree written by `save`. With `like`, the result has `like`'s exact node types
    (namedtuples, dataclasses...), and its structure, shapes and dtypes are checked against
    `like`'s, with a `CheckpointError` naming the first difference.

    Without `like`, dicts (keys in flattening order, i.e. sorted), lists, tuples and None
    come back as such, and namedtuples as new namedtuple classes of the same name and fields.
    """
    path = os.fspath(path)
    header, leaves = _read(path)
    if like is None:
        return _decode(header["structure"], leaves)
    desc, paths, like_leaves, treedef = _describe(like)
    if desc != header["structure"]:
        raise CheckpointError(f"{path} holds a tree of structure {header['treedef']}, but "
                              f"like= has structure {treedef!r}")
    for x, ref, p in zip(leaves, like_leaves, paths):
        ref = np.asarray(ref)
        shape, dtype = ref.shape, ref.dtype
        if x.shape != shape or x.dtype != dtype:
            raise CheckpointError(f"{path}: the leaf at {p} is {x.dtype}{list(x.shape)}, but "
                                  f"like= has {dtype}{list(shape)} there")
    return tree_unflatten(treedef, leaves)


def _read(path: str) -> tuple[dict, list[np.ndarray]]:
    """The header and the leaves of the checkpoint at `path`, or a `CheckpointError` saying
    why the file is not a readable one (a missing file stays a FileNotFoundError)."""
    with open(path, "rb") as f:
        magic = f.read(6)
    if not magic:
        raise CheckpointError(f"{path} is empty: not an fnad checkpoint (a save that never "
                              "finished? fnad.save replaces the file only once it is whole)")
    if magic == b"\x93NUMPY":
        raise CheckpointError(f"{path} holds a single array (a .npy file), not an fnad "
                              "checkpoint; write checkpoints with fnad.save")
    if not magic.startswith(b"PK"):
        raise CheckpointError(f"{path} is not an fnad checkpoint: not a .npz (zip) file, it "
                              f"starts with the bytes {magic!r}")
    try:
        with np.load(path, allow_pickle=False) as data:
            if _STRUCTURE not in data.files:
                raise CheckpointError(f"{path} is not an fnad checkpoint (no structure "
                                      "record); write it with fnad.save")
            header = json.loads(data[_STRUCTURE].tobytes().decode())
            if not isinstance(header, dict) or header.get("format") != _FORMAT:
                version = header.get("format") if isinstance(header, dict) else None
                raise CheckpointError(f"{path} is an fnad checkpoint of format {version!r}, "
                                      f"but this fnad reads format {_FORMAT} only; load it "
                                      "with the fnad version that wrote it")
            leaves = [data[str(i)] for i in range(len(header["paths"]))]
    except (ValueError, EOFError, KeyError, TypeError, UnicodeDecodeError, zipfile.BadZipFile,
            zlib.error) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(f"{path} cannot be read as an fnad checkpoint: it is truncated "
                              f"or not a file fnad.save wrote ({type(e).__name__}: {e})") from e
    return header, leaves


__all__ = ["CheckpointError", "load", "save"]
