"""`quiet_all` for classes: the methods of fnad.scipy's classes (interpolators, rotations)
run eager NumPy arithmetic too, and answer NaN and inf silently as fnad's functions do."""

from __future__ import annotations

from collections.abc import Iterable

from fnad.scipy._util import _quiet


def quiet_methods(cls: type, names: Iterable[str]) -> None:
    """Wrap the methods `names` of `cls` (class methods stay class methods)."""
    for name in names:
        attr = vars(cls)[name]
        if isinstance(attr, classmethod):
            setattr(cls, name, classmethod(_quiet(attr.__func__)))
        else:
            setattr(cls, name, _quiet(attr))
