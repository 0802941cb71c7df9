"""`fnad.scipy.spatial.transform`: `Rotation` and `Slerp` as JAX has them. A rotation is a
unit quaternion (x, y, z, w), scalar last, in an array whose leading axes stack rotations;
every conversion is arithmetic on the last axis, so it differentiates, jits and vmaps.
Both classes are pytrees (named tuples of arrays), so they can cross `jit` and `vmap`.

Where a formula divides by the rotation angle, the small-angle branch is a Taylor series
and the other branch only sees safe arguments, so derivatives at the identity are finite."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

import fnad.numpy as fnp
from fnad import tree
from fnad.core.errors import ArgumentError, ArgumentTypeError, ShapeError, user_line
from fnad.core.ir import get_aval
from fnad.core.trace import Tracer
from fnad.scipy._util import promote_inexact, quiet_methods

_SMALL = 1e-3  # below this angle (radians) the series replace the closed forms
_EULER_EPS = 1e-7  # how close to 0 or pi the middle Euler angle counts as gimbal lock


def _inexact(name: str, x: Any, trailing: tuple[int, ...]) -> Any:
    """`x` as an inexact array whose last axes are `trailing`."""
    (x,) = promote_inexact(fnp.asarray(x))
    shape = get_aval(x).shape
    if get_aval(x).dtype.kind == "c":
        raise ArgumentError(f"Rotation.{name}: expected a real array, got {get_aval(x).dtype}")
    if shape[len(shape) - len(trailing):] != trailing:
        raise ShapeError(f"Rotation.{name}: expected an array of shape (..., "
                         f"{', '.join(map(str, trailing))}), got {shape}{user_line()}")
    return x


def _norm(v: Any) -> Any:
    """The Euclidean norm over the last axis, with derivative 0 (not NaN) at 0."""
    n2 = fnp.sum(v * v, axis=-1)
    positive = n2 > 0
    return fnp.where(positive, fnp.sqrt(fnp.where(positive, n2, 1)), 0)


def _parts(q: Any) -> tuple[Any, Any, Any, Any]:
    return q[..., 0], q[..., 1], q[..., 2], q[..., 3]


def _normalize(q: Any) -> Any:
    return q / _norm(q)[..., None]


def _compose(p: Any, q: Any) -> Any:
    """The quaternion product p q: the rotation q followed by p."""
    px, py, pz, pw = _parts(p)
    qx, qy, qz, qw = _parts(q)
    return fnp.stack([pw * qx + qw * px + py * qz - pz * qy,
                      pw * qy + qw * py + pz * qx - px * qz,
                      pw * qz + qw * pz + px * qy - py * qx,
                      pw * qw - px * qx - py * qy - pz * qz], axis=-1)


def _elementary(axis: int, angle: Any) -> Any:
    """The quaternion of a rotation by `angle` about basis axis `axis`."""
    zero = fnp.zeros_like(angle)
    parts = [zero, zero, zero, fnp.cos(angle / 2)]
    parts[axis] = fnp.sin(angle / 2)
    return fnp.stack(parts, axis=-1)


def _axes(name: str, seq: Any, lengths: Sequence[int]) -> tuple[list[int], bool]:
    """The basis indices of an Euler sequence and whether it is extrinsic (lower case)."""
    if not isinstance(seq, str) or len(seq) not in lengths:
        raise ArgumentError(f"Rotation.{name}: expected a sequence of "
                            f"{' or '.join(map(str, lengths))} axes, got {seq!r}")
    extrinsic = re.fullmatch(r"[xyz]+", seq) is not None
    if not extrinsic and re.fullmatch(r"[XYZ]+", seq) is None:
        raise ArgumentError(f"Rotation.{name}: expected axes from 'xyz' (extrinsic) or 'XYZ' "
                            f"(intrinsic), not mixed, got {seq!r}")
    if any(a == b for a, b in zip(seq, seq[1:])):
        raise ArgumentError(f"Rotation.{name}: consecutive axes must differ, got {seq!r}")
    return ["xyz".index(c) for c in seq.lower()], extrinsic


def _canonical(q: Any) -> Any:
    """`q` or `-q` (the same rotation), whichever has w > 0, or on w == 0 the first nonzero
    of x, y, z positive."""
    x, y, z, w = _parts(q)
    flip = (w < 0) | ((w == 0) & ((x < 0) | ((x == 0) & ((y < 0) | ((y == 0) & (z < 0))))))
    return fnp.where(flip[..., None], -q, q)


class Rotation(NamedTuple):
    """Rotations in 3 dimensions as `scipy.spatial.transform.Rotation` in JAX's form: built by
    the `from_*` class methods, combined with `*` (`p * q` applies q first), converted by
    the `as_*` methods. `quat` holds unit quaternions (x, y, z, w), one per leading index."""

    quat: Any

    @classmethod
    def concatenate(cls, rotations: Sequence[Rotation]) -> Rotation:
        """The rotations of each stack, one after another (single rotations count as one)."""
        return cls(fnp.concatenate([fnp.atleast_2d(r.quat) for r in rotations]))

    @classmethod
    def from_euler(cls, seq: str, angles: Any, degrees: bool = False) -> Rotation:
        """Rotations by `angles` (last axis: one per axis of `seq`) about up to 3 axes: 'xyz'
        rotates about fixed axes (extrinsic), 'XYZ' about the turning body's (intrinsic)."""
        axes, extrinsic = _axes("from_euler", seq, (1, 2, 3))
        angles = fnp.atleast_1d(_inexact("from_euler", angles, ()))
        if get_aval(angles).shape[-1] != len(axes):
            raise ShapeError(f"Rotation.from_euler: angles must have {len(axes)} entries on "
                             f"their last axis for {seq!r}, got shape "
                             f"{get_aval(angles).shape}{user_line()}")
        if degrees:
            angles = fnp.deg2rad(angles)
        quat = _elementary(axes[0], angles[..., 0])
        for n, axis in enumerate(axes[1:], 1):
            step = _elementary(axis, angles[..., n])
            quat = _compose(step, quat) if extrinsic else _compose(quat, step)
        return cls(quat)

    @classmethod
    def from_matrix(cls, matrix: Any) -> Rotation:
        """Rotations from 3x3 rotation matrices (last two axes), by Shepperd's method: the
        quaternion is computed from whichever of its components is largest."""
        m = _inexact("from_matrix", matrix, (3, 3))
        trace = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
        candidates = []
        for i in range(3):
            j, k = (i + 1) % 3, (i + 2) % 3
            q = [None] * 4
            q[i] = 1 - trace + 2 * m[..., i, i]
            q[j] = m[..., j, i] + m[..., i, j]
            q[k] = m[..., k, i] + m[..., i, k]
            q[3] = m[..., k, j] - m[..., j, k]
            candidates.append(fnp.stack(q, axis=-1))
        candidates.append(fnp.stack([m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0],
                                     m[..., 1, 0] - m[..., 0, 1], 1 + trace], axis=-1))
        choice = fnp.argmax(fnp.stack([m[..., 0, 0], m[..., 1, 1], m[..., 2, 2], trace],
                                      axis=-1), axis=-1)
        stacked = fnp.stack(candidates, axis=-2)
        quat = fnp.take_along_axis(stacked, choice[..., None, None], axis=-2)[..., 0, :]
        return cls(_normalize(quat))

    @classmethod
    def from_mrp(cls, mrp: Any) -> Rotation:
        """Rotations from modified Rodrigues parameters (axis times tan(angle / 4))."""
        p = _inexact("from_mrp", mrp, (3,))
        p2 = fnp.sum(p * p, axis=-1, keepdims=True)
        return cls(fnp.concatenate([2 * p, 1 - p2], axis=-1) / (1 + p2))

    @classmethod
    def from_quat(cls, quat: Any) -> Rotation:
        """Rotations from quaternions (x, y, z, w), normalized to unit length."""
        return cls(_normalize(_inexact("from_quat", quat, (4,))))

    @classmethod
    def from_rotvec(cls, rotvec: Any, degrees: bool = False) -> Rotation:
        """Rotations from rotation vectors (axis times angle)."""
        v = _inexact("from_rotvec", rotvec, (3,))
        if degrees:
            v = fnp.deg2rad(v)
        angle = _norm(v)
        small = angle <= _SMALL
        a2 = angle * angle
        safe = fnp.where(small, 1, angle)
        scale = fnp.where(small, 0.5 - a2 / 48 + a2 * a2 / 3840, fnp.sin(safe / 2) / safe)
        return cls(fnp.concatenate([scale[..., None] * v, fnp.cos(angle / 2)[..., None]],
                                   axis=-1))

    @classmethod
    def identity(cls, num: int | None = None, dtype: Any = float) -> Rotation:
        """The rotation that does nothing (`num` of them stacked when given)."""
        quat = fnp.asarray([0.0, 0.0, 0.0, 1.0], dtype=dtype)
        return cls(quat if num is None else fnp.tile(quat, (num, 1)))

    @classmethod
    def random(cls, random_key: Any, num: int | None = None) -> Rotation:
        """Not implemented, as in JAX: draw with `fnad.random.normal(key, (num, 4))` and
        `Rotation.from_quat` (uniform on rotations)."""
        raise NotImplementedError("Rotation.random is not implemented (as in JAX); use "
                                  "Rotation.from_quat(fnad.random.normal(key, (num, 4)))")

    def __getitem__(self, indexer: Any) -> Rotation:  # type: ignore[override]
        if self.single:
            raise ArgumentTypeError("Rotation: a single rotation is not subscriptable")
        return Rotation(fnp.at(self.quat)[indexer].get())

    def __len__(self) -> int:
        if self.single:
            raise ArgumentTypeError("Rotation: a single rotation has no len()")
        return get_aval(self.quat).shape[0]

    def __mul__(self, other: Rotation) -> Rotation:  # type: ignore[override]
        """`self` after `other`, renormalized."""
        if not isinstance(other, Rotation):
            return NotImplemented
        return Rotation(_normalize(_compose(self.quat, other.quat)))

    def apply(self, vectors: Any, inverse: bool = False) -> Any:
        """The rotated `vectors` (last axis 3), broadcast against the rotations; `inverse`
        applies the inverse rotations."""
        v = _inexact("apply", vectors, (3,))
        matrix = self.as_matrix()
        if inverse:
            matrix = fnp.swapaxes(matrix, -1, -2)
        return fnp.matmul(matrix, v[..., None])[..., 0]

    def as_euler(self, seq: str, degrees: bool = False) -> Any:
        """Euler angles about the 3 axes of `seq` ('xyz' extrinsic, 'XYZ' intrinsic), each
        wrapped to [-pi, pi), from the quaternion directly (Bernardes and Viollet, 2022). At
        gimbal lock the third angle is 0, as SciPy (which also warns)."""
        axes, extrinsic = _axes("as_euler", seq, (3,))
        if not extrinsic:
            axes = axes[::-1]
        i, j, k = axes
        symmetric = i == k
        if symmetric:
            k = 3 - i - j
        sign = (i - j) * (j - k) * (k - i) // 2
        q = self.quat
        w = q[..., 3]
        if symmetric:
            a, b, c, d = w, q[..., i], q[..., j], q[..., k] * sign
        else:
            a, b = w - q[..., j], q[..., i] + q[..., k] * sign
            c, d = q[..., j] + w, q[..., k] * sign - q[..., i]
        middle = 2 * fnp.arctan2(fnp.hypot(c, d), fnp.hypot(a, b))
        half_sum, half_diff = fnp.arctan2(b, a), fnp.arctan2(d, c)
        at_zero = fnp.abs(middle) <= _EULER_EPS
        at_pi = fnp.abs(middle - np.pi) <= _EULER_EPS
        locked = at_zero | at_pi
        degenerate = fnp.where(at_zero, 2 * half_sum, (-2 if extrinsic else 2) * half_diff)
        first = fnp.where(locked, 0, half_sum - half_diff)
        third = fnp.where(locked, 0, half_sum + half_diff)
        if extrinsic:  # angles in the order of seq: (first, middle, third)
            first = fnp.where(locked, degenerate, first)
        else:  # the axes were reversed: the angles come out reversed too
            third = fnp.where(locked, degenerate, third)
        if not symmetric:
            middle = middle - np.pi / 2
            third = third * sign
        angles = fnp.stack([first, middle, third] if extrinsic else [third, middle, first],
                           axis=-1)
        angles = (angles + np.pi) % (2 * np.pi) - np.pi
        return fnp.rad2deg(angles) if degrees else angles

    def as_matrix(self) -> Any:
        """The rotation matrices, shape (..., 3, 3)."""
        x, y, z, w = _parts(self.quat)
        xx, yy, zz, ww = x * x, y * y, z * z, w * w
        xy, xz, yz, xw, yw, zw = x * y, x * z, y * z, x * w, y * w, z * w
        rows = [[xx - yy - zz + ww, 2 * (xy - zw), 2 * (xz + yw)],
                [2 * (xy + zw), -xx + yy - zz + ww, 2 * (yz - xw)],
                [2 * (xz - yw), 2 * (yz + xw), -xx - yy + zz + ww]]
        return fnp.stack([fnp.stack(r, axis=-1) for r in rows], axis=-2)

    def as_mrp(self) -> Any:
        """Modified Rodrigues parameters, of the quaternion with w >= 0 (norm at most 1)."""
        sign = fnp.where(self.quat[..., 3:] < 0, -1, 1).astype(get_aval(self.quat).dtype)
        return sign * self.quat[..., :3] / (1 + sign * self.quat[..., 3:])

    def as_rotvec(self, degrees: bool = False) -> Any:
        """Rotation vectors (axis times angle, the angle in [0, pi])."""
        q = fnp.where(self.quat[..., 3:] < 0, -self.quat, self.quat)
        angle = 2 * fnp.arctan2(_norm(q[..., :3]), q[..., 3])
        small = angle <= _SMALL
        a2 = angle * angle
        safe = fnp.where(small, 1, angle)
        scale = fnp.where(small, 2 + a2 / 12 + 7 * a2 * a2 / 2880, safe / fnp.sin(safe / 2))
        if degrees:
            scale = fnp.rad2deg(scale)
        return scale[..., None] * q[..., :3]

    def as_quat(self, canonical: bool = False, scalar_first: bool = False) -> Any:
        """The quaternions, (x, y, z, w) or with `scalar_first` (w, x, y, z); `canonical`
        picks the sign with w > 0."""
        quat = _canonical(self.quat) if canonical else self.quat
        return fnp.roll(quat, 1, axis=-1) if scalar_first else quat

    def inv(self) -> Rotation:
        """The inverse rotations (the conjugate quaternions)."""
        return Rotation(fnp.multiply(self.quat, np.array([-1, -1, -1, 1], get_aval(self.quat).dtype)))

    def magnitude(self) -> Any:
        """The rotation angles, in [0, pi]."""
        return 2 * fnp.arctan2(_norm(self.quat[..., :3]), fnp.abs(self.quat[..., 3]))

    def mean(self, weights: Any = None) -> Rotation:
        """The (weighted) mean rotation of a stack: the quaternion that maximizes the
        weighted sum of squared dot products (the top eigenvector of sum w q q^T)."""
        dtype = get_aval(self.quat).dtype
        w = (fnp.ones(len(self), dtype) if weights is None
             else fnp.asarray(weights, dtype=dtype))
        if get_aval(w).shape != (len(self),):
            raise ShapeError(f"Rotation.mean: expected weights of shape ({len(self)},), one per "
                             f"rotation, got {get_aval(w).shape}{user_line()}")
        k = fnp.einsum("n,ni,nj->ij", w, self.quat, self.quat)
        return Rotation(fnp.linalg.eigh(k)[1][:, -1])

    @property
    def single(self) -> bool:
        """Whether this is one rotation rather than a stack."""
        return get_aval(self.quat).ndim == 1


class Slerp(NamedTuple):
    """Spherical linear interpolation between key rotations at key times, as
    `scipy.spatial.transform.Slerp` in JAX's form: build with `Slerp.init(times,
    rotations)` and call with the times wanted (before the first or after the last key
    time it extrapolates from the first or last interval, as JAX)."""

    times: Any
    timedelta: Any
    rotations: Rotation
    rotvecs: Any

    @classmethod
    def init(cls, times: Any, rotations: Rotation) -> Slerp:
        """The interpolator through `rotations` (a stack of at least 2) at strictly
        increasing `times`."""
        if not isinstance(rotations, Rotation):
            raise ArgumentTypeError("Slerp.init: rotations must be a Rotation instance, got "
                            f"{type(rotations).__name__}")
        if rotations.single or len(rotations) < 2:
            raise ArgumentError("Slerp.init: rotations must be a stack of at least 2 "
                                "rotations")
        times = fnp.asarray(times, dtype=get_aval(rotations.quat).dtype)
        if get_aval(times).shape != (len(rotations),):
            raise ShapeError(f"Slerp.init: times must be 1-d with one entry per rotation "
                             f"({len(rotations)}), got shape {get_aval(times).shape}"
                             f"{user_line()}")
        timedelta = fnp.diff(times)
        if not isinstance(timedelta, Tracer) and not bool(fnp.all(timedelta > 0)):
            raise ArgumentError("Slerp.init: times must be strictly increasing")
        start = Rotation(rotations.quat[:-1])
        steps = start.inv() * Rotation(rotations.quat[1:])
        return cls(times, timedelta, start, steps.as_rotvec())

    def __call__(self, times: Any) -> Rotation:
        """The interpolated rotations at `times` (a scalar gives a single rotation)."""
        t = fnp.asarray(times, dtype=get_aval(self.times).dtype)
        if get_aval(t).ndim > 1:
            raise ShapeError(f"Slerp: times must be at most 1-d, got shape {get_aval(t).shape}"
                             f"{user_line()}")
        single = get_aval(t).ndim == 0
        t = fnp.atleast_1d(t)
        last = get_aval(self.timedelta).shape[0] - 1
        index = fnp.clip(fnp.searchsorted(self.times, t) - 1, 0, last)
        alpha = (t - fnp.take(self.times, index)) / fnp.take(self.timedelta, index)
        turn = Rotation.from_rotvec(fnp.take(self.rotvecs, index, axis=0) * alpha[:, None])
        result = Rotation(fnp.take(self.rotations.quat, index, axis=0)) * turn
        return result[0] if single else result


tree.register_pytree_node(Rotation, lambda r: ((r.quat,), None),
                          lambda _, children: Rotation(*children))

quiet_methods(Rotation, ["concatenate", "from_euler", "from_matrix", "from_mrp", "from_quat",
                         "from_rotvec", "identity", "__getitem__", "__mul__", "apply",
                         "as_euler", "as_matrix", "as_mrp", "as_rotvec", "as_quat", "inv",
                         "magnitude", "mean"])
quiet_methods(Slerp, ["init", "__call__"])

__all__ = ["Rotation", "Slerp"]
