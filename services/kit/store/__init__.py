"""The document store: the port, its two adapters, and ``open_store`` to pick one by URL."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from services.kit.store.port import (CONFLICT_TRIES, KEEP_APPLIED, Conflict, InvalidCursor, Order, OutboxRecord, Page, ParkedRecord,
                                     Query, Store, retry_on_conflict)

if TYPE_CHECKING:
    from services.kit.store.mongo import MongoStore
    from services.kit.store.sqlite import SqliteStore

__all__ = ["CONFLICT_TRIES", "KEEP_APPLIED", "Conflict", "InvalidCursor", "MongoStore", "Order", "OutboxRecord", "Page", "ParkedRecord", "Query",
           "SqliteStore", "Store", "open_store", "retry_on_conflict"]


def __getattr__(name: str) -> Any:
    # The adapters load on first use: importing pymongo alone takes ~0.3 s, and the embedded
    # platform never needs it.
    if name == "SqliteStore":
        from services.kit.store.sqlite import SqliteStore
        return SqliteStore
    if name == "MongoStore":
        from services.kit.store.mongo import MongoStore
        return MongoStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_store(url: str) -> Store:
    """A store for ``sqlite:///abs/path.db`` or ``mongodb://…`` / ``mongodb+srv://…``.

    For MongoDB the database is the URL's path (``mongodb://host/feather_registry``), else
    ``feather``. The store still needs ``await store.start()``.
    """
    if url.startswith("sqlite://"):
        from services.kit.store.sqlite import SqliteStore

        path = url.removeprefix("sqlite://")
        if not path:
            raise ValueError(f"no database path in {url!r}")
        return SqliteStore(unquote(path))
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from services.kit.store.mongo import MongoStore

        database = unquote(urlsplit(url).path.lstrip("/")) or "feather"
        return MongoStore(url, database)
    raise ValueError(f"unsupported store URL {url!r}: expected sqlite:///… or mongodb://…")
