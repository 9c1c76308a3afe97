"""The port the builder builds with: a published version's bundle in, the runtime it runs on out.

``LocalRuntimes`` makes a shared uv environment and unpacks the code under the data folder;
``LambdaRuntimes`` makes a container image for AWS Lambda. Either raises with the reason when a
version cannot be built.
"""
from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.builder import domain
from services.builder.local_env import LocalEnvironments, unpack_code
from services.contracts.events import ModelPublished

Log = Callable[[str], None]


class RuntimeMaker(abc.ABC):
    @abc.abstractmethod
    async def make(self, request: ModelPublished, bundle: bytes, log: Log) -> dict[str, Any]:
        """The runtime ``request``'s version runs on (``{"backend": ..., ...}``)."""


class LocalRuntimes(RuntimeMaker):
    def __init__(self, data_dir: Path, envs: LocalEnvironments, *, max_members: int, max_unpacked_mb: int) -> None:
        self.data_dir = data_dir
        self.envs = envs
        self.max_members = max_members
        self.max_unpacked_mb = max_unpacked_mb

    async def make(self, request: ModelPublished, bundle: bytes, log: Log) -> dict[str, Any]:
        code_dir = self.data_dir / "code" / request.owner / request.model_name / str(request.version)
        code_dir.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(unpack_code, bundle, code_dir, max_members=self.max_members,
                                max_unpacked_mb=self.max_unpacked_mb)
        log("code unpacked")
        locked = await self.envs.lock(request.requirements, request.python, log)
        key = domain.env_key(locked.splitlines(), request.python)
        env = await self.envs.ensure(key, locked, request.python, log)
        return {"backend": "local", "python": str(env.python), "env_dir": str(env.path), "app_dir": str(code_dir),
                "interpreter": env.interpreter, "env_key": key, "reused": env.reused}


class LambdaRuntimes(RuntimeMaker):
    def __init__(self, images: Any) -> None:  # a LambdaImageBuilder; imported only when Lambda is used
        self.images = images

    async def make(self, request: ModelPublished, bundle: bytes, log: Log) -> dict[str, Any]:
        return await self.images.build(request.model_id, request.version, bundle, request.requirements,
                                       request.python, log)
