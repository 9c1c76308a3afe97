"""The ``store`` fixture: every contract test runs once per Store backend.

SQLite always runs. MongoDB runs against ``FEATHER_TEST_MONGO_URL`` (a replica set, since the
store uses transactions) or, without it, a throwaway container through testcontainers when that
package and a Docker engine are both there. Otherwise its tests are skipped with the reason, and
the run ends with one line saying which backends the suite covered.
"""
from __future__ import annotations

import os
import re
import socket
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from services.kit.store import MongoStore, SqliteStore, Store

MONGO_ENV = "FEATHER_TEST_MONGO_URL"
BACKENDS = ("sqlite", "mongodb")
NOT_RUN = "MongoDB contract suite not run"

_ran: Counter[str] = Counter()
_skipped: dict[str, str] = {}


def _ping(url: str) -> str | None:
    """None when a server answers at ``url``, else what went wrong."""
    from pymongo import MongoClient

    try:
        with MongoClient(url, serverSelectionTimeoutMS=3000) as client:
            client.admin.command("ping")
    except Exception as exc:  # any failure means: not reachable for this run
        return f"{type(exc).__name__}: {str(exc)[:120]}"
    return None


def _docker_engine() -> str | None:
    """None when a Docker engine answers on its socket, else why not."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return None  # a remote engine: let testcontainers find out
    path = host.removeprefix("unix://")
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(2)
            sock.connect(path)
    except OSError as exc:
        return f"no Docker engine at {path} ({exc.strerror or exc})"
    return None


def _container() -> Iterator[str]:
    """A one-member replica set in Docker (transactions need a replica set)."""
    try:
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.waiting_utils import wait_for_logs
    except ImportError:
        DockerContainer = None  # noqa: N806
    engine = _docker_engine()
    if DockerContainer is None or engine:
        why = engine or "a Docker engine may be there, but testcontainers is not installed"
        pytest.skip(f"{NOT_RUN}: no {MONGO_ENV} and {why}")
    from pymongo import MongoClient

    container = (DockerContainer("mongo:7").with_command("--replSet rs0 --bind_ip_all")
                 .with_exposed_ports(27017))
    container.start()
    try:
        wait_for_logs(container, "Waiting for connections", timeout=120)
        url = (f"mongodb://{container.get_container_host_ip()}:{container.get_exposed_port(27017)}"
               "/?directConnection=true")
        with MongoClient(url, serverSelectionTimeoutMS=30000) as client:
            members = [{"_id": 0, "host": "localhost:27017"}]
            client.admin.command("replSetInitiate", {"_id": "rs0", "members": members})
            deadline = time.monotonic() + 60
            while not client.admin.command("hello").get("isWritablePrimary"):
                if time.monotonic() > deadline:
                    raise RuntimeError("the MongoDB test container never became primary")
                time.sleep(0.2)
        yield url
    finally:
        container.stop()


@pytest.fixture(scope="session")
def mongo_url() -> Iterator[str]:
    url = os.environ.get(MONGO_ENV)
    if not url:
        yield from _container()
        return
    if problem := _ping(url):
        pytest.skip(f"{NOT_RUN}: {MONGO_ENV} is set but not reachable ({problem})")
    yield url


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        backend: Store = SqliteStore(str(tmp_path / "store.db"))
        await backend.start()
        yield backend
        await backend.close()
        return
    url = request.getfixturevalue("mongo_url")
    database = f"feather_contract_{uuid.uuid4().hex[:12]}"  # one database per test: no leftovers
    backend = MongoStore(url, database)
    await backend.start()
    try:
        yield backend
    finally:
        await backend.close()
        from pymongo import AsyncMongoClient

        async with AsyncMongoClient(url) as client:
            await client.drop_database(database)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    match = re.search(r"test_store_contract\.py::.*[\[-](sqlite|mongodb)[\]-]", report.nodeid)
    if not match:
        return
    backend = match.group(1)
    if report.when == "call":
        _ran[backend] += 1
    elif report.skipped and report.when == "setup":
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        _skipped[backend] = reason.removeprefix("Skipped: ")
    elif report.failed and report.when == "setup":
        _skipped[backend] = "its fixture failed, see the errors above"


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if not _ran and not _skipped:
        return
    ran = ", ".join(f"{b} ({_ran[b]} test{'s' * (_ran[b] != 1)})" for b in BACKENDS if _ran[b]) or "none"
    line = f"store contract suite ran on: {ran}"
    missing = [f"{b} ({_skipped.get(b, 'not selected')})" for b in BACKENDS if not _ran[b]]
    if missing:
        line += "; not on: " + "; ".join(missing)
    terminalreporter.write_line(line, yellow=bool(missing), green=not missing)
