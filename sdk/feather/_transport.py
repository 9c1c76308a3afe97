"""Lets the synchronous Client use an async transport such as httpx.ASGITransport(app).

Tests and in-process tools can then drive a FastAPI app without a server. The
async transport runs on one private event loop thread for the client's lifetime,
so app state bound to that loop stays valid between requests.
"""
from __future__ import annotations

import asyncio
import threading

import httpx


class SyncOverAsync(httpx.BaseTransport):
    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self._transport = transport
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever,
                                        name="feather-async-transport", daemon=True)
        self._thread.start()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()  # the sync request stream cannot be read from the loop thread

        async def call() -> tuple[int, httpx.Headers, bytes]:
            forwarded = httpx.Request(request.method, request.url,
                                      headers=request.headers, content=body)
            resp = await self._transport.handle_async_request(forwarded)
            try:
                raw = b"".join([chunk async for chunk in resp.stream])  # type: ignore[union-attr]
            finally:
                await resp.aclose()
            return resp.status_code, resp.headers, raw

        status, headers, raw = asyncio.run_coroutine_threadsafe(call(), self._loop).result()
        # Raw bytes plus the original headers: httpx applies any content-encoding itself.
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(raw))

    def close(self) -> None:
        if self._loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self._transport.aclose(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


def adapt_transport(transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None
                    ) -> httpx.BaseTransport | None:
    if transport is None or isinstance(transport, httpx.BaseTransport):
        return transport
    if isinstance(transport, httpx.AsyncBaseTransport):
        return SyncOverAsync(transport)
    raise TypeError(f"transport must be an httpx transport, got {type(transport).__name__}")
