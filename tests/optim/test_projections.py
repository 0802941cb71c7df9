"""fnad.optim.projections (optax.projections): each projection against a NumPy reference
(the simplex's threshold found by bisection, the others' closed forms), on pytrees as one
vector, with the optimality check of the convex sets and derivatives."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
from fnad.optim import projections as P
from fnad.test_util import check_grads

RNG = np.random.default_rng(0)


def simplex_ref(v: np.ndarray, scale: float) -> np.ndarray:
    """max(v - theta, 0) with sum = scale: theta by bisection (a different algorithm)."""
    lo, hi = v.min() - scale, v.max()
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.maximum(v - mid, 0).sum() > scale else (lo, mid)
    return np.maximum(v - (lo + hi) / 2, 0)


@pytest.mark.parametrize("scale", [1.0, 0.3, 5.0])
def test_simplex_and_l1_against_bisection(scale):
    for _ in range(20):
        v = RNG.standard_normal(7) * 3
        np.testing.assert_allclose(P.projection_simplex(v, scale), simplex_ref(v, scale),
                                   atol=1e-9)
        sphere = np.sign(v) * simplex_ref(np.abs(v), scale)
        np.testing.assert_allclose(P.projection_l1_sphere(v, scale), sphere, atol=1e-9)
        ball = v if np.abs(v).sum() <= scale else sphere
        np.testing.assert_allclose(P.projection_l1_ball(v, scale), ball, atol=1e-9)


def test_pytrees_are_one_vector_and_keep_leaf_dtypes():
    tree = {"w": np.array([2.5, 3.2], np.float32), "b": np.float32(0.5)}
    out = P.projection_simplex(tree)
    assert out["w"].dtype == np.float32 and out["w"].shape == (2,)
    flat = np.concatenate([np.atleast_1d(out["b"]), out["w"]])
    np.testing.assert_allclose(flat, simplex_ref(np.array([0.5, 2.5, 3.2]), 1.0), atol=1e-6)
    np.testing.assert_allclose(sum(np.sum(leaf) for leaf in fnad.tree.leaves(out)), 1.0,
                               rtol=1e-6)


def test_balls_boxes_and_planes_against_closed_forms():
    x, a = RNG.standard_normal(5) * 2, RNG.standard_normal(5)
    norm = np.linalg.norm(x)
    np.testing.assert_allclose(P.projection_l2_ball(x, 1.0), x / norm)
    np.testing.assert_allclose(P.projection_l2_ball(x, 100.0), x)
    np.testing.assert_allclose(P.projection_l2_sphere(x, 2.0), 2 * x / norm)
    np.testing.assert_allclose(P.projection_linf_ball(x, 0.7), np.clip(x, -0.7, 0.7))
    np.testing.assert_allclose(P.projection_box(x, -0.5, 1.0), np.clip(x, -0.5, 1.0))
    np.testing.assert_allclose(P.projection_hypercube(x, 2.0), np.clip(x, 0, 2.0))
    np.testing.assert_allclose(P.projection_non_negative(x), np.maximum(x, 0))
    b = float(a @ x) - 1.0  # x is outside the halfspace: it lands on the plane
    on_plane = x - (a @ x - b) / (a @ a) * a
    np.testing.assert_allclose(P.projection_halfspace(x, a, b), on_plane)
    np.testing.assert_allclose(P.projection_halfspace(x, a, b + 2.0), x)  # already inside
    np.testing.assert_allclose(P.projection_hyperplane(x, a, b), on_plane)
    np.testing.assert_allclose(P.projection_vector(x, a), (a @ x) / (a @ a) * a)
    box = P.projection_box({"p": x, "q": 3.0}, {"p": -np.ones(5), "q": 0.0},
                           {"p": np.ones(5), "q": 1.0})
    np.testing.assert_allclose(box["p"], np.clip(x, -1, 1))
    assert box["q"] == 1.0


def test_projections_are_optimal_and_differentiable():
    """The projection p of x onto a convex set C satisfies <x - p, y - p> <= 0 for y in C;
    checked with random points of the simplex. Derivatives against finite differences where
    the active set does not change."""
    for _ in range(10):
        x = RNG.standard_normal(6) * 2
        p = np.asarray(P.projection_simplex(x))
        ys = RNG.dirichlet(np.ones(6), 50)
        assert np.all((ys - p) @ (x - p) <= 1e-9)
    v = np.array([0.5, 0.8, 0.05, -0.4])  # no entry at the threshold: a smooth point
    check_grads(P.projection_simplex, (v,), order=1, eps=1e-7)
    check_grads(lambda t: P.projection_l2_ball(t, 0.5), (v,), order=2)
    check_grads(lambda t: P.projection_l1_ball(t, 0.8), (v,), order=1, eps=1e-7)
    np.testing.assert_allclose(fnad.jit(P.projection_l1_ball)(v), P.projection_l1_ball(v))
    with pytest.raises(fnad.FnadError, match="same structure"):
        P.projection_vector(v, np.ones(3))


def test_no_numpy_warning_escapes_at_the_edges():
    """Zero vectors and infinities give NaN or inf answers without NumPy's warnings (the
    l2 sphere divided a NumPy scalar by a zero norm with `/`)."""
    edges = np.array([-1.0, 0.0, np.inf, -np.inf, np.nan, 2.0])
    with np.errstate(all="raise"):
        for f in (P.projection_simplex, P.projection_l1_ball, P.projection_l1_sphere,
                  P.projection_l2_ball, P.projection_l2_sphere):
            f(edges)
            f(np.zeros(3))
        P.projection_vector(np.ones(2), np.zeros(2))
        P.projection_hyperplane(np.ones(2), np.zeros(2), 1.0)
        P.projection_halfspace(np.ones(2), np.zeros(2), -1.0)
