"""Pytrees: nested containers of arrays that every transform accepts as arguments and results.

Tuples, lists, dicts, ``None``, namedtuples, registered dataclasses and user-registered node
types are *nodes*; everything else is a *leaf*. Flattening returns the leaves in a fixed
order and a hashable `PyTreeDef`, which `jit` uses as part of its cache key.
"""

from __future__ import annotations

import builtins
import collections
import dataclasses
import functools
import operator
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

from fnad.core.errors import ArgumentTypeError, FnadError

# The short jax.tree names (map, all, ...) are left out of __all__: a star import would
# shadow the builtins.
__all__ = [
    "DictKey",
    "FlattenedIndexKey",
    "GetAttrKey",
    "KeyEntry",
    "KeyPath",
    "Partial",
    "PyTreeDef",
    "PyTreeRegistrationError",
    "SequenceKey",
    "TreeStructureError",
    "all_leaves",
    "flatten_one_level",
    "flatten_one_level_with_keys",
    "is_tree_node",
    "keystr",
    "register_dataclass",
    "register_pytree_node",
    "register_pytree_node_class",
    "register_pytree_with_keys",
    "register_pytree_with_keys_class",
    "register_static",
    "static",
    "tree_all",
    "tree_broadcast",
    "tree_broadcast_prefix",
    "tree_flatten",
    "tree_flatten_with_path",
    "tree_leaves",
    "tree_leaves_with_path",
    "tree_map",
    "tree_map_with_path",
    "tree_reduce",
    "tree_reduce_associative",
    "tree_structure",
    "tree_transpose",
    "tree_unflatten",
    "treedef_children",
    "treedef_is_leaf",
    "treedef_tuple",
]

T = TypeVar("T")
_NoneType = type(None)


class TreeStructureError(FnadError, ValueError):
    """Two pytrees that should have the same structure (or one be a prefix of the other) don't."""


class PyTreeRegistrationError(FnadError, ValueError):
    """A type could not be registered as a pytree node."""


# ---------------------------------------------------------------------------------------------
# Key paths: each child of a node is named by a key entry; a leaf's path is the tuple of the
# entries from the root down to it (`tree_flatten_with_path`, `keystr`).


@dataclasses.dataclass(frozen=True)
class SequenceKey:
    """Child ``idx`` of a tuple or list; prints as ``[idx]``.

    >>> str(SequenceKey(0))
    '[0]'
    """

    idx: int

    def __str__(self) -> str:
        return f"[{self.idx!r}]"

    def _simple(self) -> str:
        return str(self.idx)


@dataclasses.dataclass(frozen=True)
class DictKey:
    """The child under ``key`` of a dict (or OrderedDict, defaultdict); prints as ``['key']``.

    >>> str(DictKey("w"))
    "['w']"
    """

    key: Hashable

    def __str__(self) -> str:
        return f"[{self.key!r}]"

    def _simple(self) -> str:
        return str(self.key)


@dataclasses.dataclass(frozen=True)
class GetAttrKey:
    """The attribute ``name`` of a namedtuple or dataclass node; prints as ``.name``.

    >>> str(GetAttrKey("bias"))
    '.bias'
    """

    name: str

    def __str__(self) -> str:
        return f".{self.name}"

    def _simple(self) -> str:
        return self.name


@dataclasses.dataclass(frozen=True)
class FlattenedIndexKey:
    """Child ``key`` of a node registered without keys (`register_pytree_node`).

    >>> str(FlattenedIndexKey(1))
    '[<flat index 1>]'
    """

    key: int

    def __str__(self) -> str:
        return f"[<flat index {self.key}>]"

    def _simple(self) -> str:
        return str(self.key)


KeyEntry = Any
KeyPath = tuple[Any, ...]


def keystr(keys: KeyPath, *, simple: bool = False, separator: str = "") -> str:
    """A key path as a string: each entry's ``str`` joined by ``separator``. With ``simple``,
    entries print bare (``0``, ``w``, ``bias``), shorter but ambiguous (list index 0 and dict
    key ``"0"`` look alike).

    >>> path = (DictKey("layers"), SequenceKey(0), GetAttrKey("w"))
    >>> keystr(path), keystr(path, simple=True, separator="/")
    ("['layers'][0].w", 'layers/0/w')
    """
    if simple:
        return separator.join(k._simple() if hasattr(k, "_simple") else str(k) for k in keys)
    return separator.join(str(k) for k in keys)


# ---------------------------------------------------------------------------------------------
# The registry. Each node type has a handler; lookups are by exact type (a subclass of a
# registered type is a leaf unless registered itself), as in JAX.


class _NodeType:
    """How to take one node type apart and put it back together.

    ``flatten(x) -> (children, aux)`` and ``unflatten(aux, children) -> x``; ``aux`` goes into
    the treedef, so it must be hashable. ``describe(aux, child_strs)`` renders the node for
    `PyTreeDef.__repr__`; ``flatten_with_keys(x) -> ([(key, child), ...], aux)`` names each
    child by its key-path entry (`SequenceKey`, `DictKey`, `GetAttrKey`, ...).
    """

    __slots__ = ("cls", "flatten", "unflatten", "describe", "flatten_with_keys", "auto")

    def __init__(self, cls, flatten, unflatten, describe, flatten_with_keys, auto=False):
        self.cls = cls
        self.flatten = flatten
        self.unflatten = unflatten
        self.describe = describe
        self.flatten_with_keys = flatten_with_keys
        self.auto = auto  # made on first sight (namedtuples); an explicit registration wins


_registry: dict[type, _NodeType] = {}


def _keyed_by(flatten: Callable, key: Callable[[Any, int], Any]) -> Callable:
    """A ``flatten_with_keys`` from a ``flatten`` and ``key(aux, i)`` naming child ``i``."""

    def flatten_with_keys(x):
        children, aux = flatten(x)
        return [(key(aux, i), c) for i, c in enumerate(children)], aux

    return flatten_with_keys


def _seq_key(aux, i):
    return SequenceKey(i)


def _dict_key(keys, i):
    return DictKey(keys[i])


def _sorted_keys(d: dict) -> tuple:
    """A dict's keys in sorted order; keys that don't compare are grouped by type first."""
    try:
        return tuple(sorted(d))
    except TypeError:
        groups: dict[type, list] = {}
        for k in d:
            groups.setdefault(type(k), []).append(k)
        out: list = []
        for t in sorted(groups, key=lambda t: (t.__module__, t.__qualname__)):
            ks = groups[t]
            try:
                ks.sort()
            except TypeError:
                pass  # incomparable within one type: keep insertion order
            out.extend(ks)
        return tuple(out)


def _seq_describe(open_, close):
    def describe(aux, cs):
        if open_ == "(" and len(cs) == 1:
            return f"({cs[0]},)"
        return open_ + ", ".join(cs) + close

    return describe


def _dict_body(keys, cs):
    return "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(keys, cs)) + "}"


def _custom_node(name: str, aux: Any, cs: list[str]) -> str:
    """A node that is not a tuple, list, dict or None, as JAX prints it."""
    return f"CustomNode({name}[{aux}], [{', '.join(cs)}])"


def _register_builtin(cls, flatten, unflatten, describe, key) -> None:
    _registry[cls] = _NodeType(cls, flatten, unflatten, describe, _keyed_by(flatten, key))


def _dict_flatten(x: dict) -> tuple[list, tuple]:
    keys = _sorted_keys(x)
    return [x[k] for k in keys], keys


def _defaultdict_flatten(x: collections.defaultdict) -> tuple[list, tuple]:
    keys = _sorted_keys(x)
    return [x[k] for k in keys], (x.default_factory, keys)


_register_builtin(tuple, lambda x: (x, None), lambda aux, cs: tuple(cs),
                  _seq_describe("(", ")"), _seq_key)
_register_builtin(list, lambda x: (x, None), lambda aux, cs: list(cs),
                  _seq_describe("[", "]"), _seq_key)
_register_builtin(dict, _dict_flatten, lambda keys, cs: dict(zip(keys, cs)), _dict_body,
                  _dict_key)
_register_builtin(_NoneType, lambda x: ((), None), lambda aux, cs: None,
                  lambda aux, cs: "None", _seq_key)
_register_builtin(
    collections.OrderedDict,
    lambda x: (list(x.values()), tuple(x)),
    lambda keys, cs: collections.OrderedDict(zip(keys, cs)),
    lambda keys, cs: _custom_node("OrderedDict", keys, cs),
    _dict_key,
)
_register_builtin(
    collections.defaultdict,
    _defaultdict_flatten,
    lambda aux, cs: collections.defaultdict(aux[0], zip(aux[1], cs)),
    lambda aux, cs: _custom_node("defaultdict", aux, cs),
    lambda aux, i: DictKey(aux[1][i]),
)


def _namedtuple_node(cls: type) -> _NodeType:
    fields = cls._fields  # type: ignore[attr-defined]

    def flatten(x):
        return x, None

    node = _NodeType(
        cls,
        flatten,
        lambda aux, cs: cls(*cs),
        lambda aux, cs: _custom_node("namedtuple", cls.__name__, cs),
        _keyed_by(flatten, lambda aux, i: GetAttrKey(fields[i])),
        auto=True,
    )
    _registry[cls] = node
    return node


def _node_type(t: type) -> _NodeType | None:
    """The handler for exact type ``t``, or None when values of ``t`` are leaves."""
    node = _registry.get(t)
    if node is None and issubclass(t, tuple) and hasattr(t, "_fields"):
        node = _namedtuple_node(t)
    return node


def _check_registrable(cls: Any) -> None:
    if not isinstance(cls, type):
        raise PyTreeRegistrationError(
            f"Only classes can be registered as pytree nodes, got {cls!r}."
        )
    node = _registry.get(cls)
    if node is not None and not node.auto:
        raise PyTreeRegistrationError(
            f"{cls.__qualname__} is already registered as a pytree node; a type can be "
            "registered only once."
        )


def register_pytree_node(
    nodetype: type,
    flatten_func: Callable[[Any], tuple[Iterable[Any], Hashable]],
    unflatten_func: Callable[[Any, Sequence[Any]], Any],
    flatten_with_keys_func: Callable[[Any], tuple[Iterable[tuple[Any, Any]], Hashable]]
    | None = None,
) -> None:
    """Make instances of ``nodetype`` pytree nodes.

    ``flatten_func(x)`` returns ``(children, aux_data)``: the children are pytrees themselves;
    ``aux_data`` is static (kept in the treedef, so it must be hashable and comparable).
    ``unflatten_func(aux_data, children)`` rebuilds the node. ``flatten_with_keys_func(x)``,
    if given, returns ``((key, child) pairs, aux_data)`` for the key paths (by default the
    children's keys are `FlattenedIndexKey`s).

    >>> class Pair:
    ...     def __init__(self, a, b): self.a, self.b = a, b
    >>> register_pytree_node(Pair, lambda p: ((p.a, p.b), None), lambda _, c: Pair(*c))
    >>> tree_leaves(Pair(1, [2, 3]))
    [1, 2, 3]
    """
    _register_custom(nodetype, flatten_func, unflatten_func, flatten_with_keys_func)


def _register_custom(cls: type, flatten_fn: Callable | None, unflatten_fn: Callable,
                     flatten_with_keys_fn: Callable | None) -> None:
    """Register a user node type; keys default to `FlattenedIndexKey` (JAX's convention)."""
    _check_registrable(cls)
    name = cls.__qualname__
    if flatten_fn is None:
        def flatten(x):
            pairs, aux = flatten_with_keys_fn(x)  # type: ignore[misc]
            return [c for _, c in pairs], aux
    else:
        def flatten(x):
            children, aux = flatten_fn(x)
            return list(children), aux
    if flatten_with_keys_fn is None:
        flatten_with_keys = _keyed_by(flatten, lambda aux, i: FlattenedIndexKey(i))
    else:
        def flatten_with_keys(x):
            pairs, aux = flatten_with_keys_fn(x)
            return [(k, c) for k, c in pairs], aux

    _registry[cls] = _NodeType(
        cls,
        flatten,
        unflatten_fn,
        lambda aux, cs: _custom_node(name, aux, cs),
        flatten_with_keys,
    )


def register_pytree_with_keys(
    nodetype: type,
    flatten_with_keys: Callable[[Any], tuple[Iterable[tuple[Any, Any]], Hashable]],
    unflatten_func: Callable[[Any, Sequence[Any]], Any],
    flatten_func: Callable[[Any], tuple[Iterable[Any], Hashable]] | None = None,
) -> None:
    """Like `register_pytree_node`, with each child named by a key for key paths.

    ``flatten_with_keys(x)`` returns ``([(key, child), ...], aux_data)``; ``flatten_func``,
    if given, must return the same children and aux data without keys (a faster path for
    the functions that need no keys).

    >>> class Point:
    ...     def __init__(self, x, y): self.x, self.y = x, y
    >>> register_pytree_with_keys(
    ...     Point, lambda p: (((GetAttrKey("x"), p.x), (GetAttrKey("y"), p.y)), None),
    ...     lambda _, c: Point(*c))
    >>> [keystr(path) for path, _ in tree_leaves_with_path([Point(1, 2)])]
    ['[0].x', '[0].y']
    """
    _register_custom(nodetype, flatten_func, unflatten_func, flatten_with_keys)


def register_pytree_node_class(cls: type[T]) -> type[T]:
    """Class decorator: register ``cls`` with its ``tree_flatten`` method and its
    ``tree_unflatten(aux_data, children)`` classmethod.

    >>> @register_pytree_node_class
    ... class Box:
    ...     def __init__(self, v): self.v = v
    ...     def tree_flatten(self): return (self.v,), None
    ...     @classmethod
    ...     def tree_unflatten(cls, aux, children): return cls(*children)
    >>> tree_map(lambda v: v * 2, Box(3)).v
    6
    """
    register_pytree_node(cls, operator.methodcaller("tree_flatten"),
                         cls.tree_unflatten)  # type: ignore[attr-defined]
    return cls


def register_pytree_with_keys_class(cls: type[T]) -> type[T]:
    """Class decorator: register ``cls`` with its ``tree_flatten_with_keys`` method (and its
    ``tree_flatten`` method, if it has one) and its ``tree_unflatten`` classmethod.

    >>> @register_pytree_with_keys_class
    ... class Named:
    ...     def __init__(self, w): self.w = w
    ...     def tree_flatten_with_keys(self): return ((GetAttrKey("w"), self.w),), None
    ...     @classmethod
    ...     def tree_unflatten(cls, aux, children): return cls(*children)
    >>> keystr(tree_leaves_with_path(Named(1.0))[0][0])
    '.w'
    """
    flatten = operator.methodcaller("tree_flatten") if hasattr(cls, "tree_flatten") else None
    register_pytree_with_keys(cls, operator.methodcaller("tree_flatten_with_keys"),
                              cls.tree_unflatten, flatten)  # type: ignore[attr-defined]
    return cls


def register_static(cls: type[T]) -> type[T]:
    """Class decorator: instances of ``cls`` become pytrees with no leaves, the instance
    itself kept in the treedef, so ``jit`` treats it as static (it must be hashable).

    >>> @register_static
    ... class Mode(str):
    ...     pass
    >>> tree_leaves([1.0, Mode("train")])
    [1.0]
    """
    register_pytree_with_keys(cls, lambda x: ((), x), lambda x, _: x)
    return cls


def register_dataclass(
    nodetype: type[T] | None = None,
    data_fields: Sequence[str] | None = None,
    meta_fields: Sequence[str] | None = None,
    drop_fields: Sequence[str] = (),
) -> Any:
    """Register a dataclass as a pytree node; usable as ``@register_dataclass`` or with arguments.

    Data fields are children (pytrees); meta fields are static and kept in the treedef, so
    their values must be hashable. By default the fields declared with `static` (metadata
    ``static=True``) are meta fields and every other field is a data field; naming only one
    of the two lists makes the other "all remaining fields". Rebuilding a node does not call
    ``__init__`` or ``__post_init__`` (as in equinox), so transforms can place any value in the
    data fields — tracers, batch axes, ``None`` — without tripping validation. Fields in
    ``drop_fields`` and fields with ``init=False`` are left out (not set on a rebuilt node),
    as in JAX; a class that is not a dataclass needs both lists, naming its attributes.

    >>> @register_dataclass(meta_fields=["activation"])
    ... @dataclasses.dataclass(frozen=True)
    ... class Dense:
    ...     w: Any
    ...     b: Any
    ...     activation: str = "relu"
    >>> tree_structure(Dense(1.0, 2.0))
    PyTreeDef(CustomNode(Dense[('relu',)], [*, *]))
    """
    cls = nodetype
    if cls is None:
        return lambda c: register_dataclass(c, data_fields, meta_fields, drop_fields)
    is_dataclass = isinstance(cls, type) and dataclasses.is_dataclass(cls)
    if not is_dataclass and (data_fields is None or meta_fields is None):
        raise PyTreeRegistrationError(
            f"register_dataclass needs a dataclass, or data_fields and meta_fields, got "
            f"{cls!r}; decorate the class with @dataclasses.dataclass first (below "
            "@register_dataclass), or name its attributes in both lists.")
    _check_registrable(cls)
    all_fields = ([f.name for f in dataclasses.fields(cls) if f.init and f.name not in drop_fields]
                  if is_dataclass else [*data_fields, *meta_fields])  # type: ignore[misc]
    if data_fields is None and meta_fields is None:
        meta = [f.name for f in dataclasses.fields(cls) if f.metadata.get("static", False)
                and f.name in all_fields]
        data = [f for f in all_fields if f not in meta]
    elif data_fields is None:
        meta = list(meta_fields)  # type: ignore[arg-type]
        data = [f for f in all_fields if f not in meta]
    elif meta_fields is None:
        data = list(data_fields)
        meta = [f for f in all_fields if f not in data]
    else:
        data, meta = list(data_fields), list(meta_fields)
    unknown = [f for f in data + meta if f not in all_fields]
    both = sorted(set(data) & set(meta))
    missing = [f for f in all_fields if f not in data and f not in meta]
    if unknown or both or missing or len(set(data)) != len(data) or len(set(meta)) != len(meta):
        raise PyTreeRegistrationError(
            f"register_dataclass({cls.__qualname__}): data_fields={data} and meta_fields={meta} "
            f"must split the dataclass fields {all_fields} exactly once each"
            + (f"; unknown: {unknown}" if unknown else "")
            + (f"; in both: {both}" if both else "")
            + (f"; in neither: {missing} (or name them in drop_fields)" if missing else "")
            + "."
        )
    data_t, meta_t = tuple(data), tuple(meta)
    get_data = _tuple_getter(data_t)
    get_meta = _tuple_getter(meta_t)
    setattr_ = object.__setattr__
    new = object.__new__

    def flatten(x):
        return get_data(x), get_meta(x)

    def unflatten(aux, children):
        obj = new(cls)
        for name, value in zip(data_t, children):
            setattr_(obj, name, value)
        for name, value in zip(meta_t, aux):
            setattr_(obj, name, value)
        return obj

    _registry[cls] = _NodeType(cls, flatten, unflatten,
                               lambda aux, cs: _custom_node(cls.__name__, aux, cs),
                               _keyed_by(flatten, lambda aux, i: GetAttrKey(data_t[i])))
    return cls


def _tuple_getter(names: tuple[str, ...]) -> Callable[[Any], tuple]:
    if not names:
        return lambda x: ()
    if len(names) == 1:
        get1 = operator.attrgetter(names[0])
        return lambda x: (get1(x),)
    return operator.attrgetter(*names)


# ---------------------------------------------------------------------------------------------
# PyTreeDef: the structure of a pytree, stored as the post-order sequence of its nodes. A leaf
# is the `_LEAF` marker; a node is the tuple (type, aux_data, number_of_children). Equality and
# hashing of that flat tuple run in C, which keeps jit's cache lookups cheap.


class _Leaf:
    __slots__ = ()

    def __repr__(self) -> str:
        return "*"

    def __reduce__(self):
        return "_LEAF"


_LEAF: Any = _Leaf()
_NONE_NODE = (_NoneType, None, 0)


class PyTreeDef:
    """The structure of a pytree: everything but its leaves. Immutable, hashable, comparable.

    >>> leaves, treedef = tree_flatten((1, {"a": 2, "b": [3, 4]}))
    >>> treedef
    PyTreeDef((*, {'a': *, 'b': [*, *]}))
    >>> treedef.unflatten([10, 20, 30, 40])
    (10, {'a': 20, 'b': [30, 40]})
    """

    __slots__ = ("_nodes", "_num_leaves", "_hash", "_nested")

    _nodes: tuple
    _num_leaves: int
    _hash: int | None
    _nested: Any

    def __init__(self) -> None:
        raise ArgumentTypeError("PyTreeDef is made by tree_flatten / tree_structure, not directly.")

    @classmethod
    def _make(cls, nodes: tuple, num_leaves: int) -> PyTreeDef:
        self = object.__new__(cls)
        self._nodes = nodes
        self._num_leaves = num_leaves
        self._hash = None
        self._nested = None
        return self

    @property
    def num_leaves(self) -> int:
        """How many leaves a tree of this structure has."""
        return self._num_leaves

    @property
    def num_nodes(self) -> int:
        """How many nodes (leaves included) a tree of this structure has."""
        return len(self._nodes)

    def unflatten(self, leaves: Iterable[Any]) -> Any:
        """Build the tree of this structure with ``leaves`` in flattening order."""
        return tree_unflatten(self, leaves)

    def children(self) -> list[PyTreeDef]:
        """The treedefs of the root's children (empty for a leaf or ``None``)."""
        node = self._tree()
        if node is _LEAF:
            return []
        return [_from_nested(c) for c in node[2]]

    def compose(self, inner: PyTreeDef) -> PyTreeDef:
        """This structure with every leaf replaced by the structure ``inner``.

        >>> tree_structure([0, 0]).compose(tree_structure((0, 0)))
        PyTreeDef([(*, *), (*, *)])
        """
        sub = inner._tree()

        def put(n):
            return sub if n is _LEAF else (n[0], n[1], tuple(put(c) for c in n[2]))

        return _from_nested(put(self._tree()))

    def node_data(self) -> tuple[type, Any] | None:
        """The root's (node type, static data), or None for a leaf.

        >>> tree_structure({"b": 1, "a": 2}).node_data()
        (<class 'dict'>, ['a', 'b'])
        """
        node = self._tree()
        if node is _LEAF:
            return None
        return node[0], list(node[1]) if node[0] is dict else node[1]  # JAX's: a list of keys

    def flatten_up_to(self, tree: Any) -> list[Any]:
        """Flatten ``tree`` only as deep as this structure: one entry per leaf of this treedef.

        Where this structure has a leaf, ``tree`` may hold a whole subtree, which is returned
        as it is; everywhere else ``tree`` must have the same nodes, or `TreeStructureError`.

        >>> tree_structure([0, 0]).flatten_up_to([(1, 2), {"a": 3}])
        [(1, 2), {'a': 3}]
        """
        return _match_up_to(self, tree, "flatten_up_to")

    def _tree(self) -> Any:
        """The nested view of this structure: `_LEAF` or (type, aux, children_tuple)."""
        if self._nested is None:
            stack: list[Any] = []
            for node in self._nodes:
                if node is _LEAF:
                    stack.append(_LEAF)
                    continue
                n = node[2]
                children = tuple(stack[len(stack) - n :])
                del stack[len(stack) - n :]
                stack.append((node[0], node[1], children))
            (self._nested,) = stack
        return self._nested

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, PyTreeDef):
            return NotImplemented
        return self._num_leaves == other._num_leaves and self._nodes == other._nodes

    def __hash__(self) -> int:
        h = self._hash
        if h is None:
            try:
                h = hash(self._nodes)
            except TypeError:  # unhashable static data (a dict): hashed by node types alone,
                # compared by ==, as JAX's treedefs are
                h = hash(tuple(n if n is _LEAF else (n[0], n[2]) for n in self._nodes))
            self._hash = h
        return h

    def __repr__(self) -> str:
        return f"PyTreeDef({_describe(self._tree())})"

    def __reduce__(self):
        return (_rebuild_treedef, (self._nodes, self._num_leaves))


def _rebuild_treedef(nodes: tuple, num_leaves: int) -> PyTreeDef:
    return PyTreeDef._make(nodes, num_leaves)


def _describe(node: Any) -> str:
    if node is _LEAF:
        return "*"
    kind, aux, children = node
    return _registry[kind].describe(aux, [_describe(c) for c in children])


def _from_nested(node: Any) -> PyTreeDef:
    nodes: list[Any] = []
    num_leaves = 0

    def walk(n):
        nonlocal num_leaves
        if n is _LEAF:
            nodes.append(_LEAF)
            num_leaves += 1
            return
        for c in n[2]:
            walk(c)
        nodes.append((n[0], n[1], len(n[2])))

    walk(node)
    treedef = PyTreeDef._make(tuple(nodes), num_leaves)
    treedef._nested = node
    return treedef


# ---------------------------------------------------------------------------------------------
# Flattening and unflattening: the jit dispatch hot path.


def _flatten_into(x: Any, leaves: list, nodes: list, is_leaf: Callable[[Any], bool] | None) -> None:
    if is_leaf is not None and is_leaf(x):
        leaves.append(x)
        nodes.append(_LEAF)
        return
    t = type(x)
    if t is tuple or t is list:
        for c in x:
            tc = type(c)
            if is_leaf is None and tc not in _registry and not issubclass(tc, tuple):
                leaves.append(c)  # fast path: a leaf child needs no recursive call
                nodes.append(_LEAF)
            else:
                _flatten_into(c, leaves, nodes, is_leaf)
        nodes.append((t, None, len(x)))
    elif t is dict:
        keys = _sorted_keys(x)
        for k in keys:
            c = x[k]
            tc = type(c)
            if is_leaf is None and tc not in _registry and not issubclass(tc, tuple):
                leaves.append(c)
                nodes.append(_LEAF)
            else:
                _flatten_into(c, leaves, nodes, is_leaf)
        nodes.append((dict, keys, len(keys)))
    elif x is None:
        nodes.append(_NONE_NODE)
    else:
        node = _node_type(t)
        if node is None:
            leaves.append(x)
            nodes.append(_LEAF)
            return
        children, aux = node.flatten(x)
        for c in children:
            _flatten_into(c, leaves, nodes, is_leaf)
        nodes.append((t, aux, len(children)))


def tree_flatten(
    tree: Any, is_leaf: Callable[[Any], bool] | None = None
) -> tuple[list[Any], PyTreeDef]:
    """Split ``tree`` into its leaves (in a fixed order) and its structure.

    Dict children are taken in sorted-key order. ``None`` is a node with no children, so it
    contributes no leaf. ``is_leaf(subtree) -> bool``, if given, is asked about every subtree
    before it is taken apart, and can stop the descent there.

    >>> tree_flatten({"b": [1, 2], "a": None})
    ([1, 2], PyTreeDef({'a': None, 'b': [*, *]}))
    """
    leaves: list[Any] = []
    nodes: list[Any] = []
    _flatten_into(tree, leaves, nodes, is_leaf)
    return leaves, PyTreeDef._make(tuple(nodes), len(leaves))


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> Any:
    """Rebuild a tree of structure ``treedef`` from ``leaves`` (inverse of `tree_flatten`).

    >>> leaves, treedef = tree_flatten([1, (2, 3)])
    >>> tree_unflatten(treedef, [x * 10 for x in leaves])
    [10, (20, 30)]
    """
    if not isinstance(leaves, (list, tuple)):
        leaves = list(leaves)
    if len(leaves) != treedef._num_leaves:
        raise TreeStructureError(
            f"tree_unflatten: {treedef!r} has {treedef._num_leaves} leaves, but "
            f"{len(leaves)} were given."
        )
    stack: list[Any] = []
    push = stack.append
    i = 0
    for node in treedef._nodes:
        if node is _LEAF:
            push(leaves[i])
            i += 1
            continue
        kind, aux, n = node
        if n:
            children = stack[-n:]
            del stack[-n:]
        else:
            children = []
        if kind is tuple:
            push(tuple(children))
        elif kind is list:
            push(children)
        elif kind is dict:
            push(dict(zip(aux, children)))
        elif kind is _NoneType:
            push(None)
        else:
            push(_registry[kind].unflatten(aux, children))
    return stack[0]


def tree_leaves(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> list[Any]:
    """The leaves of ``tree`` in flattening order.

    >>> tree_leaves({"w": 1, "b": (2, None)})
    [2, 1]
    """
    leaves: list[Any] = []
    _flatten_into(tree, leaves, [], is_leaf)
    return leaves


def tree_structure(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> PyTreeDef:
    """The structure of ``tree``.

    >>> tree_structure((1, [2, 3]))
    PyTreeDef((*, [*, *]))
    """
    return tree_flatten(tree, is_leaf)[1]


# ---------------------------------------------------------------------------------------------
# Matching one tree against another's structure.


def _kind_name(kind: type) -> str:
    if kind is _NoneType:
        return "None"
    return kind.__qualname__


def _value_desc(x: Any) -> str:
    if x is None:
        return "None"
    r = repr(x)
    if len(r) > 60:
        r = r[:57] + "..."
    return f"{type(x).__qualname__} {r}"


def _mismatch(
    detail: str, path: list, treedef: PyTreeDef, whole: Any, context: str
) -> TreeStructureError:
    where = keystr(tuple(path)) or "the root"
    try:
        got = repr(tree_structure(whole))
    except Exception:  # pragma: no cover - a broken custom flatten: still say where
        got = "<unavailable>"
    return TreeStructureError(
        f"{context}: tree structures differ at {where}: {detail}.\n"
        f"  expected: {treedef!r}\n"
        f"  got:      {got}\n"
        "The second structure must match the first, except that where the first has a "
        "leaf the second may have any subtree."
    )


def _dict_key_difference(kind: type, aux: Any, x_aux: Any) -> str:
    if kind is collections.defaultdict:
        if aux[0] != x_aux[0]:
            return f"defaultdict factories differ: expected {aux[0]!r}, got {x_aux[0]!r}"
        aux, x_aux = aux[1], x_aux[1]
    expected, got = list(aux), list(x_aux)
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    if not missing and not extra:
        return f"dict key order differs: expected {expected}, got {got}"
    notes = ([f"missing {missing}"] if missing else []) + ([f"unexpected {extra}"] if extra else [])
    return f"dict keys differ: expected {expected}, got {got} ({'; '.join(notes)})"


def _up_to(node: Any, x: Any, out: list) -> bool:
    """Fast `_flatten_up_to`: appends to ``out`` and says whether ``x`` matched, no message."""
    if node is _LEAF:
        out.append(x)
        return True
    kind, aux, children = node
    if type(x) is not kind:
        return False
    if kind is tuple or kind is list:
        if len(x) != len(children):
            return False
        xs = x
    elif kind is dict:
        if len(x) != len(aux):
            return False
        try:
            xs = [x[k] for k in aux]
        except KeyError:
            return False
    elif kind is _NoneType:
        return True
    else:
        xs, x_aux = _registry[kind].flatten(x)
        if len(xs) != len(children) or x_aux != aux:
            return False
    for c, cx in zip(children, xs):
        if c is _LEAF:
            out.append(cx)
        elif not _up_to(c, cx, out):
            return False
    return True


def _match_up_to(treedef: PyTreeDef, x: Any, context: str) -> list:
    """``x`` flattened up to ``treedef``; on a mismatch, a `TreeStructureError` that says where."""
    nested = treedef._tree()
    out: list = []
    if not _up_to(nested, x, out):
        out = []
        _flatten_up_to(nested, x, out, [], treedef, x, context)
    return out


def _flatten_up_to(
    node: Any, x: Any, out: list, path: list, treedef: PyTreeDef, whole: Any, context: str
) -> None:
    if node is _LEAF:
        out.append(x)
        return
    kind, aux, children = node
    t = type(x)

    if t is not kind:
        expected = _describe(node)
        if len(expected) > 60:
            expected = expected[:57] + "..."
        detail = f"expected {expected} (a {_kind_name(kind)}), got {_value_desc(x)}"
        raise _mismatch(detail, path, treedef, whole, context)
    pairs, x_aux = _registry[kind].flatten_with_keys(x)
    if x_aux != aux:
        if kind is dict or kind is collections.OrderedDict or kind is collections.defaultdict:
            detail = _dict_key_difference(kind, aux, x_aux)
        else:
            detail = (
                f"{_kind_name(kind)} nodes differ in static data: expected {aux!r}, got {x_aux!r}"
            )
        raise _mismatch(detail, path, treedef, whole, context)
    if len(pairs) != len(children):
        detail = f"expected a {_kind_name(kind)} with {len(children)} children, got {len(pairs)}"
        raise _mismatch(detail, path, treedef, whole, context)
    for cnode, (key, cx) in zip(children, pairs):
        path.append(key)
        _flatten_up_to(cnode, cx, out, path, treedef, whole, context)
        path.pop()


# ---------------------------------------------------------------------------------------------
# Utilities on top of flatten / unflatten.


def tree_map(
    f: Callable[..., Any], tree: Any, *rest: Any, is_leaf: Callable[[Any], bool] | None = None
) -> Any:
    """Apply ``f`` to each leaf of ``tree`` (and the matching leaves of ``rest``).

    Every tree in ``rest`` must have ``tree``'s structure (where ``tree`` has a leaf, a tree in
    ``rest`` may have a whole subtree, which is passed to ``f`` as it is, as in JAX);
    otherwise `TreeStructureError` names both structures and where they differ.

    >>> tree_map(lambda x, y: x + y, {"a": 1, "b": (2, 3)}, {"a": 10, "b": (20, 30)})
    {'a': 11, 'b': (22, 33)}
    """
    leaves, treedef = tree_flatten(tree, is_leaf)
    if not rest:
        return tree_unflatten(treedef, [f(x) for x in leaves])
    columns = [leaves]
    for k, other in enumerate(rest):
        columns.append(_match_up_to(treedef, other, f"tree_map: trees 1 and {k + 2}"))
    return tree_unflatten(treedef, [f(*xs) for xs in zip(*columns)])


_NO_INITIAL: Any = object()


def tree_reduce(
    function: Callable[[Any, Any], Any],
    tree: Any,
    initializer: Any = _NO_INITIAL,
    is_leaf: Callable[[Any], bool] | None = None,
) -> Any:
    """Fold ``function`` over the leaves of ``tree`` from the left, like `functools.reduce`.

    >>> tree_reduce(lambda a, b: a + b, {"x": 1, "y": [2, 3]}, 0)
    6
    """
    leaves = tree_leaves(tree, is_leaf)
    it = iter(leaves)
    if initializer is _NO_INITIAL:
        try:
            acc = next(it)
        except StopIteration:
            raise ArgumentTypeError(
                "tree_reduce() of a tree with no leaves needs an initializer."
            ) from None
    else:
        acc = initializer
    for x in it:
        acc = function(acc, x)
    return acc


def tree_all(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """Whether every leaf of ``tree`` is truthy (True for a tree without leaves).

    >>> tree_all([True, {"a": 1}]), tree_all((True, 0))
    (True, False)
    """
    return builtins.all(tree_leaves(tree, is_leaf))


def tree_broadcast_prefix(
    prefix_tree: Any, full_tree: Any, is_leaf: Callable[[Any], bool] | None = None
) -> list[Any]:
    """For each leaf of ``full_tree``, the leaf of ``prefix_tree`` whose subtree contains it.

    ``prefix_tree``'s structure must be a prefix of ``full_tree``'s: each of its leaves stands
    for a whole subtree of ``full_tree`` (this is how ``vmap``'s ``in_axes`` are matched to
    arguments). ``None`` in ``prefix_tree`` counts as a leaf (meaning "unbatched" there), as
    does anything ``is_leaf`` accepts; ``is_leaf`` applies to ``prefix_tree`` only.

    >>> tree_broadcast_prefix((0, None), ([1, 2], {"a": 3, "b": 4}))
    [0, 0, None, None]
    """
    if is_leaf is None:
        prefix_is_leaf: Callable[[Any], bool] = _is_none
    else:
        prefix_is_leaf = lambda x: x is None or is_leaf(x)
    return _broadcast_leaves(prefix_tree, full_tree, prefix_is_leaf, "tree_broadcast_prefix")


def _broadcast_leaves(prefix_tree: Any, full_tree: Any, is_leaf: Callable[[Any], bool] | None,
                      context: str) -> list[Any]:
    prefix_leaves, prefix_def = tree_flatten(prefix_tree, is_leaf)
    subtrees = _match_up_to(prefix_def, full_tree, context)
    result: list[Any] = []
    for p, sub in zip(prefix_leaves, subtrees):
        result.extend([p] * len(tree_leaves(sub)))
    return result


def tree_broadcast(prefix_tree: Any, full_tree: Any,
                   is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """``full_tree``'s structure, each leaf taken from the leaf of ``prefix_tree`` above it.

    ``prefix_tree``'s structure must be a prefix of ``full_tree``'s (``None`` is a node here,
    as everywhere but in `tree_broadcast_prefix`); ``is_leaf`` applies to ``prefix_tree``.

    >>> tree_broadcast((1, 2, 3), (0, {"a": 0, "b": 0}, (0, 0)))
    (1, {'a': 2, 'b': 2}, (3, 3))
    """
    leaves = _broadcast_leaves(prefix_tree, full_tree, is_leaf, "tree_broadcast")
    return tree_unflatten(tree_structure(full_tree), leaves)


def _is_none(x: Any) -> bool:
    return x is None


def tree_reduce_associative(
    operation: Callable[[Any, Any], Any],
    tree: Any,
    *,
    identity: Any = _NO_INITIAL,
    is_leaf: Callable[[Any], bool] | None = None,
) -> Any:
    """Reduce the leaves of ``tree`` with an associative ``operation``, pairing neighbours
    level by level (a balanced tree of depth log2(leaves), not a left fold). ``identity`` is
    the result for a tree with no leaves, and needed only then.

    >>> tree_reduce_associative(lambda a, b: a + b, [1, (2, 3), [4, 5, 6]])
    21
    """
    items = tree_leaves(tree, is_leaf)
    if not items:
        if identity is _NO_INITIAL:
            raise TreeStructureError(
                "tree_reduce_associative: the tree has no leaves; pass identity= (the "
                "operation's identity element) to reduce an empty tree.")
        return identity
    while len(items) > 1:
        paired = [operation(a, b) for a, b in zip(items[0::2], items[1::2])]
        items = paired + items[len(paired) * 2:]
    return items[0]


# ---------------------------------------------------------------------------------------------
# Key paths over whole trees.


def _flatten_keyed(x: Any, path: tuple, pairs: list, nodes: list, is_leaf: Any,
                   takes_path: bool) -> None:
    if is_leaf is not None and (is_leaf(path, x) if takes_path else is_leaf(x)):
        pairs.append((path, x))
        nodes.append(_LEAF)
        return
    t = type(x)
    node = _node_type(t)
    if node is None:
        pairs.append((path, x))
        nodes.append(_LEAF)
        return
    keyed, aux = node.flatten_with_keys(x)
    for k, c in keyed:
        _flatten_keyed(c, (*path, k), pairs, nodes, is_leaf, takes_path)
    nodes.append((t, aux, len(keyed)))


def tree_flatten_with_path(
    tree: Any, is_leaf: Callable[..., bool] | None = None, is_leaf_takes_path: bool = False
) -> tuple[list[tuple[KeyPath, Any]], PyTreeDef]:
    """`tree_flatten`, each leaf paired with its key path (a tuple of key entries).

    With ``is_leaf_takes_path``, ``is_leaf`` is called as ``is_leaf(path, subtree)``.

    >>> pairs, treedef = tree_flatten_with_path([1, {"x": 3}])
    >>> pairs
    [((SequenceKey(idx=0),), 1), ((SequenceKey(idx=1), DictKey(key='x')), 3)]
    """
    pairs: list[tuple[KeyPath, Any]] = []
    nodes: list[Any] = []
    _flatten_keyed(tree, (), pairs, nodes, is_leaf, is_leaf_takes_path)
    return pairs, PyTreeDef._make(tuple(nodes), len(pairs))


def tree_leaves_with_path(
    tree: Any, is_leaf: Callable[..., bool] | None = None, is_leaf_takes_path: bool = False
) -> list[tuple[KeyPath, Any]]:
    """The leaves of ``tree``, each as ``(key_path, leaf)``.

    >>> [(keystr(p), x) for p, x in tree_leaves_with_path({"w": [1, 2]})]
    [("['w'][0]", 1), ("['w'][1]", 2)]
    """
    return tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)[0]


def tree_map_with_path(
    f: Callable[..., Any],
    tree: Any,
    *rest: Any,
    is_leaf: Callable[..., bool] | None = None,
    is_leaf_takes_path: bool = False,
) -> Any:
    """`tree_map` where ``f`` also gets each leaf's key path first: ``f(path, x, *xs)``.

    >>> tree_map_with_path(lambda p, x: keystr(p, simple=True) + "=" + str(x), {"a": [1]})
    {'a': ['a0=1']}
    """
    pairs, treedef = tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)
    columns = [[p for p, _ in pairs], [x for _, x in pairs]]
    for k, other in enumerate(rest):
        columns.append(_match_up_to(treedef, other, f"tree_map_with_path: trees 1 and {k + 2}"))
    return tree_unflatten(treedef, [f(*xs) for xs in zip(*columns)])


# ---------------------------------------------------------------------------------------------
# One level at a time, and treedefs.


def _node_of(tree: Any, what: str) -> _NodeType:
    node = _node_type(type(tree))
    if node is None:
        raise TreeStructureError(
            f"{what}: {_value_desc(tree)} is a leaf, not a pytree node; only tuples, lists, "
            "dicts, None, namedtuples and registered types can be flattened one level.")
    return node


def flatten_one_level(tree: Any) -> tuple[tuple[Any, ...], Hashable]:
    """The children of the node ``tree`` and its static (aux) data, without recursing.

    >>> flatten_one_level({"a": [1, 2], "b": {"c": 3}})
    (([1, 2], {'c': 3}), ('a', 'b'))
    """
    children, aux = _node_of(tree, "flatten_one_level").flatten(tree)
    return tuple(children), aux


def flatten_one_level_with_keys(tree: Any) -> tuple[list[tuple[Any, Any]], Hashable]:
    """`flatten_one_level` with each child paired with its key entry.

    >>> flatten_one_level_with_keys((7, 8))
    ([(SequenceKey(idx=0), 7), (SequenceKey(idx=1), 8)], None)
    """
    return _node_of(tree, "flatten_one_level_with_keys").flatten_with_keys(tree)


def is_tree_node(typ: type) -> bool:
    """Whether values of type ``typ`` are pytree nodes (built in, a namedtuple or registered).

    >>> is_tree_node(dict), is_tree_node(int)
    (True, False)
    """
    return isinstance(typ, type) and _node_type(typ) is not None


def all_leaves(iterable: Iterable[Any], is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """Whether every element of ``iterable`` is a pytree leaf (``None`` is not: it is a node).

    >>> all_leaves([1, 2.0]), all_leaves([1, (2,)])
    (True, False)
    """
    return builtins.all((is_leaf is not None and is_leaf(x)) or _node_type(type(x)) is None
                        for x in iterable)


def treedef_children(treedef: PyTreeDef) -> list[PyTreeDef]:
    """The treedefs of the root's children.

    >>> treedef_children(tree_structure([(1, 2), 3]))
    [PyTreeDef((*, *)), PyTreeDef(*)]
    """
    return treedef.children()


def treedef_is_leaf(treedef: PyTreeDef) -> bool:
    """Whether ``treedef`` has a single node: a leaf, or a node with no children (``None``).

    >>> treedef_is_leaf(tree_structure(1)), treedef_is_leaf(tree_structure([1]))
    (True, False)
    """
    return treedef.num_nodes == 1


def treedef_tuple(treedefs: Iterable[PyTreeDef]) -> PyTreeDef:
    """The treedef of a tuple whose children have the given treedefs.

    >>> treedef_tuple([tree_structure(1), tree_structure({"a": 2})])
    PyTreeDef((*, {'a': *}))
    """
    treedefs = list(treedefs)
    nodes = tuple(n for t in treedefs for n in t._nodes) + ((tuple, None, len(treedefs)),)
    return PyTreeDef._make(nodes, sum(t.num_leaves for t in treedefs))


class _TransposeError(TreeStructureError, TypeError):
    """`tree_transpose` was given a tree that is not outer-of-inner (TypeError, as in JAX)."""


def tree_transpose(outer_treedef: PyTreeDef, inner_treedef: PyTreeDef | None,
                   pytree_to_transpose: Any) -> Any:
    """Turn a tree of structure outer-of-inner into one of structure inner-of-outer, e.g. a
    list of pairs into a pair of lists. ``inner_treedef=None`` reads it from the first
    outer leaf.

    >>> tree_transpose(tree_structure([0, 0]), tree_structure((0, 0)), [(1, 2), (3, 4)])
    ([1, 3], [2, 4])
    """
    if inner_treedef is None:
        inner_treedef = tree_structure(outer_treedef.flatten_up_to(pytree_to_transpose)[0])
    flat, treedef = tree_flatten(pytree_to_transpose)
    expected = outer_treedef.compose(inner_treedef)
    if treedef != expected:
        raise _TransposeError(
            f"tree_transpose: the tree has structure {treedef!r}, but outer {outer_treedef!r} "
            f"of inner {inner_treedef!r} is {expected!r}.")
    n_in = inner_treedef.num_leaves
    rows = [flat[i * n_in:(i + 1) * n_in] for i in range(outer_treedef.num_leaves)]
    return tree_unflatten(inner_treedef,
                          [tree_unflatten(outer_treedef, list(col)) for col in zip(*rows)])


# ---------------------------------------------------------------------------------------------
# Partial and static fields.


class _WrappedPartial:
    """A `functools.partial` kept whole as `Partial`'s function: without this wrapper,
    `functools.partial` would merge its arguments into the outer one's, and they would
    become leaves."""

    __slots__ = ("fun",)

    def __init__(self, fun: functools.partial) -> None:
        self.fun = fun

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fun(*args, **kwargs)

    def __hash__(self) -> int:
        return hash(self.fun)

    def __eq__(self, other: object) -> bool:
        return self.fun == (other.fun if isinstance(other, _WrappedPartial) else other)

    def __repr__(self) -> str:
        return repr(self.fun)


class Partial(functools.partial):
    """`functools.partial` as a pytree: the bound arguments are its children (so they can be
    arrays, traced by transforms) and the function is static. Lets a function with bound
    arrays cross a ``jit`` or ``vmap`` boundary as an argument.

    >>> import operator
    >>> add_one = Partial(operator.add, 1)
    >>> add_one(2), tree_leaves(add_one)
    (3, [1])
    """

    def __new__(cls, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Partial:
        if isinstance(func, functools.partial):
            func = _WrappedPartial(func)
        return super().__new__(cls, func, *args, **kwargs)


register_pytree_node(
    Partial,
    lambda p: ((p.args, p.keywords), p.func),
    lambda func, children: Partial(func, *children[0], **children[1]),
)


def static(**kwargs: Any) -> Any:
    """A `dataclasses.field` marked static (``metadata={"static": True}``): `register_dataclass`
    makes such fields meta fields, kept in the treedef instead of being leaves.

    >>> @register_dataclass
    ... @dataclasses.dataclass
    ... class Op:
    ...     x: Any
    ...     name: str = static(default="add")
    >>> tree_structure(Op(1.0))
    PyTreeDef(CustomNode(Op[('add',)], [*]))
    """
    metadata = dict(kwargs.pop("metadata", None) or {})
    metadata["static"] = True
    return dataclasses.field(metadata=metadata, **kwargs)


# ---------------------------------------------------------------------------------------------
# The short names of `jax.tree` (``fnad.tree.map``, ...). They shadow the builtins `map` and
# `all` inside this module, which therefore calls `builtins.map` / `builtins.all`.

all = tree_all  # noqa: A001
broadcast = tree_broadcast
flatten = tree_flatten
flatten_with_path = tree_flatten_with_path
leaves = tree_leaves
leaves_with_path = tree_leaves_with_path
map = tree_map  # noqa: A001
map_with_path = tree_map_with_path
reduce = tree_reduce
reduce_associative = tree_reduce_associative
structure = tree_structure
transpose = tree_transpose
unflatten = tree_unflatten
