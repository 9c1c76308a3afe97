"""Helpers tests share: content streamed without being held, and the event loop's longest stall."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class Zeros:
    """A tar member's content, streamed into the archive and never held in memory, so a bundle
    bigger inside than outside (64 MiB compresses to about 65 KB) costs the test nothing."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return bytes(n)


async def longest_stall(work: Awaitable[T], every_s: float = 0.01) -> tuple[T, float, float]:
    """What ``work`` returned, the longest the event loop went without running a ticker
    meanwhile, and the shortest tick (the peer to compare with)."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(every_s)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)  # the ticker is running before the work starts
    try:
        result = await work
    finally:
        done.set()
        await ticker
    return result, max(gaps), min(gaps)
