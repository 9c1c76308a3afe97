"""The document store port: the only storage interface a service sees.

Two adapters implement it (SQLite for the embedded platform, MongoDB in production) and one
contract suite, ``tests/contract/test_store_contract.py``, runs against both.

Documents are JSON-like dicts. The store adds two reserved fields to what it returns:
``_id`` (the key) and ``_v`` (a version number, starting at 1, bumped by every ``save`` and
every ``apply`` that changes the document). Field names are top-level names without ``.`` or a
leading ``$``; collection names must not start with ``_`` (kept for the stores' bookkeeping).
"""
from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
# How many applied event ids each document remembers. Redeliveries come from a consumer's
# uncommitted messages and from the outbox relay sending again what went out in the seconds
# before a broker restart; a document changed by more than this many events in that time may
# count a redelivered one twice.
KEEP_APPLIED = 1000


class Conflict(Exception):
    """A conditional write found the document in another state than expected."""


CONFLICT_TRIES = 5


async def retry_on_conflict(attempt: Callable[[], Awaitable[T]], tries: int = CONFLICT_TRIES) -> T:
    """Run ``attempt`` (read, decide, conditional write) again while its write finds the
    document changed meanwhile; after ``tries`` conflicts the last Conflict is raised."""
    for _ in range(tries - 1):
        try:
            return await attempt()
        except Conflict:
            continue
    return await attempt()


class InvalidCursor(ValueError):
    """A page cursor that no ``find`` of this store returned."""


@dataclass(frozen=True)
class OutboxRecord:
    """An event waiting to be published, written in the same transaction as the state."""

    topic: str
    key: str
    headers: Mapping[str, str]
    body: bytes
    seq: int | None = None  # assigned by the store, increasing


@dataclass(frozen=True)
class ParkedRecord:
    """An outbox record the relay could not publish, set aside so the records after it go out."""

    record: OutboxRecord
    reason: str
    parked_at: str  # ISO 8601, UTC


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None = None


@dataclass(frozen=True)
class Order:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class Query:
    """Equality filters on top-level fields, one sort field (ties broken by ``_id``).

    Filter values are str, int, float, bool or None (None matches null and missing alike; true
    does not match 1). Ties are broken by ``_id`` in the sort's direction; null and missing sort
    lowest. Pass a page's ``next_cursor`` back with the same where/order to get the next page.
    """

    where: Mapping[str, Any] = field(default_factory=dict)
    order: Order = Order("_id")
    limit: int = 50
    cursor: str | None = None


class Store(abc.ABC):
    """Documents by collection, conditional writes, idempotent projection updates, counters,
    an outbox."""

    async def start(self) -> None:  # pragma: no cover - adapters override when needed
        return None

    async def close(self) -> None:  # pragma: no cover
        return None

    @abc.abstractmethod
    async def get(self, collection: str, key: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    async def save(
        self,
        collection: str,
        key: str,
        doc: Mapping[str, Any],
        *,
        expected_version: int | None,
        events: Sequence[OutboxRecord] = (),
    ) -> int:
        """Write ``doc`` (replacing the stored one) and append ``events`` to the outbox, atomically.

        ``expected_version=None`` means the document must not exist yet; otherwise it must be at
        that version. Raises :class:`Conflict` when it is not, writing nothing (no outbox record
        either). Returns the new version. ``_id``/``_v`` in ``doc`` are ignored, so a document as
        returned by ``get`` can be saved back. The record of applied event ids is kept.
        """

    @abc.abstractmethod
    async def apply(
        self,
        collection: str,
        key: str,
        changes: Mapping[str, Any],
        *,
        event_id: str,
        on_create: Mapping[str, Any] | None = None,
        increments: Mapping[str, int | float] | None = None,
    ) -> bool:
        """Idempotent projection update: one conditional write that records ``event_id``.

        Sets the top-level fields in ``changes`` and adds ``increments``; creates the document
        from ``on_create`` when absent (fields named in ``changes`` or ``increments`` take
        precedence over ``on_create``, and an increment of a missing field starts from 0). A field
        may not be both set and incremented. Returns False, changing nothing, when ``event_id`` is
        among the last ``KEEP_APPLIED`` event ids applied to this document; one older than those
        applies again. ``save`` keeps the record; ``delete`` forgets it with the document.
        """

    @abc.abstractmethod
    async def find(self, collection: str, query: Query = Query()) -> Page: ...

    @abc.abstractmethod
    async def delete(self, collection: str, key: str) -> bool: ...

    @abc.abstractmethod
    async def hit(self, collection: str, key: str, *, cost: int = 1, expires_at: float) -> int:
        """Add ``cost`` to the counter ``key`` and return its new total, in one atomic write.

        Counters live apart from documents: ``get``, ``find`` and ``delete`` never see them, and a
        document with the same collection and key is left alone. A missing counter starts at 0;
        so does one whose stored ``expires_at`` (a unix time) has passed when the hit arrives.
        Each hit stores its own ``expires_at``. The store removes expired counters on its own, some
        time after they expire.
        """

    @abc.abstractmethod
    async def outbox_pending(self, limit: int = 100) -> list[OutboxRecord]:
        """Unsent outbox records, oldest first."""

    @abc.abstractmethod
    async def outbox_pending_count(self) -> int:
        """How many records wait to be published (scraped often; no record is read)."""

    @abc.abstractmethod
    async def outbox_mark_sent(self, seqs: Sequence[int]) -> None: ...

    @abc.abstractmethod
    async def outbox_park(self, seq: int, reason: str) -> None:
        """Take a pending record out of the queue and keep it, with why, among the parked ones."""

    @abc.abstractmethod
    async def outbox_parked(self, limit: int = 100) -> list[ParkedRecord]:
        """Parked records, oldest first."""

    @abc.abstractmethod
    async def outbox_parked_count(self) -> int:
        """How many records are parked (health checks ask often; no record is read)."""

    @abc.abstractmethod
    async def outbox_replay(self, seqs: Sequence[int]) -> int:
        """Put parked records back at the end of the queue (with new seqs); returns how many."""
