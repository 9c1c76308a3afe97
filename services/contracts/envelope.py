"""CloudEvents binary mode on Kafka: the envelope in headers, the event as the JSON body.

Old event versions are read through upcasters: a function per (type name, version) that turns
the stored JSON of that version into the JSON of the next version.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import json

from services.contracts.events import CATALOGUE, Event

SPEC_VERSION = "1.0"
SIGNATURE = "ce_feathersignature"  # a CloudEvents extension attribute: the sender's Ed25519 signature
_NAMESPACE = uuid.UUID("6f1c0f52-9a7e-4d0e-9d55-3f6c2b1d8e11")

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownEvent(ValueError):
    """The message's ce_type names no event this code knows, in any version."""


@dataclass(frozen=True)
class Envelope:
    id: str
    type: str
    source: str
    time: datetime
    event: Event
    traceparent: str | None = None
    signature: str | None = None

    @property
    def sender(self) -> str:
        """The service that sent it, as its source names it (``feather/<service>``)."""
        return self.source.removeprefix("feather/")


def signed_bytes(headers: Mapping[str, str], body: bytes) -> bytes:
    """What an event's signature covers: its id, type and source, and its body as sent."""
    return "\n".join(headers.get(h, "") for h in ("ce_id", "ce_type", "ce_source")).encode() + b"\n" + body


class Codec:
    """Turns events into Kafka messages and back, upcasting older versions on the way in."""

    def __init__(self, events: tuple[type[Event], ...] = CATALOGUE) -> None:
        self._latest: dict[str, type[Event]] = {cls.name: cls for cls in events}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, event: type[Event]) -> None:
        self._latest[event.name] = event

    def upcaster(self, name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        def register(fn: Upcaster) -> Upcaster:
            self._upcasters[(name, from_version)] = fn
            return fn
        return register

    def encode(self, event: Event, *, source: str, event_id: str | None = None, traceparent: str | None = None,
               sign: Callable[[bytes], str] | None = None) -> tuple[dict[str, str], bytes]:
        """Headers and body; ``sign`` signs the kinds of event that must be (``Event.signed_by``)."""
        headers = {
            "ce_specversion": SPEC_VERSION,
            "ce_id": event_id or str(uuid.uuid4()),
            "ce_type": event.ce_type(),
            "ce_source": source,
            "ce_time": datetime.now(timezone.utc).isoformat(),
            "content-type": "application/json",
        }
        if traceparent:
            headers["traceparent"] = traceparent
        body = event.model_dump_json().encode()
        if sign is not None and event.signed_by:
            headers[SIGNATURE] = sign(signed_bytes(headers, body))
        return headers, body

    def decode(self, headers: Mapping[str, str], body: bytes) -> Envelope:
        ce_type = headers.get("ce_type", "")
        name, _, version_part = ce_type.removeprefix("feather.").rpartition(".v")
        cls = self._latest.get(name)
        if cls is None or not version_part.isdigit():
            raise UnknownEvent(f"unknown event type {ce_type!r}")
        version = int(version_part)
        data = json.loads(body)
        while version < cls.schema_version:
            step = self._upcasters.get((name, version))
            if step is None:
                raise UnknownEvent(f"no upcaster from {ce_type!r} to v{cls.schema_version}")
            data = step(data)
            version += 1
        return Envelope(
            id=headers.get("ce_id", ""),
            type=ce_type,
            source=headers.get("ce_source", ""),
            time=datetime.fromisoformat(headers["ce_time"]) if "ce_time" in headers else datetime.now(timezone.utc),
            event=cls.model_validate(data),
            traceparent=headers.get("traceparent"),
            signature=headers.get(SIGNATURE),
        )


def stable_id(*parts: str) -> str:
    """A ce_id that is the same every time a retry re-emits the same fact."""
    return str(uuid.uuid5(_NAMESPACE, ":".join(parts)))


codec = Codec()


@codec.upcaster("feedback.given", 1)
def _feedback_v1(data: dict) -> dict:
    return data  # v1's fields mean the same in v2, which only adds optional ones and widens rating
