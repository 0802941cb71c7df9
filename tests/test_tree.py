"""Tests for fnad.tree: flattening, rebuilding, structure matching and registration."""

from __future__ import annotations

import collections
import dataclasses
import doctest
import pickle
from typing import Any, NamedTuple

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad.tree
from fnad.core.errors import FnadError
from fnad.tree import (
    PyTreeDef,
    PyTreeRegistrationError,
    TreeStructureError,
    register_dataclass,
    register_pytree_node,
    tree_all,
    tree_broadcast_prefix,
    tree_flatten,
    tree_leaves,
    tree_map,
    tree_reduce,
    tree_structure,
    tree_unflatten,
)


class Point(NamedTuple):
    x: Any
    y: Any


Pair = collections.namedtuple("Pair", ["first", "second"])


@register_dataclass
@dataclasses.dataclass
class Params:
    w: Any
    b: Any


@register_dataclass(meta_fields=["activation", "sizes"])
@dataclasses.dataclass(frozen=True)
class Layer:
    w: Any
    b: Any
    activation: str = "relu"
    sizes: Any = (2, 3)

    def __post_init__(self):
        if isinstance(self.w, str):
            raise ValueError("w must be an array")


@dataclasses.dataclass
class Explicit:
    a: Any
    n: int
    c: Any


register_dataclass(Explicit, data_fields=["c", "a"], meta_fields=["n"])


class Box:
    """A custom node: its children are ``items``; ``label`` is static."""

    def __init__(self, label, items):
        self.label = label
        self.items = items

    def __eq__(self, other):
        return type(other) is Box and self.label == other.label and self.items == other.items


register_pytree_node(
    Box, lambda b: (b.items, b.label), lambda label, items: Box(label, list(items))
)


class NotANode(tuple):
    """A tuple subclass without ``_fields``: a leaf."""


class MyDict(dict):
    """An unregistered dict subclass: a leaf."""


# ---------------------------------------------------------------------------------------------
# Generated trees


leaf_values = st.one_of(st.integers(-5, 5), st.text(max_size=3), st.floats(allow_nan=False))
dict_keys = st.text(alphabet="abcdefgh", min_size=1, max_size=3)


def _extend(children):
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(dict_keys, children, max_size=4),
        st.tuples(children, children).map(lambda t: Point(*t)),
        st.tuples(children, children).map(lambda t: Params(*t)),
        st.lists(children, max_size=3).map(lambda items: Box("box", items)),
        st.dictionaries(dict_keys, children, max_size=3).map(collections.OrderedDict),
    )


trees = st.recursive(st.one_of(st.none(), leaf_values), _extend, max_leaves=20)


def _same(a, b):
    """Structural equality that also checks container types (1 == 1.0 but [] != ())."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Params):
        return _same(a.w, b.w) and _same(a.b, b.b)
    if isinstance(a, Box):
        return a.label == b.label and _same(a.items, b.items)
    if isinstance(a, collections.OrderedDict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, dict):
        return sorted(a) == sorted(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


@settings(max_examples=300, deadline=None)
@given(trees)
def test_flatten_unflatten_round_trip(tree):
    leaves, treedef = tree_flatten(tree)
    assert treedef.num_leaves == len(leaves)
    rebuilt = tree_unflatten(treedef, leaves)
    assert _same(rebuilt, tree)
    assert tree_structure(rebuilt) == treedef
    assert hash(tree_structure(rebuilt)) == hash(treedef)
    assert tree_leaves(tree) == leaves


@settings(max_examples=200, deadline=None)
@given(trees)
def test_tree_map_keeps_structure_and_order(tree):
    leaves, treedef = tree_flatten(tree)
    counter = iter(range(len(leaves)))
    numbered = tree_map(lambda _: next(counter), tree)
    assert tree_structure(numbered) == treedef
    assert tree_leaves(numbered) == list(range(len(leaves)))
    # Mapping over the tree and its numbered twin pairs up corresponding leaves.
    pairs = tree_leaves(tree_map(lambda a, i: (a, i), tree, numbered), is_leaf=_is_pair)
    assert pairs == list(zip(leaves, range(len(leaves))))


def _is_pair(x):
    return type(x) is tuple and len(x) == 2 and isinstance(x[1], int)


@settings(max_examples=200, deadline=None)
@given(trees, trees)
def test_treedef_equality_matches_structure(a, b):
    da, db = tree_structure(a), tree_structure(b)
    same = da == db
    assert same == (repr(da) == repr(db))
    if same:
        assert hash(da) == hash(db)
        tree_map(lambda x, y: None, a, b)  # no error
    assert (da != db) == (not same)


# ---------------------------------------------------------------------------------------------
# Built-in nodes


def test_nested_containers():
    tree = (1, {"a": 2, "b": [3, 4]}, None)
    leaves, treedef = tree_flatten(tree)
    assert leaves == [1, 2, 3, 4]
    assert repr(treedef) == "PyTreeDef((*, {'a': *, 'b': [*, *]}, None))"
    assert treedef.unflatten([5, 6, 7, 8]) == (5, {"a": 6, "b": [7, 8]}, None)
    assert treedef.num_leaves == 4
    assert treedef.num_nodes == 8  # tuple, 4 leaves, dict, list, None


def test_dict_children_in_sorted_key_order():
    tree = {"b": 1, "c": 2, "a": 3}
    leaves, treedef = tree_flatten(tree)
    assert leaves == [3, 1, 2]
    rebuilt = tree_unflatten(treedef, leaves)
    assert rebuilt == tree
    assert list(rebuilt) == ["a", "b", "c"]  # JAX semantics: rebuilt in sorted order
    assert tree_structure({"a": 0, "b": 0, "c": 0}) == treedef
    assert tree_map(lambda x: -x, tree) == {"a": -3, "b": -1, "c": -2}


def test_dict_with_incomparable_keys_flattens_deterministically():
    a = {1: "one", "x": "ex", 0: "zero"}
    b = {"x": "ex", 0: "zero", 1: "one"}
    la, da = tree_flatten(a)
    lb, db = tree_flatten(b)
    assert da == db and la == lb
    assert la.index("zero") < la.index("one")  # sorted within a type
    assert tree_unflatten(da, la) == a


def test_none_is_a_node_without_children():
    leaves, treedef = tree_flatten(None)
    assert leaves == []
    assert repr(treedef) == "PyTreeDef(None)"
    assert tree_unflatten(treedef, []) is None
    assert tree_leaves([None, 1, (None,)]) == [1]
    assert tree_structure(None) != tree_structure(0)
    assert tree_map(lambda x: x + 1, {"a": None, "b": 1}) == {"a": None, "b": 2}
    # ... unless is_leaf says otherwise.
    assert tree_leaves([None, 1], is_leaf=lambda x: x is None) == [None, 1]


def test_leaves_are_everything_else():
    arr = np.arange(3)
    for leaf in [1, 2.5, "s", arr, NotANode((1, 2)), MyDict(a=1), b"bytes", object()]:
        leaves, treedef = tree_flatten([leaf])
        assert len(leaves) == 1 and leaves[0] is leaf
        assert repr(treedef) == "PyTreeDef([*])"
    leaves, treedef = tree_flatten(arr)
    assert leaves[0] is arr and repr(treedef) == "PyTreeDef(*)"
    assert tree_unflatten(treedef, ["x"]) == "x"


def test_empty_containers():
    for tree in [(), [], {}, [(), {}, []]]:
        leaves, treedef = tree_flatten(tree)
        assert leaves == []
        assert tree_unflatten(treedef, []) == tree
    assert tree_structure(()) != tree_structure([])
    assert repr(tree_structure(((),))) == "PyTreeDef(((),))"


def test_single_element_tuple_repr():
    assert repr(tree_structure((1,))) == "PyTreeDef((*,))"


def test_is_leaf_stops_descent():
    tree = {"a": (1, 2), "b": [3, (4, 5)]}
    leaves = tree_leaves(tree, is_leaf=lambda x: isinstance(x, tuple))
    assert leaves == [(1, 2), 3, (4, 5)]
    assert tree_map(
        lambda t: sum(t) if isinstance(t, tuple) else t,
        tree,
        is_leaf=lambda x: isinstance(x, tuple),
    ) == {
        "a": 3,
        "b": [3, 9],
    }
    # is_leaf is also asked about the root.
    assert tree_leaves(tree, is_leaf=lambda x: isinstance(x, dict)) == [tree]


def test_ordered_dict_and_defaultdict():
    od = collections.OrderedDict([("b", 1), ("a", 2)])
    leaves, treedef = tree_flatten(od)
    assert leaves == [1, 2]  # insertion order is kept for OrderedDict
    rebuilt = tree_unflatten(treedef, leaves)
    assert type(rebuilt) is collections.OrderedDict and list(rebuilt) == ["b", "a"]
    assert tree_structure(od) != tree_structure(dict(od))

    dd = collections.defaultdict(list, {"b": 1, "a": 2})
    leaves, treedef = tree_flatten(dd)
    assert leaves == [2, 1]
    rebuilt = tree_unflatten(treedef, [10, 20])
    assert type(rebuilt) is collections.defaultdict and rebuilt.default_factory is list
    assert dict(rebuilt) == {"a": 10, "b": 20}
    # JAX's rendering of a node that is not a tuple, list, dict or None
    assert repr(treedef) == \
        "PyTreeDef(CustomNode(defaultdict[(<class 'list'>, ('a', 'b'))], [*, *]))"


# ---------------------------------------------------------------------------------------------
# Namedtuples, dataclasses and custom nodes


def test_namedtuple():
    p = Point(1, [2, 3])
    leaves, treedef = tree_flatten(p)
    assert leaves == [1, 2, 3]
    assert repr(treedef) == "PyTreeDef(CustomNode(namedtuple[Point], [*, [*, *]]))"
    rebuilt = tree_unflatten(treedef, [4, 5, 6])
    assert type(rebuilt) is Point and rebuilt == Point(4, [5, 6])
    assert tree_structure(Pair(1, 2)) != tree_structure(Point(1, 2))
    assert tree_structure(Point(1, 2)) != tree_structure((1, 2))
    assert tree_map(lambda x: x * 2, Pair(1, 2)) == Pair(2, 4)


def test_dataclass_all_fields_are_data_by_default():
    p = Params(w=np.ones(2), b=3.0)
    leaves, treedef = tree_flatten(p)
    assert leaves[0] is p.w and leaves[1] == 3.0
    assert repr(treedef) == "PyTreeDef(CustomNode(Params[()], [*, *]))"  # as JAX prints it
    rebuilt = tree_unflatten(treedef, [1, 2])
    assert type(rebuilt) is Params and (rebuilt.w, rebuilt.b) == (1, 2)


def test_dataclass_meta_fields_live_in_the_treedef():
    layer = Layer(w=1.0, b=2.0, activation="tanh")
    leaves, treedef = tree_flatten(layer)
    assert leaves == [1.0, 2.0]
    assert repr(treedef) == "PyTreeDef(CustomNode(Layer[('tanh', (2, 3))], [*, *]))"
    assert treedef != tree_structure(Layer(w=1.0, b=2.0, activation="relu"))
    assert treedef == tree_structure(Layer(w=5, b=6, activation="tanh"))
    assert hash(treedef) == hash(tree_structure(Layer(w=5, b=6, activation="tanh")))
    rebuilt = tree_map(lambda x: x + 1, layer)
    assert rebuilt == Layer(w=2.0, b=3.0, activation="tanh")


def test_dataclass_unflatten_skips_post_init():
    _, treedef = tree_flatten(Layer(w=1.0, b=2.0))
    rebuilt = tree_unflatten(treedef, ["not validated", None])  # __post_init__ would raise
    assert rebuilt.w == "not validated" and rebuilt.b is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        rebuilt.w = 1.0  # still frozen


def test_dataclass_explicit_fields():
    e = Explicit(a=1, n=7, c=2)
    leaves, treedef = tree_flatten(e)
    assert leaves == [2, 1]  # data_fields order
    assert repr(treedef) == "PyTreeDef(CustomNode(Explicit[(7,)], [*, *]))"
    assert tree_unflatten(treedef, [20, 10]) == Explicit(a=10, n=7, c=20)


def test_unhashable_static_data_hashes_by_structure_and_compares_by_value():
    """As JAX's treedefs: a list meta field (or dict aux data) does not stop jit's cache."""
    _, treedef = tree_flatten(Layer(w=1.0, b=2.0, sizes=[2, 3]))
    _, same = tree_flatten(Layer(w=5.0, b=6.0, sizes=[2, 3]))
    _, other = tree_flatten(Layer(w=1.0, b=2.0, sizes=[4]))
    assert hash(treedef) == hash(same) and treedef == same and treedef != other
    traced = []

    def f(layer, x):
        traced.append(1)
        return layer.w * x

    jf = fnad.jit(f)
    assert jf(Layer(w=2.0, b=0.0, sizes=[2, 3]), 3.0) == 6.0
    assert jf(Layer(w=4.0, b=0.0, sizes=[2, 3]), 3.0) == 12.0
    jf(Layer(w=4.0, b=0.0, sizes=[9]), 3.0)
    assert len(traced) == 2  # equal static data reuses the trace, other data retraces


def test_register_dataclass_errors():
    @dataclasses.dataclass
    class D:
        a: Any
        b: Any

    with pytest.raises(PyTreeRegistrationError, match="in neither: \\['b'\\]"):
        register_dataclass(D, data_fields=["a"], meta_fields=[])
    with pytest.raises(PyTreeRegistrationError, match="unknown: \\['z'\\]"):
        register_dataclass(D, data_fields=["a", "b"], meta_fields=["z"])
    with pytest.raises(PyTreeRegistrationError, match="in both"):
        register_dataclass(D, data_fields=["a", "b"], meta_fields=["b"])

    class NotDataclass:
        pass

    with pytest.raises(PyTreeRegistrationError, match="needs a dataclass"):
        register_dataclass(NotDataclass)

    register_dataclass(D)
    with pytest.raises(PyTreeRegistrationError, match="already registered"):
        register_dataclass(D)
    with pytest.raises(PyTreeRegistrationError, match="already registered"):
        register_pytree_node(tuple, lambda t: (t, None), lambda _, c: tuple(c))
    assert isinstance(PyTreeRegistrationError("x"), FnadError)


def test_custom_node():
    box = Box("lbl", [1, (2, 3)])
    leaves, treedef = tree_flatten(box)
    assert leaves == [1, 2, 3]
    assert repr(treedef) == "PyTreeDef(CustomNode(Box[lbl], [*, (*, *)]))"  # str(aux), as JAX
    assert tree_unflatten(treedef, [4, 5, 6]) == Box("lbl", [4, (5, 6)])
    assert treedef != tree_structure(Box("other", [1, (2, 3)]))
    assert treedef == tree_structure(Box("lbl", [0, (0, 0)]))


def test_registering_a_namedtuple_overrides_the_default():
    class Swapped(NamedTuple):
        a: Any
        b: Any

    assert tree_leaves(Swapped(1, 2)) == [1, 2]
    register_pytree_node(Swapped, lambda s: ((s.b, s.a), None), lambda _, c: Swapped(c[1], c[0]))
    assert tree_leaves(Swapped(1, 2)) == [2, 1]
    assert tree_map(lambda x: x * 10, Swapped(1, 2)) == Swapped(10, 20)


# ---------------------------------------------------------------------------------------------
# Several trees at once


def test_tree_map_over_several_trees():
    a = {"x": 1, "y": (2, 3)}
    b = {"x": 10, "y": (20, 30)}
    c = {"x": 100, "y": (200, 300)}
    assert tree_map(lambda p, q, r: p + q + r, a, b, c) == {"x": 111, "y": (222, 333)}


def test_tree_map_rest_may_have_subtrees_where_first_has_leaves():
    out = tree_map(lambda axis, sub: (axis, sub), [0, 1], [{"a": 1}, (2, 3)])
    assert out == [(0, {"a": 1}), (1, (2, 3))]


@pytest.mark.parametrize(
    "first, second, where, detail",
    [
        ({"a": 1, "b": [1, 2]}, {"a": 1, "b": [1, 2, 3]}, "['b']", "list with 2 children, got 3"),
        ({"a": 1, "b": 2}, {"a": 1, "c": 2}, "the root", "missing ['b']; unexpected ['c']"),
        ([1, (2, 3)], [1, [2, 3]], "[1]", "(a tuple), got list [2, 3]"),
        ((1, None), (1, 2), "[1]", "expected None"),
        (Point(1, [2]), Point(1, 2), ".y", "(a list), got int 2"),
        (Layer(1, 2), Layer(1, 2, "tanh"), "the root", "static data"),
        (Box("a", [1]), Box("b", [1]), "the root", "static data"),
        (Params(1, (2,)), Params(1, (2, 3)), ".b", "tuple with 1 children, got 2"),
    ],
)
def test_structure_mismatch_message(first, second, where, detail):
    with pytest.raises(TreeStructureError) as info:
        tree_map(lambda x, y: x, first, second)
    msg = str(info.value)
    assert f"at {where}:" in msg
    assert detail in msg
    assert repr(tree_structure(first)) in msg
    assert repr(tree_structure(second)) in msg
    assert isinstance(info.value, FnadError) and isinstance(info.value, ValueError)


def test_mismatch_names_which_tree():
    with pytest.raises(TreeStructureError, match="trees 1 and 3"):
        tree_map(lambda *xs: 0, [1, 2], [1, 2], [1])


def test_flatten_up_to():
    treedef = tree_structure({"a": 0, "b": [0, 0]})
    assert treedef.flatten_up_to({"a": (1, 2), "b": [None, {"c": 3}]}) == [(1, 2), None, {"c": 3}]
    with pytest.raises(TreeStructureError, match="flatten_up_to.*at \\['b'\\]"):
        treedef.flatten_up_to({"a": 1, "b": (1, 2)})


def test_unflatten_wrong_number_of_leaves():
    _, treedef = tree_flatten([1, 2])
    with pytest.raises(TreeStructureError, match=r"PyTreeDef\(\[\*, \*\]\) has 2 leaves, but 3"):
        tree_unflatten(treedef, [1, 2, 3])
    with pytest.raises(TreeStructureError):
        tree_unflatten(treedef, [1])
    assert tree_unflatten(treedef, iter([5, 6])) == [5, 6]


def test_tree_reduce_and_tree_all():
    tree = {"a": 1, "b": [2, 3], "c": None}
    assert tree_reduce(lambda acc, x: acc + x, tree, 0) == 6
    assert tree_reduce(lambda acc, x: acc * x, tree) == 6
    assert tree_reduce(lambda acc, x: acc + [x], tree, []) == [1, 2, 3]
    assert tree_reduce(lambda acc, x: acc + x, [], 5) == 5
    with pytest.raises(TypeError, match="initializer"):
        tree_reduce(lambda acc, x: acc + x, [None])
    assert tree_all([True, {"a": 1}])
    assert not tree_all([True, (0,)])
    assert tree_all([])
    assert tree_all(None)


# ---------------------------------------------------------------------------------------------
# Prefix broadcasting (vmap's in_axes)


def test_broadcast_prefix_leaf_covers_subtree():
    full = ([1, 2], {"a": 3, "b": (4, 5)})
    assert tree_broadcast_prefix(0, full) == [0] * 5
    assert tree_broadcast_prefix((0, 1), full) == [0, 0, 1, 1, 1]
    assert tree_broadcast_prefix((0, {"a": None, "b": 2}), full) == [0, 0, None, 2, 2]
    assert tree_broadcast_prefix(([0, 1], {"a": 2, "b": (3, 4)}), full) == [0, 1, 2, 3, 4]


def test_broadcast_prefix_none_is_a_leaf_of_the_prefix():
    full = ([1, 2], 3)
    assert tree_broadcast_prefix(None, full) == [None, None, None]
    assert tree_broadcast_prefix((None, 0), full) == [None, None, 0]
    # A None in the full tree has no leaves, so it takes nothing.
    assert tree_broadcast_prefix((0, 1), (None, [5])) == [1]


def test_broadcast_prefix_is_leaf():
    full = ({"a": 1, "b": 2}, 3)
    prefix = (Pair(0, 0), 1)  # a namedtuple standing for a single axis spec
    out = tree_broadcast_prefix(prefix, full, is_leaf=lambda x: isinstance(x, Pair))
    assert out == [Pair(0, 0), Pair(0, 0), 1]


def test_broadcast_prefix_mismatch():
    with pytest.raises(TreeStructureError) as info:
        tree_broadcast_prefix((0, 1, 2), ([1], 2))
    msg = str(info.value)
    assert "tree_broadcast_prefix" in msg and "tuple with 3 children, got 2" in msg
    assert "PyTreeDef((*, *, *))" in msg and "PyTreeDef(([*], *))" in msg
    with pytest.raises(TreeStructureError, match="missing \\['y'\\]"):
        tree_broadcast_prefix({"x": 0, "y": 1}, {"x": 1})


# ---------------------------------------------------------------------------------------------
# PyTreeDef


def test_treedef_hash_and_equality():
    a = tree_structure({"w": [1, 2], "b": None})
    b = tree_structure({"b": None, "w": [np.ones(2), "s"]})
    assert a == b and hash(a) == hash(b)
    cache = {a: "hit"}
    assert cache[b] == "hit"
    assert a != tree_structure({"w": (1, 2), "b": None})
    assert a != tree_structure({"w": [1, 2], "b": 0})
    assert a != tree_structure({"w": [1, 2, 3], "b": None})
    assert a != "not a treedef"
    assert len({a, b, tree_structure([1]), tree_structure((1,))}) == 3


def test_treedef_children():
    treedef = tree_structure((1, {"a": 2, "b": [3, 4]}, None))
    kids = treedef.children()
    assert [repr(k) for k in kids] == [
        "PyTreeDef(*)",
        "PyTreeDef({'a': *, 'b': [*, *]})",
        "PyTreeDef(None)",
    ]
    assert kids[1] == tree_structure({"a": 0, "b": [0, 0]})
    assert kids[1].num_leaves == 3
    assert tree_structure(1).children() == []


def test_treedef_is_not_constructible_directly():
    with pytest.raises(TypeError):
        PyTreeDef()


def test_treedef_pickles():
    treedef = tree_structure({"p": Point(1, [2]), "n": None, "t": (3,)})
    again = pickle.loads(pickle.dumps(treedef))
    assert again == treedef and hash(again) == hash(treedef)
    assert again.unflatten([1, 2, 3]) == {"p": Point(1, [2]), "n": None, "t": (3,)}


def test_docstring_examples_run():
    result = doctest.testmod(fnad.tree)
    assert result.attempted > 10 and result.failed == 0


# ---------------------------------------------------------------------------------------------
# Key paths, one-level flattening, treedef helpers, transpose/broadcast, Partial, static fields


def _follow(node, key):
    """One step down a key path, by the meaning of the key (not by the flattening code)."""
    if isinstance(key, fnad.tree.SequenceKey):
        return node[key.idx]
    if isinstance(key, fnad.tree.DictKey):
        return node[key.key]
    if isinstance(key, fnad.tree.GetAttrKey):
        return getattr(node, key.name)
    assert isinstance(key, fnad.tree.FlattenedIndexKey) and isinstance(node, Box)
    return node.items[key.key]


@settings(max_examples=150, deadline=None)
@given(trees)
def test_every_key_path_leads_to_its_leaf(tree):
    pairs, treedef = fnad.tree.tree_flatten_with_path(tree)
    leaves, expected_def = tree_flatten(tree)
    assert treedef == expected_def
    assert [x for _, x in pairs] == leaves or all(
        a is b for (_, a), b in zip(pairs, leaves))
    for path, leaf in pairs:
        node = tree
        for key in path:
            node = _follow(node, key)
        assert node is leaf
    assert fnad.tree.tree_leaves_with_path(tree) == pairs
    # map_with_path sees the same paths, in order
    seen = []
    out = fnad.tree.tree_map_with_path(lambda p, x: seen.append(p) or x, tree)
    assert seen == [p for p, _ in pairs] and _same(out, tree)


def test_keystr_matches_jax_examples():
    params = {"foo": {"bar": {"baz": 1, "bat": [2, 3]}}}
    paths = [p for p, _ in fnad.tree.leaves_with_path(params)]
    assert [fnad.tree.keystr(p) for p in paths] == [
        "['foo']['bar']['bat'][0]", "['foo']['bar']['bat'][1]", "['foo']['bar']['baz']"]
    assert [fnad.tree.keystr(p, simple=True, separator="/") for p in paths] == [
        "foo/bar/bat/0", "foo/bar/bat/1", "foo/bar/baz"]
    assert fnad.tree.keystr((0, 1, "a")) == "01a"  # any objects: their str
    layer = Layer(np.ones(2), np.zeros(2))
    assert [fnad.tree.keystr(p) for p, _ in fnad.tree.leaves_with_path([layer])] == [
        "[0].w", "[0].b"]
    assert [fnad.tree.keystr(p) for p, _ in fnad.tree.leaves_with_path(Box("l", [5, 6]))] == [
        "[<flat index 0>]", "[<flat index 1>]"]
    assert fnad.tree.leaves_with_path(Point(1, 2))[1][0] == (fnad.tree.GetAttrKey("y"),)


def test_map_with_path_with_more_trees_and_path_aware_is_leaf():
    tree = {"a": [1, 2], "b": 3}
    out = fnad.tree.map_with_path(lambda p, x, y: (fnad.tree.keystr(p), x + y), tree,
                                  {"a": [10, 20], "b": 30})
    assert out == {"a": [("['a'][0]", 11), ("['a'][1]", 22)], "b": ("['b']", 33)}
    with pytest.raises(TreeStructureError, match=r"tree_map_with_path.*\['a'\]"):
        fnad.tree.map_with_path(lambda p, x, y: x, tree, {"a": [1], "b": 2})
    # is_leaf given the path: stop at the subtree under 'a'
    stop_at_a = lambda p, x: p == (fnad.tree.DictKey("a"),)
    pairs, treedef = fnad.tree.flatten_with_path(tree, is_leaf=stop_at_a,
                                                 is_leaf_takes_path=True)
    assert [x for _, x in pairs] == [[1, 2], 3] and treedef.num_leaves == 2
    assert fnad.tree.leaves_with_path(tree, is_leaf=lambda x: isinstance(x, list))[0][1] == [1, 2]


class Special:
    def __init__(self, x, y):
        self.x, self.y = x, y


fnad.tree.register_pytree_with_keys(
    Special,
    lambda s: (((fnad.tree.GetAttrKey("x"), s.x), (fnad.tree.DictKey("why"), s.y)), "aux"),
    lambda aux, cs: Special(*cs),
)


@fnad.tree.register_pytree_node_class
class Scaled:
    def __init__(self, value, scale):
        self.value, self.scale = value, scale

    def tree_flatten(self):
        return (self.value,), self.scale

    @classmethod
    def tree_unflatten(cls, scale, children):
        return cls(children[0], scale)


@fnad.tree.register_pytree_with_keys_class
class KeyedPair:
    def __init__(self, a, b):
        self.a, self.b = a, b

    def tree_flatten_with_keys(self):
        return ((fnad.tree.GetAttrKey("a"), self.a), (fnad.tree.GetAttrKey("b"), self.b)), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children)


@fnad.tree.register_static
@dataclasses.dataclass(frozen=True)
class Mode:
    name: str


def test_registration_flavours():
    leaves, treedef = tree_flatten(Special(1, [2, 3]))
    assert leaves == [1, 2, 3] and "CustomNode(Special[aux]" in repr(treedef)
    assert [fnad.tree.keystr(p) for p, _ in fnad.tree.leaves_with_path(Special(1, [2]))] == [
        ".x", "['why'][0]"]
    s = tree_map(lambda v: v * 10, Scaled(2, scale=0.5))
    assert s.value == 20 and s.scale == 0.5
    assert tree_structure(Scaled(1, 0.5)) != tree_structure(Scaled(1, 0.25))
    k = tree_map(lambda v: -v, KeyedPair(1, 2))
    assert (k.a, k.b) == (-1, -2)
    assert [fnad.tree.keystr(p) for p, _ in fnad.tree.leaves_with_path(KeyedPair(1, 2))] == [
        ".a", ".b"]
    # a static value has no leaves and is part of the structure (so of jit's cache key)
    assert tree_leaves([1.0, Mode("train")]) == [1.0]
    assert tree_structure(Mode("train")) != tree_structure(Mode("eval"))
    assert tree_unflatten(tree_structure(Mode("eval")), []) == Mode("eval")
    for cls in (Special, Scaled, KeyedPair, Mode):
        assert fnad.tree.is_tree_node(cls)
        with pytest.raises(PyTreeRegistrationError, match="already registered"):
            fnad.tree.register_static(cls)


def test_static_value_drives_python_control_flow_under_jit():
    import fnad

    calls = []

    @fnad.jit
    def f(x, mode):
        calls.append(mode)
        return x * 2.0 if mode.name == "double" else x + 1.0

    x = np.arange(3, dtype=np.float32)
    np.testing.assert_allclose(f(x, Mode("double")), x * 2)
    np.testing.assert_allclose(f(x, Mode("inc")), x + 1)
    np.testing.assert_allclose(f(x, Mode("double")), x * 2)
    assert calls == [Mode("double"), Mode("inc")]  # one trace per static value


def test_flatten_one_level():
    children, aux = fnad.tree.flatten_one_level({"a": [1, 2], "b": {"c": 3}})
    assert children == ([1, 2], {"c": 3}) and aux == ("a", "b")
    assert fnad.tree.flatten_one_level(None) == ((), None)
    assert fnad.tree.flatten_one_level(Box("l", [1, [2]])) == ((1, [2]), "l")
    pairs, aux = fnad.tree.flatten_one_level_with_keys(Point(1, [2]))
    assert pairs == [(fnad.tree.GetAttrKey("x"), 1), (fnad.tree.GetAttrKey("y"), [2])]
    for leaf in (1, np.ones(2), "s", MyDict(a=1)):
        with pytest.raises(TreeStructureError, match="flatten_one_level.*leaf"):
            fnad.tree.flatten_one_level(leaf)
        with pytest.raises(TreeStructureError, match="leaf"):
            fnad.tree.flatten_one_level_with_keys(leaf)


def test_node_and_leaf_predicates_and_treedef_helpers():
    for t in (tuple, list, dict, type(None), collections.OrderedDict, Point, Params, Box):
        assert fnad.tree.is_tree_node(t)
    for t in (int, np.ndarray, str, NotANode, MyDict):
        assert not fnad.tree.is_tree_node(t)
    assert fnad.tree.all_leaves([1, np.ones(2), "x"])
    assert not fnad.tree.all_leaves([1, None])  # None is an empty node, not a leaf
    assert not fnad.tree.all_leaves([{"a": 1}])
    assert fnad.tree.all_leaves([{"a": 1}], is_leaf=lambda x: isinstance(x, dict))
    assert fnad.tree.all_leaves(fnad.tree.leaves({"a": [1, (2, 3)]}))
    x = [(1, 2), 3, {"a": 4}]
    kids = fnad.tree.treedef_children(tree_structure(x))
    assert kids == [tree_structure(v) for v in x]
    assert fnad.tree.treedef_is_leaf(tree_structure(1))
    assert fnad.tree.treedef_is_leaf(tree_structure(None))  # one node, as in JAX
    assert not fnad.tree.treedef_is_leaf(tree_structure([1]))
    tup = fnad.tree.treedef_tuple([tree_structure(v) for v in x])
    assert tup == tree_structure(tuple(x)) and tup.num_leaves == 4
    assert tup.unflatten([1, 2, 3, 4]) == ((1, 2), 3, {"a": 4})
    assert fnad.tree.treedef_tuple([]) == tree_structure(())


def test_tree_transpose():
    outer, inner = tree_structure([0, 0, 0]), tree_structure({"a": 0, "b": (0, 0)})
    tree = [{"a": i, "b": (10 * i, 100 * i)} for i in range(3)]
    out = fnad.tree.transpose(outer, inner, tree)
    assert out == {"a": [0, 1, 2], "b": ([0, 10, 20], [0, 100, 200])}
    assert fnad.tree.tree_transpose(outer, None, tree) == out
    back = fnad.tree.transpose(inner, outer, out)
    assert back == tree
    with pytest.raises(TypeError, match="tree_transpose"):
        fnad.tree.transpose(outer, inner, tree[:2] + [{"a": 1, "b": 2}])
    with pytest.raises(TreeStructureError):
        fnad.tree.transpose(outer, tree_structure((0, 0)), tree)


def test_tree_broadcast():
    full = (0, {"a": 0, "b": 0}, (0, 0))
    assert fnad.tree.broadcast((1, 2, 3), full) == (1, {"a": 2, "b": 2}, (3, 3))
    assert fnad.tree.tree_broadcast(7, full) == (7, {"a": 7, "b": 7}, (7, 7))
    # None is a node here: it matches a None in the full tree
    assert fnad.tree.broadcast((1, None), ([0, 0], None)) == ([1, 1], None)
    assert fnad.tree.broadcast({"x": [5, 6]}, {"x": [0, 0]}, is_leaf=lambda v: isinstance(
        v, list)) == {"x": [[5, 6], [5, 6]]}
    with pytest.raises(TreeStructureError, match="tree_broadcast"):
        fnad.tree.broadcast((1, 2), (0, 0, 0))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="abc", max_size=2), max_size=9))
def test_reduce_associative_agrees_with_a_left_fold(strings):
    """String concatenation is associative but not commutative: order must be kept."""
    tree = {"xs": strings, "nested": [tuple(strings[:2])]}
    expected = "".join(fnad.tree.leaves(tree))
    got = fnad.tree.reduce_associative(lambda a, b: a + b, tree, identity="")
    assert got == expected
    if fnad.tree.leaves(tree):
        assert fnad.tree.tree_reduce_associative(lambda a, b: a + b, tree) == expected


def test_reduce_associative_empty_tree():
    assert fnad.tree.reduce_associative(max, [None, {}], identity=-1) == -1
    with pytest.raises(TreeStructureError, match="identity"):
        fnad.tree.reduce_associative(max, [])


def test_partial_is_a_pytree_that_crosses_jit_and_vmap():
    import fnad
    import fnad.numpy as fnp

    scale = fnad.tree.Partial(fnp.multiply, np.float32(3.0))
    assert fnad.tree.leaves(scale) == [np.float32(3.0)]
    np.testing.assert_allclose(scale(np.ones(2, np.float32)), [3.0, 3.0])

    @fnad.jit
    def apply(fn, x):
        return fn(x)

    np.testing.assert_allclose(apply(scale, np.arange(3, dtype=np.float32)), [0, 3, 6])
    # the bound argument is a leaf: vmap maps over it
    scales = fnad.tree.Partial(fnp.multiply, np.array([1.0, 2.0], np.float32))
    out = fnad.vmap(lambda f, x: f(x), in_axes=(0, None))(scales, np.float32(5.0))
    np.testing.assert_allclose(out, [5.0, 10.0])
    # keywords are leaves too, and gradients flow into them
    f = fnad.tree.Partial(lambda x, w: w * x, w=np.float32(2.0))
    g = fnad.grad(lambda p: p(np.float32(4.0)))(f)
    assert isinstance(g, fnad.tree.Partial) and float(g.keywords["w"]) == 4.0
    # a functools.partial as the function stays whole (its arguments are not leaves)
    import functools

    inner = functools.partial(fnp.add, np.float32(1.0))
    p = fnad.tree.Partial(inner, np.float32(2.0))
    assert fnad.tree.leaves(p) == [np.float32(2.0)]
    assert float(p()) == 3.0
    assert tree_structure(p) == tree_structure(fnad.tree.Partial(inner, 0.0))


def test_static_fields_are_meta_by_default():
    @register_dataclass
    @dataclasses.dataclass
    class Op:
        x: Any
        y: Any
        op: str = fnad.tree.static(default="add")
        tag: int = fnad.tree.static(default=0, metadata={"doc": "kept"})

    m = Op(1.0, 2.0)
    assert tree_leaves(m) == [1.0, 2.0]
    assert tree_structure(Op(1.0, 2.0, "sub")) != tree_structure(m)
    assert dataclasses.fields(Op)[3].metadata["doc"] == "kept"
    assert tree_map(lambda v: v + 1, m) == Op(2.0, 3.0)
    assert [fnad.tree.keystr(p) for p, _ in fnad.tree.leaves_with_path(m)] == [".x", ".y"]


def test_short_names_are_the_tree_functions():
    t = fnad.tree
    for short, full in [("map", t.tree_map), ("leaves", t.tree_leaves), ("all", t.tree_all),
                        ("structure", t.tree_structure), ("flatten", t.tree_flatten),
                        ("unflatten", t.tree_unflatten), ("reduce", t.tree_reduce),
                        ("transpose", t.tree_transpose), ("broadcast", t.tree_broadcast),
                        ("flatten_with_path", t.tree_flatten_with_path),
                        ("leaves_with_path", t.tree_leaves_with_path),
                        ("map_with_path", t.tree_map_with_path),
                        ("reduce_associative", t.tree_reduce_associative)]:
        assert getattr(t, short) is full
    assert t.all([1, (True,)]) and not t.all([1, (0,)]) and t.all([])
    assert t.map(lambda v: v + 1, {"a": 1}) == {"a": 2}


def test_treedef_compose_and_node_data():
    outer, inner = tree_structure([0, {"a": 0}]), tree_structure((0, None, 0))
    composed = outer.compose(inner)
    assert composed == tree_structure([(1, None, 2), {"a": (3, None, 4)}])
    assert composed.num_leaves == outer.num_leaves * inner.num_leaves
    assert tree_structure(5).compose(inner) == inner
    assert tree_structure(Point(1, 2)).node_data() == (Point, None)
    assert tree_structure(Box("lbl", [1])).node_data() == (Box, "lbl")
    assert tree_structure(1).node_data() is None
