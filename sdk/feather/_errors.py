"""Exceptions raised by the SDK, the runtime and the client.

Standard library only: model code imports these inside its own virtualenv.
"""
from __future__ import annotations

import os
import sys
from types import FrameType
from typing import Any


class FeatherError(Exception):
    """Base class of every error feather raises on purpose."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class DefinitionError(FeatherError):
    """app.py defines the model wrongly; the message starts with `file:line:`."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        where = display_path(file) if file else None
        if where and line:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}" if where else message)
        self.file = file
        self.line = line


class NotFound(FeatherError):
    """The model, version or run does not exist (HTTP 404)."""


class InvalidInput(FeatherError):
    """Inputs were rejected; `field` names the offending input when known."""

    def __init__(self, message: str, *, field: str | None = None, status_code: int | None = None) -> None:
        super().__init__(message, status_code=status_code)
        self.field = field


class Unauthorized(FeatherError):
    """The token is missing, invalid or not allowed to do this (HTTP 401/403)."""


class RunFailed(FeatherError):
    """The run ended in `failed` or `canceled`; `run` is the final Run."""

    def __init__(self, message: str, run: Any = None) -> None:
        super().__init__(message)
        self.run = run


class RunTimedOut(FeatherError):
    """The run timed out on the server, or the local wait ran out first."""

    def __init__(self, message: str, run: Any = None) -> None:
        super().__init__(message)
        self.run = run


class BuildFailed(FeatherError):
    """Building the published version failed; `log` is the build log."""

    def __init__(self, message: str, log: str = "") -> None:
        super().__init__(message)
        self.log = log


def display_path(path: str) -> str:
    """Path relative to the working directory when below it, so messages stay short."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # other drive on Windows
        return path
    return path if rel.startswith("..") else rel


def caller_location() -> tuple[str | None, int | None]:
    """File and line of the nearest frame outside the feather package.

    Definition errors point at the user's app.py line, not at SDK internals.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(here + os.sep):
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    return None, None
