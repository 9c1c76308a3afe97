"""The time windows a metrics or drift request asks about, as both the gateway (which checks and documents
it) and telemetry (which answers it) read it from the query."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

from fastapi import HTTPException, Query as Q
from pydantic import BaseModel, Field

DEFAULT_WINDOW = timedelta(hours=24)
MINUTES_UP_TO = timedelta(hours=6)  # longer windows default to hourly buckets
MAX_VERSION = 2**31 - 1  # far past any quota, and within what every store can compare


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    step: Literal["1m", "1h"]
    version: int | None


def as_utc(at: datetime | None) -> datetime | None:
    """In UTC, as the buckets are; a time without a zone is taken as UTC."""
    if at is None:
        return None
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


def window_query(start: datetime | None = Q(None, alias="from", description="window start (ISO 8601); "
                                            "default: 24 hours before `to`"),
                 end: datetime | None = Q(None, alias="to", description="window end (ISO 8601); default: now"),
                 step: Literal["1m", "1h"] | None = Q(None, description="bucket size; default 1m for windows "
                                                       "up to 6 hours, else 1h"),
                 version: int | None = Q(None, ge=1, le=MAX_VERSION,
                                         description="only this version's runs")) -> Window:
    end = as_utc(end) or datetime.now(timezone.utc)
    start = as_utc(start) or end - DEFAULT_WINDOW
    if start >= end:
        raise HTTPException(422, detail=[{"loc": ["query", "from"], "msg": "must be before `to`",
                                          "type": "value_error"}])
    return Window(start, end, step or ("1m" if end - start <= MINUTES_UP_TO else "1h"), version)


class ReferencePin(BaseModel):
    """The window of a version's runs its drift is measured against, instead of its first ones."""
    version: int = Field(ge=1, le=MAX_VERSION)
    start: datetime = Field(alias="from", description="the reference window's start (ISO 8601)")
    end: datetime = Field(alias="to", description="its end")
