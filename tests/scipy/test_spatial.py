"""fnad.scipy.spatial.transform (Rotation, Slerp) against scipy.spatial.transform: every
constructor and conversion on random rotations and edge cases (the identity, tiny angles,
w < 0, gimbal lock), composition, apply, mean, Slerp; derivatives against finite
differences (finite at the identity), jit and vmap with the classes as pytrees, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.spatial.transform import Rotation as SR, Slerp as SS

import fnad
from fnad.scipy.spatial.transform import Rotation, Slerp
from fnad.test_util import check_grads

# SciPy warns at gimbal lock (the identity and half turns, for symmetric sequences)
pytestmark = pytest.mark.filterwarnings("ignore:Gimbal lock detected:UserWarning")

SEQS = ["xyz", "zyx", "yzx", "xyx", "zxz", "XYZ", "ZYX", "YZX", "XYX", "ZXZ", "YXY"]


def _quats(seed: int = 0, n: int = 8) -> np.ndarray:
    q = np.random.default_rng(seed).standard_normal((n, 4))
    q[0] = [0, 0, 0, 1]  # the identity
    q[1] = [1e-5, -2e-5, 0, 1]  # a tiny angle: the series branches
    q[2, 3] = -abs(q[2, 3])  # w < 0
    q[3] = [0, 0, 1, 0]  # a half turn
    return q


def _wrapped(a, b) -> np.ndarray:
    """a - b as angles, in [-pi, pi) (pi and -pi are the same Euler angle)."""
    return (np.asarray(a) - np.asarray(b) + np.pi) % (2 * np.pi) - np.pi


def test_conversions_match_scipy() -> None:
    q = _quats()
    s, r = SR.from_quat(q), Rotation.from_quat(q)
    np.testing.assert_allclose(r.quat, s.as_quat(), atol=1e-12)
    for name, kw in [("as_matrix", {}), ("as_rotvec", {}), ("as_rotvec", {"degrees": True}),
                     ("as_mrp", {}), ("magnitude", {}), ("as_quat", {"canonical": True}),
                     ("as_quat", {"scalar_first": True})]:
        got, expected = getattr(r, name)(**kw), getattr(s, name)(**kw)
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, expected, atol=1e-12, err_msg=f"{name} {kw}")
    for name in ("from_matrix", "from_rotvec", "from_mrp"):
        value = getattr(s, name.replace("from_", "as_"))()
        np.testing.assert_allclose(getattr(Rotation, name)(value).as_matrix(),
                                   getattr(SR, name)(value).as_matrix(), atol=1e-12)
    np.testing.assert_allclose(Rotation.from_rotvec(s.as_rotvec(True), degrees=True).as_matrix(),
                               s.as_matrix(), atol=1e-12)
    # one rotation at a time, and float32
    np.testing.assert_allclose(r[4].as_euler("xyz"), s[4].as_euler("xyz"), atol=1e-12)
    r32 = Rotation.from_quat(q.astype(np.float32))
    assert r32.as_matrix().dtype == np.float32
    np.testing.assert_allclose(r32.as_rotvec(), s.as_rotvec(), atol=1e-5)


@pytest.mark.parametrize("seq", SEQS)
def test_euler_matches_scipy(seq: str) -> None:
    rng = np.random.default_rng(len(seq) + ord(seq[0]))
    angles = rng.uniform(-3, 3, (6, 3))
    np.testing.assert_allclose(Rotation.from_euler(seq, angles).as_matrix(),
                               SR.from_euler(seq, angles).as_matrix(), atol=1e-12)
    np.testing.assert_allclose(
        Rotation.from_euler(seq, np.rad2deg(angles), degrees=True).as_matrix(),
        SR.from_euler(seq, angles).as_matrix(), atol=1e-12)
    q = _quats(1)
    np.testing.assert_allclose(_wrapped(Rotation.from_quat(q).as_euler(seq),
                                        SR.from_quat(q).as_euler(seq)), 0, atol=1e-8)
    np.testing.assert_allclose(
        _wrapped(np.deg2rad(Rotation.from_quat(q).as_euler(seq, degrees=True)),
                 SR.from_quat(q).as_euler(seq)), 0, atol=1e-8)
    # gimbal lock: the third angle is 0 and the rest as SciPy
    for middle in (0.0, np.pi / 2, -np.pi / 2, np.pi):
        locked = SR.from_euler(seq, [[0.3, middle, 0.0], [0.7, middle, 0.2]])
        np.testing.assert_allclose(
            _wrapped(Rotation.from_quat(locked.as_quat()).as_euler(seq), locked.as_euler(seq)),
            0, atol=1e-6, err_msg=f"middle {middle}")


def test_single_axis_and_python_inputs() -> None:
    r = Rotation.from_euler("z", 90, degrees=True)
    assert r.single and r.quat.dtype == np.float32
    np.testing.assert_allclose(r.quat, [0, 0, np.sqrt(0.5), np.sqrt(0.5)], rtol=1e-6)
    np.testing.assert_allclose(Rotation.from_euler("xy", [[0.1, 0.2]]).as_matrix(),
                               SR.from_euler("xy", [[0.1, 0.2]]).as_matrix(), atol=1e-6)
    assert Rotation.from_quat([0, 0, 0, 2]).quat.dtype == np.float32
    np.testing.assert_array_equal(Rotation.from_quat([0, 0, 0, 2]).quat, [0, 0, 0, 1])
    np.testing.assert_array_equal(Rotation.identity().quat, [0, 0, 0, 1])
    assert Rotation.identity(3, np.float32).quat.shape == (3, 4)


def test_compose_apply_inverse() -> None:
    q = _quats(2)
    s, r = SR.from_quat(q), Rotation.from_quat(q)
    np.testing.assert_allclose((r * r[::-1]).as_matrix(), (s * s[::-1]).as_matrix(),
                               atol=1e-12)
    np.testing.assert_allclose((r[2] * r).as_matrix(), (s[2] * s).as_matrix(), atol=1e-12)
    v = np.random.default_rng(3).standard_normal((8, 3))
    for inverse in (False, True):
        np.testing.assert_allclose(r.apply(v, inverse), s.apply(v, inverse), atol=1e-12)
        np.testing.assert_allclose(r[5].apply(v, inverse), s[5].apply(v, inverse),
                                   atol=1e-12)
        np.testing.assert_allclose(r.apply(v[0], inverse), s.apply(v[0], inverse),
                                   atol=1e-12)
    np.testing.assert_allclose(r.inv().as_matrix(), s.inv().as_matrix(), atol=1e-12)
    np.testing.assert_allclose((r * r.inv()).magnitude(), 0, atol=1e-7)
    assert len(r) == 8 and len(r[1:3]) == 2
    np.testing.assert_allclose(Rotation.concatenate([r[:2], r[3]]).quat,
                               SR.concatenate([s[:2], s[3]]).as_quat(), atol=1e-12)


def test_mean_matches_scipy() -> None:
    q = _quats(4)
    w = np.random.default_rng(4).uniform(0.1, 1, 8)
    for weights in (None, w):
        got = Rotation.from_quat(q).mean(weights)
        assert got.single
        np.testing.assert_allclose(got.as_matrix(), SR.from_quat(q).mean(weights).as_matrix(),
                                   atol=1e-10)


def test_slerp_matches_scipy() -> None:
    q = _quats(5, 6)
    times = [0.0, 1.0, 3.0, 4.5, 6.0, 7.0]
    ours, theirs = Slerp.init(times, Rotation.from_quat(q)), SS(times, SR.from_quat(q))
    t = np.array([0.0, 0.5, 1.0, 2.2, 4.5, 6.9, 7.0])
    np.testing.assert_allclose(ours(t).as_matrix(), theirs(t).as_matrix(), atol=1e-12)
    single = ours(2.2)
    assert single.single
    np.testing.assert_allclose(single.as_matrix(), theirs(2.2).as_matrix(), atol=1e-12)
    # outside the key times: the first or last interval continued (SciPy raises)
    step = SR.from_quat(q[5]) * SR.from_quat(q[4]).inv()
    expected = (step * SR.from_quat(q[5])).as_matrix()  # one more step of the last interval
    np.testing.assert_allclose(ours(8.0).as_matrix(), expected, atol=1e-12)


def test_derivatives_finite_at_identity() -> None:
    check_grads(lambda v: Rotation.from_rotvec(v).as_quat(), (np.array([0.3, -0.2, 0.5]),))
    check_grads(lambda v: Rotation.from_rotvec(v).as_rotvec(), (np.array([1e-4, 2e-4, 0]),),
                order=1)
    g = fnad.jacobian(lambda v: Rotation.from_rotvec(v).as_rotvec())(np.zeros(3))
    np.testing.assert_allclose(g, np.eye(3), atol=1e-12)
    check_grads(lambda q, v: Rotation.from_quat(q).apply(v), (_quats(6)[4:6], np.ones((2, 3))))
    check_grads(lambda a: Rotation.from_euler("zyx", a).as_euler("zyx"),
                (np.array([0.3, 0.4, -1.2]),), order=1)
    check_grads(lambda m: Rotation.from_matrix(m).as_quat(),
                (SR.from_quat(_quats(7)[4:7]).as_matrix(),), order=1)


def test_jit_and_vmap() -> None:
    q = _quats(8)
    r = Rotation.from_quat(q)
    v = np.random.default_rng(8).standard_normal((8, 3))
    np.testing.assert_allclose(fnad.jit(lambda r, v: r.apply(v))(r, v), r.apply(v),
                               rtol=1e-12)
    np.testing.assert_allclose(fnad.vmap(lambda r: r.as_euler("XYZ"))(r), r.as_euler("XYZ"),
                               atol=1e-12)
    out = fnad.jit(lambda q: Rotation.from_quat(q).inv())(q)
    assert isinstance(out, Rotation)
    np.testing.assert_allclose(out.quat, r.inv().quat, rtol=1e-12)
    slerp = Slerp.init(np.arange(8.0), r)
    np.testing.assert_allclose(fnad.jit(lambda s, t: s(t).quat)(slerp, np.array([0.5, 3.2])),
                               slerp(np.array([0.5, 3.2])).quat, rtol=1e-12)


def test_errors() -> None:
    r = Rotation.from_quat(_quats())
    with pytest.raises(fnad.FnadError, match=r"\(\.\.\., 4\)"):
        Rotation.from_quat(np.ones(3))
    with pytest.raises(fnad.FnadError, match=r"3, 3"):
        Rotation.from_matrix(np.eye(4))
    with pytest.raises(ValueError, match="consecutive"):
        Rotation.from_euler("xxy", [1, 2, 3])
    with pytest.raises(ValueError, match="mixed"):
        Rotation.from_euler("xYz", [1, 2, 3])
    with pytest.raises(ValueError, match="3 entries"):
        Rotation.from_euler("xyz", [1, 2])
    with pytest.raises(ValueError, match="3 axes"):
        r.as_euler("xy")
    with pytest.raises(TypeError, match="not subscriptable"):
        r[0][0]
    with pytest.raises(TypeError, match="no len"):
        len(r[0])
    with pytest.raises(ValueError, match="weights"):
        r.mean(np.ones(3))
    with pytest.raises(NotImplementedError):
        Rotation.random(None)
    with pytest.raises(TypeError, match="Rotation"):
        Slerp.init([0, 1], _quats()[:2])
    with pytest.raises(ValueError, match="at least 2"):
        Slerp.init([0], r[:1])
    with pytest.raises(ValueError, match="one entry per rotation"):
        Slerp.init([0, 1, 2], r[:2])
    with pytest.raises(ValueError, match="strictly increasing"):
        Slerp.init([0, 2, 1], r[:3])
    with pytest.raises(ValueError, match="at most 1-d"):
        Slerp.init([0, 1], r[:2])(np.zeros((2, 2)))


def test_no_numpy_warning() -> None:
    # a zero quaternion normalizes to NaN silently (it warned)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = Rotation.from_quat(np.zeros(4))
        assert np.isnan(r.as_matrix()).all() and np.isnan(r.as_rotvec()).all()
