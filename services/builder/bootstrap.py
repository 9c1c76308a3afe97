"""The builder's wiring: local environments, or Lambda images when the settings say so."""
from __future__ import annotations

from functools import partial

from prometheus_client import Histogram

from services.builder import domain, handlers
from services.builder.local_env import LocalEnvironments
from services.builder.runtimes import LambdaRuntimes, LocalRuntimes, RuntimeMaker
from services.contracts import topics
from services.kit.runtime import Service, ServiceContext
from services.kit.settings import Settings


BUILD_SECONDS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900)


class BuilderService(Service):
    def __init__(self, ctx: ServiceContext, runtimes: RuntimeMaker) -> None:
        super().__init__(ctx)
        seconds = Histogram("feather_build_duration_seconds", "Time to build a version's runtime", ["outcome"],
                            registry=ctx.metrics.registry, buckets=BUILD_SECONDS)
        self.builder = handlers.Builder(ctx, runtimes, seconds)

    def subscribe(self) -> None:
        self.ctx.bus.subscribe(topics.MODELS, partial(handlers.on_model, self.builder))

    async def start(self) -> None:
        await handlers.resume(self.builder)


def runtimes_of(settings: Settings) -> RuntimeMaker:
    if settings.runtime_backend == "lambda":
        from services.builder.lambda_image import LambdaImageBuilder
        return LambdaRuntimes(LambdaImageBuilder(
            role_arn=settings.lambda_role_arn or "", region=settings.aws_region, endpoint_url=settings.aws_endpoint,
            memory_mb=settings.lambda_memory_mb, timeout_s=settings.lambda_timeout_s,
            architecture=settings.lambda_architecture))
    envs = LocalEnvironments(settings.data_dir, timeout_s=domain.BUILD_TIMEOUT_S,
                             find_links=settings.build_find_links, max_env_mb=settings.build_max_env_mb)
    return LocalRuntimes(settings.data_dir, envs, max_members=settings.max_bundle_members,
                         max_unpacked_mb=settings.max_bundle_unpacked_mb)


def bootstrap(ctx: ServiceContext, *, runtimes: RuntimeMaker | None = None) -> BuilderService:
    return BuilderService(ctx, runtimes or runtimes_of(ctx.settings))
