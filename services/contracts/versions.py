"""Rules about a model's versions that more than one service applies."""
from __future__ import annotations

# A version's status follows its build; a late or repeated event never moves it backwards.
_STATUS_ORDER = {"building": 0, "ready": 1, "failed": 1}


def version_key(model_id: str, version: int) -> str:
    """How every service names one version of a model (``owner/name@3``)."""
    return f"{model_id}@{version}"


def status_after(current: str | None, event_status: str) -> str:
    """The status a version has once an event saying ``event_status`` arrives."""
    if current is None or _STATUS_ORDER[event_status] >= _STATUS_ORDER.get(current, 0):
        return event_status
    return current
