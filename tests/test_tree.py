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
    assert repr(treedef) == "PyTreeDef(defaultdict(list, {'a': *, 'b': *}))"


# ---------------------------------------------------------------------------------------------
# Namedtuples, dataclasses and custom nodes


def test_namedtuple():
    p = Point(1, [2, 3])
    leaves, treedef = tree_flatten(p)
    assert leaves == [1, 2, 3]
    assert repr(treedef) == "PyTreeDef(Point(x=*, y=[*, *]))"
    rebuilt = tree_unflatten(treedef, [4, 5, 6])
    assert type(rebuilt) is Point and rebuilt == Point(4, [5, 6])
    assert tree_structure(Pair(1, 2)) != tree_structure(Point(1, 2))
    assert tree_structure(Point(1, 2)) != tree_structure((1, 2))
    assert tree_map(lambda x: x * 2, Pair(1, 2)) == Pair(2, 4)


def test_dataclass_all_fields_are_data_by_default():
    p = Params(w=np.ones(2), b=3.0)
    leaves, treedef = tree_flatten(p)
    assert leaves[0] is p.w and leaves[1] == 3.0
    assert repr(treedef) == "PyTreeDef(Params(w=*, b=*))"
    rebuilt = tree_unflatten(treedef, [1, 2])
    assert type(rebuilt) is Params and (rebuilt.w, rebuilt.b) == (1, 2)


def test_dataclass_meta_fields_live_in_the_treedef():
    layer = Layer(w=1.0, b=2.0, activation="tanh")
    leaves, treedef = tree_flatten(layer)
    assert leaves == [1.0, 2.0]
    assert repr(treedef) == "PyTreeDef(Layer(w=*, b=*; activation='tanh', sizes=(2, 3)))"
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
    assert repr(treedef) == "PyTreeDef(Explicit(c=*, a=*; n=7))"
    assert tree_unflatten(treedef, [20, 10]) == Explicit(a=10, n=7, c=20)


def test_dataclass_unhashable_meta_field_fails_on_hash_with_explanation():
    _, treedef = tree_flatten(Layer(w=1.0, b=2.0, sizes=[2, 3]))
    with pytest.raises(TypeError, match="Layer.*not hashable"):
        hash(treedef)


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
    assert repr(treedef) == "PyTreeDef(CustomNode(Box['lbl'], [*, (*, *)]))"
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
