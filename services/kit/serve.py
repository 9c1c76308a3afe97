"""`python -m services.<name>`: run one service under uvicorn, configured by FEATHER_* only."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator

import uvicorn
from fastapi import FastAPI

from services.kit.runtime import metrics_app
from services.kit.settings import Settings


class _Server(uvicorn.Server):
    """uvicorn's server ticking once a second instead of ten times: its tick refreshes the Date
    header (whose resolution is a second) and looks for a stop, so an idle service wakes for it
    once a second. A stop, from a signal or from ``should_exit``, still ends the wait at once."""

    _wake: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    @property
    def should_exit(self) -> bool:
        return self.__dict__.get("_should_exit", False)

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self.__dict__["_should_exit"] = value
        if value and self._wake is not None and self._loop is not None:
            # from a signal handler as well as from the loop itself
            self._loop.call_soon_threadsafe(self._wake.set)

    async def main_loop(self) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        counter = 0  # uvicorn refreshes the Date header on every tenth tick
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)


class _Quiet(_Server):
    """A server that leaves the process's signals to the main one, which stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _with_admin_port(main: uvicorn.Config, admin: uvicorn.Config) -> None:
    side = _Quiet(admin)
    side_task = asyncio.create_task(side.serve())
    try:
        await _Server(main).serve()
    finally:
        side.should_exit = True
        await side_task


def serve(create_app: Callable[[Settings], FastAPI], default_port: int, *, admin_port: bool = False) -> None:
    """``admin_port``: the app leaves /metrics off its public port; it is served on
    ``FEATHER_ADMIN_PORT`` instead (never on the public one; none when that is 0)."""
    settings = Settings()
    port = settings.port or default_port
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    app = create_app(settings)
    options = {"log_level": "warning", "access_log": False}
    main = uvicorn.Config(app, host=settings.host, port=port, timeout_graceful_shutdown=10, **options)
    if admin_port and settings.admin_port:
        asyncio.run(_with_admin_port(main, uvicorn.Config(metrics_app(app), host=settings.admin_host,
                                                          port=settings.admin_port, lifespan="off", **options)))
    else:
        _Server(main).run()
