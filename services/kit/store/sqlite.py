"""The embedded Store: one SQLite file in WAL mode.

Lookups and writes by key run on the event loop itself: each is a few microseconds of SQLite
work, while handing it to a worker thread and back costs two thread wake-ups, on the order of
100 us, and a run touches the store a dozen times. Each write is one transaction with no await
inside, so it runs to completion even when the caller is cancelled (no transaction is ever left
open). A service normally has its file to itself; should something else hold the write lock (a
backup, an operator's shell), a write waits for it without blocking the loop, retrying for up
to ``LOCK_WAIT_S``. WAL checkpoints run inside the occasional commit that triggers them.

``find`` may scan a whole collection, so it runs on a worker thread with a read-only connection
of its own: WAL lets it read committed data while writes go on, and a large scan never stalls
the loop.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import sqlite3
import time
from datetime import datetime, timezone
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from services.kit.store.port import KEEP_APPLIED, Conflict, InvalidCursor, OutboxRecord, Page, ParkedRecord, Query, Store

T = TypeVar("T")
RESERVED = frozenset({"_id", "_v", "_applied"})

SCHEMA = """
CREATE TABLE IF NOT EXISTS docs(collection TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL,
    body TEXT NOT NULL, PRIMARY KEY(collection, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS applied_ids(collection TEXT NOT NULL, key TEXT NOT NULL, event_id TEXT NOT NULL,
    UNIQUE(collection, key, event_id));
CREATE INDEX IF NOT EXISTS applied_ids_order ON applied_ids(collection, key);
CREATE TABLE IF NOT EXISTS outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,
    key TEXT NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL, sent INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox(seq) WHERE sent = 0;
CREATE TABLE IF NOT EXISTS parked(seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, key TEXT NOT NULL,
    headers TEXT NOT NULL, body BLOB NOT NULL, reason TEXT NOT NULL, parked_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS hits(collection TEXT NOT NULL, key TEXT NOT NULL, n INTEGER NOT NULL,
    expires_at REAL NOT NULL, PRIMARY KEY(collection, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS hits_expiry ON hits(expires_at);
"""
FORGET_OLDEST = """
DELETE FROM applied_ids WHERE collection = ? AND key = ? AND rowid <= (
    SELECT rowid FROM applied_ids WHERE collection = ? AND key = ? ORDER BY rowid DESC LIMIT 1 OFFSET ?)
"""
# a short busy timeout: the connection is used on the event loop, which must not stall
PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=20")
LOCK_WAIT_S = 5.0
# Every SWEEP_EVERY-th hit also deletes up to SWEEP_LIMIT expired counters, oldest first: more than
# the hits in between can have created, so expired counters cannot pile up, and no write does much.
SWEEP_EVERY, SWEEP_LIMIT = 100, 500

# The stored counter restarts from 0 when its expires_at has passed, within the same statement.
HIT = """
INSERT INTO hits VALUES (?, ?, ?, ?) ON CONFLICT(collection, key) DO UPDATE SET
    n = CASE WHEN expires_at <= ? THEN excluded.n ELSE n + excluded.n END,
    expires_at = excluded.expires_at
RETURNING n
"""
SWEEP = """
DELETE FROM hits WHERE (collection, key) IN
    (SELECT collection, key FROM hits WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)
"""


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


# Rules both adapters share (mongo.py imports them), so that both accept and refuse the
# same calls and page the same way.

def check_field(name: str) -> str:
    # Only plain top-level names: a dot would mean nesting to MongoDB but not to json_extract.
    if not name or "." in name or '"' in name or name.startswith("$"):
        raise ValueError(f"not a top-level field name: {name!r}")
    return name


def check_collection(name: str) -> str:
    # Names starting with "_" are kept for the stores' own bookkeeping (MongoDB's outbox).
    if not name or name.startswith(("_", "system.")) or "$" in name or "\0" in name:
        raise ValueError(f"invalid collection name: {name!r}")
    return name


def check_limit(limit: int) -> None:
    if limit < 1:
        raise ValueError(f"a page holds at least one document, not {limit}")


def check_apply(changes: Mapping[str, Any], increments: Mapping[str, Any]) -> None:
    """Reject updates MongoDB would refuse, so both stores accept exactly the same calls."""
    for name in (*changes, *increments):
        check_field(name)
        if name in RESERVED:
            raise ValueError(f"{name!r} is managed by the store")
    if both := changes.keys() & increments.keys():
        raise ValueError(f"fields both set and incremented: {sorted(both)}")


def initial(on_create: Mapping[str, Any] | None, changes: Mapping[str, Any],
            increments: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a new document starts from: ``changes`` and ``increments`` win over ``on_create``."""
    return {check_field(k): v for k, v in (on_create or {}).items()
            if k not in changes and k not in increments and k not in RESERVED}


def encode_cursor(value: Any, key: str) -> str:
    return base64.urlsafe_b64encode(_dumps([value, key]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[Any, str]:
    """A cursor comes back from callers: anything but what encode_cursor made is refused."""
    try:
        value, key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as exc:
        raise InvalidCursor("malformed cursor") from exc
    if not isinstance(key, str) or not (value is None or isinstance(value, (str, int, float, bool))):
        raise InvalidCursor("malformed cursor")
    return value, key


# SQLite only.

def _dumps(value: Any) -> str:
    # NaN is not JSON: SQLite's json functions would fail on it later, so refuse it now.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _body(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in RESERVED}


def _out(key: str, version: int, body: str) -> dict[str, Any]:
    return {"_id": key, **json.loads(body), "_v": version}


def _path(name: str) -> str:
    return f'$."{check_field(name)}"'


def _column(name: str) -> tuple[str, list[Any]]:
    """The SQL expression for a field, and the parameters it needs."""
    if name == "_id":
        return "key", []
    if name == "_v":
        return "version", []
    return "json_extract(body, ?)", [_path(name)]


def _equals(name: str, value: Any) -> tuple[str, list[Any]]:
    # json_extract alone would make true == 1 and '"a"' match a string: check the JSON type too.
    col, args = _column(name)
    if value is None:
        return f"{col} IS NULL", args
    if name in ("_id", "_v"):
        return f"{col} = ?", [value]
    path = _path(name)
    if isinstance(value, bool):
        return "json_type(body, ?) = ?", [path, "true" if value else "false"]
    if isinstance(value, (int, float)):
        return f"json_type(body, ?) IN ('integer', 'real') AND {col} = ?", [path, *args, value]
    if isinstance(value, str):
        return f"json_type(body, ?) = 'text' AND {col} = ?", [path, *args, value]
    raise TypeError(f"filter values must be str, int, float, bool or None, not {type(value).__name__}")


def _after(col: str, args: list[Any], value: Any, key: str, desc: bool) -> tuple[str, list[Any]]:
    """Rows strictly after (value, key) in the sort order; NULL sorts lowest, as in MongoDB."""
    op = "<" if desc else ">"
    if value is None:
        if desc:
            return f"({col} IS NULL AND key < ?)", [*args, key]
        return f"(({col} IS NULL AND key > ?) OR {col} IS NOT NULL)", [*args, key, *args]
    sql, params = f"{col} {op} ? OR ({col} = ? AND key {op} ?)", [*args, value, *args, value, key]
    if desc:  # NULLs come last when descending, and "< value" never matches them
        sql, params = f"{sql} OR {col} IS NULL", [*params, *args]
    return f"({sql})", params


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a database written by an earlier version up to this schema."""
    old = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'applied'").fetchone()
    if old:  # every applied id, kept for ever: keep each document's newest KEEP_APPLIED
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT OR IGNORE INTO applied_ids SELECT collection, key, event_id FROM applied")
        db.execute("DROP TABLE applied")
        db.execute("""DELETE FROM applied_ids WHERE rowid IN (SELECT rowid FROM (
            SELECT rowid, row_number() OVER (PARTITION BY collection, key ORDER BY rowid DESC) AS newer
            FROM applied_ids) WHERE newer > ?)""", (KEEP_APPLIED,))
        db.execute("COMMIT")


class SqliteStore(Store):
    def __init__(self, path: str) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._scans: ThreadPoolExecutor | None = None
        self._hits = 0

    async def start(self) -> None:
        if self._db is not None:
            return
        # we issue BEGIN ourselves; the scan thread only ever uses the reader
        if self.path != ":memory:":
            # the store holds password hashes, sessions and callers' inputs: owner-only from the
            # start (SQLite gives its -wal and -shm files the database file's mode)
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
            os.chmod(self.path, 0o600)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        for pragma in PRAGMAS:
            db.execute(pragma)
        db.executescript(SCHEMA)
        _migrate(db)
        reader = db
        if self.path != ":memory:":  # a second connection to :memory: would be another database
            reader = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            reader.execute("PRAGMA busy_timeout=5000")
            reader.execute("PRAGMA query_only=1")
            self._scans = ThreadPoolExecutor(1, thread_name_prefix="sqlite-scan")
        self._db, self._reader = db, reader

    async def close(self) -> None:
        db, reader, scans = self._db, self._reader, self._scans
        self._db = self._reader = self._scans = None
        if scans is not None:
            await asyncio.to_thread(scans.shutdown, wait=True)
        if reader is not None and reader is not db:
            reader.close()
        if db is not None:
            db.close()

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("SqliteStore used before start()")
        return self._db

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        deadline: float | None = None
        while True:
            try:
                return self._transaction(fn)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                now = asyncio.get_running_loop().time()
                deadline = deadline or now + LOCK_WAIT_S
                if now > deadline:
                    raise
            await asyncio.sleep(0.01)  # someone else holds the write lock

    def _transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            result = fn(db)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return result

    async def _scan(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        self._conn()
        reader, scans = self._reader, self._scans
        assert reader is not None
        if scans is None:  # in memory: there is only the one connection
            return fn(reader)
        return await asyncio.get_running_loop().run_in_executor(scans, fn, reader)

    async def get(self, collection: str, key: str) -> dict[str, Any] | None:
        check_collection(collection)

        def read(db: sqlite3.Connection) -> dict[str, Any] | None:
            row = db.execute("SELECT version, body FROM docs WHERE collection = ? AND key = ?",
                             (collection, key)).fetchone()
            return None if row is None else _out(key, *row)

        return read(self._conn())

    async def save(self, collection: str, key: str, doc: Mapping[str, Any], *,
                   expected_version: int | None, events: Sequence[OutboxRecord] = ()) -> int:
        check_collection(collection)
        body = _dumps(_body(doc))
        outbox = [(e.topic, e.key, _dumps(dict(e.headers)), bytes(e.body)) for e in events]

        def write(db: sqlite3.Connection) -> int:
            if expected_version is None:
                try:
                    db.execute("INSERT INTO docs VALUES (?, ?, 1, ?)", (collection, key, body))
                except sqlite3.IntegrityError:
                    raise Conflict(f"{collection}/{key} already exists") from None
                version = 1
            else:
                version = expected_version + 1
                cur = db.execute("UPDATE docs SET version = ?, body = ? "
                                 "WHERE collection = ? AND key = ? AND version = ?",
                                 (version, body, collection, key, expected_version))
                if cur.rowcount != 1:
                    raise Conflict(f"{collection}/{key} is not at version {expected_version}")
            db.executemany("INSERT INTO outbox(topic, key, headers, body) VALUES (?, ?, ?, ?)", outbox)
            return version

        return await self._write(write)

    async def apply(self, collection: str, key: str, changes: Mapping[str, Any], *, event_id: str,
                    on_create: Mapping[str, Any] | None = None,
                    increments: Mapping[str, int | float] | None = None) -> bool:
        changes, increments = dict(changes), dict(increments or {})
        check_collection(collection)
        check_apply(changes, increments)
        fresh = initial(on_create, changes, increments)

        def write(db: sqlite3.Connection) -> bool:
            if db.execute("INSERT OR IGNORE INTO applied_ids VALUES (?, ?, ?)",
                          (collection, key, event_id)).rowcount == 0:
                return False
            # rowids only grow, so the oldest ids of a document are its lowest rowids
            db.execute(FORGET_OLDEST, (collection, key, collection, key, KEEP_APPLIED))
            row = db.execute("SELECT version, body FROM docs WHERE collection = ? AND key = ?",
                             (collection, key)).fetchone()
            version, body = (row[0], json.loads(row[1])) if row else (0, fresh)
            body.update(changes)
            for name, amount in increments.items():
                body[name] = body.get(name, 0) + amount
            db.execute("INSERT INTO docs VALUES (?, ?, ?, ?) ON CONFLICT(collection, key) "
                       "DO UPDATE SET version = excluded.version, body = excluded.body",
                       (collection, key, version + 1, _dumps(body)))
            return True

        return await self._write(write)

    async def find(self, collection: str, query: Query = Query()) -> Page:
        check_limit(query.limit)
        where, params = ["collection = ?"], [check_collection(collection)]
        for name, value in query.where.items():
            sql, args = _equals(name, value)
            where.append(sql)
            params += args
        field, desc = query.order.field, query.order.descending
        col, col_args = _column(field)
        if query.cursor is not None:
            sql, args = _after(col, col_args, *decode_cursor(query.cursor), desc)
            where.append(sql)
            params += args
        direction = "DESC" if desc else "ASC"
        sql = (f"SELECT key, version, body FROM docs WHERE {' AND '.join(where)} "
               f"ORDER BY {col} {direction}, key {direction} LIMIT ?")
        # One row more than asked tells whether there is a next page.
        params += [*col_args, query.limit + 1]
        rows = await self._scan(lambda db: db.execute(sql, params).fetchall())
        items = [_out(*row) for row in rows[: query.limit]]
        cursor = None
        if len(rows) > query.limit and items:
            cursor = encode_cursor(items[-1].get(field), items[-1]["_id"])
        return Page(items, cursor)

    async def delete(self, collection: str, key: str) -> bool:
        check_collection(collection)
        def write(db: sqlite3.Connection) -> bool:
            cur = db.execute("DELETE FROM docs WHERE collection = ? AND key = ?", (collection, key))
            db.execute("DELETE FROM applied_ids WHERE collection = ? AND key = ?", (collection, key))
            return cur.rowcount == 1

        return await self._write(write)

    async def hit(self, collection: str, key: str, *, cost: int = 1, expires_at: float) -> int:
        check_collection(collection)
        self._hits += 1
        sweep = self._hits % SWEEP_EVERY == 0

        def write(db: sqlite3.Connection) -> int:
            now = time.time()
            (total,) = db.execute(HIT, (collection, key, cost, expires_at, now)).fetchone()
            if sweep:
                db.execute(SWEEP, (now, SWEEP_LIMIT))
            return total

        return await self._write(write)

    async def outbox_pending(self, limit: int = 100) -> list[OutboxRecord]:
        rows = self._conn().execute(
            "SELECT seq, topic, key, headers, body FROM outbox WHERE sent = 0 ORDER BY seq LIMIT ?",
            (limit,)).fetchall()
        return [OutboxRecord(topic, key, json.loads(headers), bytes(body), seq)
                for seq, topic, key, headers, body in rows]

    async def outbox_park(self, seq: int, reason: str) -> None:
        def write(db: sqlite3.Connection) -> None:
            db.execute("INSERT OR IGNORE INTO parked SELECT seq, topic, key, headers, body, ?, ? FROM outbox "
                       "WHERE seq = ? AND sent = 0", (reason[:2000], _now_iso(), int(seq)))
            db.execute("DELETE FROM outbox WHERE seq = ? AND sent = 0", (int(seq),))
        await self._write(write)

    async def outbox_parked(self, limit: int = 100) -> list[ParkedRecord]:
        rows = self._conn().execute(
            "SELECT seq, topic, key, headers, body, reason, parked_at FROM parked ORDER BY seq LIMIT ?",
            (limit,)).fetchall()
        return [ParkedRecord(OutboxRecord(topic, key, json.loads(headers), bytes(body), seq), reason, parked_at)
                for seq, topic, key, headers, body, reason, parked_at in rows]

    async def outbox_pending_count(self) -> int:
        (count,) = self._conn().execute("SELECT COUNT(*) FROM outbox WHERE sent = 0").fetchone()
        return int(count)

    async def outbox_parked_count(self) -> int:
        (count,) = self._conn().execute("SELECT COUNT(*) FROM parked").fetchone()
        return int(count)

    async def outbox_replay(self, seqs: Sequence[int]) -> int:
        wanted = [(int(s),) for s in seqs]

        def write(db: sqlite3.Connection) -> int:
            moved = 0
            for (seq,) in wanted:
                cur = db.execute("INSERT INTO outbox(topic, key, headers, body) "
                                 "SELECT topic, key, headers, body FROM parked WHERE seq = ?", (seq,))
                moved += cur.rowcount
                db.execute("DELETE FROM parked WHERE seq = ?", (seq,))
            return moved
        return await self._write(write)

    async def outbox_mark_sent(self, seqs: Sequence[int]) -> None:
        marks = [(int(seq),) for seq in seqs]
        if marks:
            await self._write(lambda db: db.executemany("UPDATE outbox SET sent = 1 WHERE seq = ?", marks).close())
