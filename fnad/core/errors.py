"""Errors fnad raises because of its user's input, and where in the user's code they arose.

Every error derives from `FnadError`. Messages name the operation, the shapes and dtypes
involved and the user's own source line, and say what to do instead. `api_boundary` wraps
the public transforms: an error leaving one names the transforms in effect and loses the
library's own frames from its traceback (`FNAD_TRACEBACK=full` keeps them).
"""

from __future__ import annotations

import functools
import os
import re
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class FnadError(Exception):
    """Base class of every error fnad raises because of its user's input.

    Public transforms annotate it on the way out (see `api_boundary`): `transforms` are
    their names, outermost first, and `where` is the user's line when the message had none.
    """

    transforms: tuple[str, ...] = ()
    where: SourceInfo | None = None

    def __str__(self) -> str:
        text = super().__str__()
        if self.where is not None:
            text += f" (at {self.where})"
        if self.transforms:
            text += f" (under {' > '.join(self.transforms)})"
        return text


class ShapeError(FnadError, ValueError, TypeError):
    """Operand shapes do not fit the operation. Both a ValueError (NumPy's and jax.numpy's
    broadcasting errors) and a TypeError (jax.lax's shape errors, `reshape`'s), so that
    `except` clauses written for either catch it."""


class DTypeError(FnadError, TypeError):
    """Operand dtypes do not fit the operation."""


class ConcretizationError(FnadError, TypeError):
    """A traced (abstract) value was used where a concrete Python value is needed."""


class EscapedTracerError(FnadError, RuntimeError):
    """A tracer was used after the transform that made it had returned."""


class ArgumentError(FnadError, ValueError):
    """An argument's value does not fit the function (an unknown mode, an axis out of
    range, a size that does not divide): the message names the function and the value."""


class ArgumentTypeError(FnadError, TypeError):
    """An argument of the wrong kind (a float where an integer array is needed, ...)."""


def check_one_device(fn: str, /, **shardings: Any) -> None:
    """JAX's `out_sharding=`/`sharding=` spread a result over devices. fnad computes on one
    device, so it takes None or a sharding over a single device (`device_set` of one) and
    refuses the rest rather than silently ignore a layout the program relies on."""
    for name, value in shardings.items():
        if value is not None and len(getattr(value, "device_set", ())) != 1:
            raise ArgumentError(f"{fn}: {name}={value!r} lays the result out across "
                                f"devices; fnad runs on one device, so pass {name}=None")


def check_no_out(fn: str, out: Any) -> None:
    """NumPy's `out=`: JAX takes None only, for fnad's arrays are immutable too."""
    if out is not None:
        raise ArgumentError(f"{fn} takes no out= (arrays are immutable): use the result")


def check_unsupported(fn: str, why: str, /, **options: Any) -> None:
    """JAX options that only tune XLA (`accuracy=`, `axis_index_groups=`...) are taken with
    their default, None; any other value raises (`why` says what fnad does instead)."""
    for name, value in options.items():
        if value is not None:
            raise ArgumentError(f"{fn}: {name}={value!r} is not supported ({why}); "
                                f"pass {name}=None")


class TransformError(FnadError, ValueError, TypeError):
    """A transform was asked for something it cannot do (bad argnums, in_axes, ...). Both a
    ValueError (JAX's vmap and vjp errors) and a TypeError (JAX's grad and jvp errors), so
    that `except` clauses written for either catch it."""


class IntegerOverflowError(FnadError, OverflowError):
    """A Python int does not fit the integer dtype it becomes (int32, or int64 with x64)."""


class NonFiniteError(FnadError, FloatingPointError):
    """A primitive produced NaN or inf while `debug_nans` / `debug_infs` was on."""


class LeakedTracerError(FnadError, RuntimeError):
    """Tracers outlived their transform while leak checking was on (`checking_leaks`)."""


_INTERNAL_FILES: set[str] = set()  # files of the fnad package met so far
_USER_FILES: set[str] = set()  # and the others (tests count as user code)


def _is_internal(filename: str) -> bool:
    if filename in _INTERNAL_FILES:
        return True
    if filename in _USER_FILES:
        return False
    inside = filename.startswith(_PACKAGE_DIR) and os.sep + "tests" + os.sep not in filename
    (_INTERNAL_FILES if inside else _USER_FILES).add(filename)
    return inside


def user_frame(depth: int = 1) -> types.FrameType | None:
    """The innermost stack frame outside the fnad package: the user's line."""
    frame: types.FrameType | None = sys._getframe(depth)
    internal, user = _INTERNAL_FILES, _USER_FILES
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename not in internal and (filename in user or not _is_internal(filename)):
            break
        frame = frame.f_back
    return frame


class SourceInfo:
    """Where in the user's code an equation was traced: file, line and function."""

    __slots__ = ("filename", "lineno", "function")

    def __init__(self, filename: str, lineno: int, function: str):
        self.filename, self.lineno, self.function = filename, lineno, function

    def __str__(self) -> str:
        return f"{os.path.basename(self.filename)}:{self.lineno} ({self.function})"


def current_source_info(skip: int = 0) -> SourceInfo | None:
    """The user's line; `skip` frames above the caller are known to be fnad's own."""
    frame = user_frame(2 + skip)
    if frame is None:
        return None
    return SourceInfo(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)


def user_line() -> str:
    """' (at file.py:12 in f)' for the user's current line, or '' when there is none."""
    info = current_source_info()
    return f" (at {info})" if info is not None else ""


# ---------------------------------------------------------------------------- API boundary

def _trimmed(tb: types.TracebackType | None) -> types.TracebackType | None:
    """The traceback without fnad's own frames (tests count as user code)."""
    kept = []
    while tb is not None:
        if not _is_internal(tb.tb_frame.f_code.co_filename):
            kept.append(tb)
        tb = tb.tb_next
    out = None
    for t in reversed(kept):
        out = types.TracebackType(out, t.tb_frame, t.tb_lasti, t.tb_lineno)
    return out


def _innermost_user_frame(tb: types.TracebackType | None) -> types.FrameType | None:
    frame = None
    while tb is not None:
        if not _is_internal(tb.tb_frame.f_code.co_filename):
            frame = tb.tb_frame
        tb = tb.tb_next
    return frame


def _annotate(e: FnadError, name: str) -> None:
    """Record `name` as the next-outer transform; give the message a user line if it has none."""
    e.transforms = (name, *e.transforms)
    if e.where is None and not _HAS_LOCATION.search(Exception.__str__(e)):
        frame = _innermost_user_frame(e.__traceback__) or user_frame()
        if frame is not None:
            e.where = SourceInfo(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)


_HAS_LOCATION = re.compile(r"\S:\d+ \([^()\s]+\)")  # "file.py:12 (f)", as SourceInfo prints


# Called with the transform's name after each outermost public call returns (leak checks).
after_call_hooks: list[Callable[[str], None]] = []


class _Depth(threading.local):
    value = 0


_depth = _Depth()


def api_boundary(fn: Callable[..., Any], name: str, wrap_results: bool = True
                 ) -> Callable[..., Any]:
    """Wrap a public transform so that an FnadError leaving it names the transform and the
    user's line, with fnad's own frames trimmed from its traceback.

    With `wrap_results`, the functions `fn` returns (e.g. the gradient function of `grad`,
    or `f_vjp` in `vjp`'s result) are wrapped too.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # noqa: F841  (pytest and IPython hide this frame)
        hooked = bool(after_call_hooks)
        if hooked:
            _depth.value += 1
        try:
            out = fn(*args, **kwargs)
        except FnadError as e:
            _annotate(e, name)
            if os.environ.get("FNAD_TRACEBACK", "").lower() == "full":
                raise
            raise e.with_traceback(_trimmed(e.__traceback__)) from e.__cause__
        finally:
            if hooked:
                _depth.value -= 1
        if hooked and _depth.value == 0:
            for hook in tuple(after_call_hooks):
                hook(name)
        return _wrap_result(out, name) if wrap_results else out

    return wrapper


def _wrap_result(out: Any, name: str) -> Any:
    if type(out) is types.FunctionType:
        return api_boundary(out, name)
    if type(out) is tuple and any(type(o) is types.FunctionType for o in out):
        return tuple(api_boundary(o, name) if type(o) is types.FunctionType else o
                     for o in out)
    return out
