"""The rules the SDK and the platform both apply, here once (the platform imports the SDK,
never the other way round): how a later step of a chain is filled and which step comes next,
and which version of a model serves it."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._model import MERGED_KINDS, fill_inputs, next_step

__all__ = ["MERGED_KINDS", "fill_inputs", "newest_ready", "next_step"]


def newest_ready(versions: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The highest-numbered version whose build is ready, if any."""
    ready = [v for v in versions if v.get("status") == "ready" and isinstance(v.get("version"), int)]
    return max(ready, key=lambda v: v["version"]) if ready else None
