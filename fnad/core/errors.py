"""Errors fnad raises because of its user's input, and where in the user's code they arose.

Every error derives from `FnadError`. Messages name the operation, the shapes and dtypes
involved and the user's own source line, and say what to do instead.
"""

from __future__ import annotations

import functools
import os
import sys
import types

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class FnadError(Exception):
    """Base class of every error fnad raises because of its user's input."""


class ShapeError(FnadError, ValueError):
    """Operand shapes do not fit the operation."""


class DTypeError(FnadError, TypeError):
    """Operand dtypes do not fit the operation."""


class ConcretizationError(FnadError, TypeError):
    """A traced (abstract) value was used where a concrete Python value is needed."""


class EscapedTracerError(FnadError, RuntimeError):
    """A tracer was used after the transform that made it had returned."""


class TransformError(FnadError, ValueError):
    """A transform was asked for something it cannot do (bad argnums, in_axes, ...)."""


@functools.lru_cache(maxsize=4096)
def _is_internal(filename: str) -> bool:
    return filename.startswith(_PACKAGE_DIR) and os.sep + "tests" + os.sep not in filename


def user_frame(depth: int = 1) -> types.FrameType | None:
    """The innermost stack frame outside the fnad package: the user's line."""
    frame: types.FrameType | None = sys._getframe(depth)
    while frame is not None and _is_internal(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


class SourceInfo:
    """Where in the user's code an equation was traced: file, line and function."""

    __slots__ = ("filename", "lineno", "function")

    def __init__(self, filename: str, lineno: int, function: str):
        self.filename, self.lineno, self.function = filename, lineno, function

    def __str__(self) -> str:
        return f"{os.path.basename(self.filename)}:{self.lineno} ({self.function})"


def current_source_info() -> SourceInfo | None:
    frame = user_frame(2)
    if frame is None:
        return None
    return SourceInfo(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)


def user_line() -> str:
    """' (at file.py:12 in f)' for the user's current line, or '' when there is none."""
    info = current_source_info()
    return f" (at {info})" if info is not None else ""
