"""`python -m services.<name>`: run one service under uvicorn, configured by FEATHER_* only."""
from __future__ import annotations

import logging
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from services.kit.settings import Settings


def serve(create_app: Callable[[Settings], FastAPI], default_port: int) -> None:
    settings = Settings()
    port = settings.port or default_port
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    uvicorn.run(create_app(settings), host=settings.host, port=port, log_level="warning",
                access_log=False, timeout_graceful_shutdown=10)
