"""Sending events as the service that produces them would: signed with its key from the same
data folder (``services.kit.identity``), so tests can stand in for a service that is not running."""
from __future__ import annotations

import sys
from pathlib import Path

from services.contracts.envelope import codec
from services.contracts.events import Event
from services.kit.bus import Bus
from services.kit.identity import Identity


async def send_as_producer(bus: Bus, event: Event, *, event_id: str | None = None, sender: str | None = None) -> None:
    """Publish ``event`` on ``bus`` as ``sender`` (by default the service that sends its kind)."""
    sender = sender or (min(event.signed_by) if event.signed_by else bus.service)
    headers, body = codec.encode(event, source=f"feather/{sender}", event_id=event_id,
                                 sign=Identity.of(sender, bus.settings).sign)
    await bus.publish_raw(event.topic, event.key(), headers, body)


def host_interpreter_in(data_dir: Path) -> str:
    """This interpreter, as a built environment's would be found: inside the data folder (the
    executor runs nothing from elsewhere), for tests whose model needs nothing this one lacks."""
    python = data_dir / "envs" / "host" / "bin" / "python"
    python.parent.mkdir(parents=True, exist_ok=True)
    if not python.is_symlink():
        python.symlink_to(sys.executable)
    return str(python)
