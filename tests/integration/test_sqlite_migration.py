"""A data folder written before applied event ids were bounded opens with them bounded, none lost
that a redelivery could still need."""
from __future__ import annotations

import sqlite3

from services.kit.store import KEEP_APPLIED, SqliteStore


async def test_an_old_record_of_applied_events_is_kept_newest_first(tmp_path):
    path = str(tmp_path / "old.db")
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE docs(collection TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL,
            body TEXT NOT NULL, PRIMARY KEY(collection, key)) WITHOUT ROWID;
        CREATE TABLE applied(collection TEXT NOT NULL, key TEXT NOT NULL, event_id TEXT NOT NULL,
            PRIMARY KEY(collection, key, event_id)) WITHOUT ROWID;
        INSERT INTO docs VALUES ('views', 'few', 1, '{"n": 1}'), ('views', 'many', 1, '{"n": 1}');
        INSERT INTO applied VALUES ('views', 'few', 'a');
    """)
    db.executemany("INSERT INTO applied VALUES ('views', 'many', ?)", [(f"e{i:05d}",) for i in range(KEEP_APPLIED + 50)])
    db.commit()
    db.close()
    store = SqliteStore(path)
    await store.start()
    try:
        assert await store.apply("views", "few", {}, event_id="a", increments={"n": 1}) is False
        counted = sqlite3.connect(path).execute(
            "SELECT count(*) FROM applied_ids WHERE key = 'many'").fetchone()[0]
        assert counted == KEEP_APPLIED
        assert (await store.get("views", "few"))["n"] == 1
    finally:
        await store.close()
    assert sqlite3.connect(path).execute(
        "SELECT count(*) FROM sqlite_master WHERE name = 'applied'").fetchone()[0] == 0
