"""The registry's wiring."""
from __future__ import annotations

from functools import partial

from services.contracts import topics
from services.kit.runtime import Service, ServiceContext
from services.registry import handlers


class RegistryService(Service):
    def subscribe(self) -> None:
        self.ctx.bus.subscribe(topics.BUILDS, partial(handlers.on_build, self.ctx.store))


def bootstrap(ctx: ServiceContext) -> RegistryService:
    return RegistryService(ctx)
