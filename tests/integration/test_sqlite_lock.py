"""The embedded store runs on the event loop, so waiting for a lock someone else holds must not
stall the loop, and the write must go through once the lock is released."""
from __future__ import annotations

import asyncio
import sqlite3

from services.kit.store.sqlite import SqliteStore


async def test_a_write_waits_for_a_foreign_lock_without_stalling_the_loop(tmp_path):
    path = str(tmp_path / "store.db")
    store = SqliteStore(path)
    await store.start()
    try:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # e.g. a backup or an operator's shell
        save = asyncio.create_task(store.save("runs", "r1", {"status": "queued"}, expected_version=None))
        ticks = 0
        for _ in range(20):  # the loop keeps running other work meanwhile
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 20 and not save.done()
        other.execute("COMMIT")
        other.close()
        assert await asyncio.wait_for(save, 5) == 1
        assert (await store.get("runs", "r1"))["status"] == "queued"
    finally:
        await store.close()
