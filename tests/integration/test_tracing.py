"""One run is one trace: the gateway's request, the executor's run (queueing, each step) and
telemetry's record of it, parented through the traceparent the events carry. The real gateway,
executor and telemetry run in-process on the embedded broker, spans kept by the SDK's in-memory
exporter; the model runs in warm workers (sandbox off: the sandbox is not what this is about)."""
from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import feather.runtime
import httpx
from feather._bundle import pack
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.builder.local_env import unpack_code
from services.contracts.blobs import BlobRef
from services.contracts.events import ImageBuilt, ModelPublished
from services.contracts.steps import declared_outputs
from services.kit.bus import Bus
from services.kit.settings import Settings
from senders import host_interpreter_in, send_as_producer

APP = Path(__file__).resolve().parents[1] / "api" / "spell" / "app.py"


async def test_one_run_is_one_trace_across_gateway_executor_and_telemetry(tansu, tmp_path):
    from services.executor.app import create_app as executor_app
    from services.gateway.app import create_app as gateway_app
    from services.telemetry.app import create_app as telemetry_app

    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    settings = Settings(data_dir=tmp_path / "data", kafka_bootstrap=tansu.bootstrap, kafka_idempotence=False,
                        kafka_session_timeout_ms=3000, sandbox="off", instance_id=uuid.uuid4().hex[:8])
    apps = [make(settings, tracer_provider=provider) for make in (gateway_app, executor_app, telemetry_app)]
    gateway = apps[0]
    code = tmp_path / "data" / "code" / "spell"
    unpack_code(pack(APP), code)
    manifest = feather.runtime.load(APP).model.manifest()
    model_id = f"trace-{uuid.uuid4().hex[:6]}/spell"
    async with apps[0].router.lifespan_context(apps[0]), apps[1].router.lifespan_context(apps[1]), \
            apps[2].router.lifespan_context(apps[2]):
        for app in apps:
            await asyncio.wait_for(app.state.service.ctx.bus_ready.wait(), 60)
        bus = Bus(settings, "test-registry")
        await bus.start()
        try:
            await send_as_producer(bus, ModelPublished(model_id=model_id, owner=model_id.split("/")[0], model_name="spell",
                                             version=1, manifest=manifest, bundle=BlobRef(key="b", size=1, sha256="0" * 64)))
            await send_as_producer(bus, ImageBuilt(model_id=model_id, version=1, build_id=f"{model_id}@1", runtime={
                "backend": "local", "python": host_interpreter_in(settings.data_dir), "app_dir": str(code), "outputs": declared_outputs(manifest)}))
        finally:
            await bus.stop()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://gw") as http:
            for _ in range(400):
                if (await http.get(f"/v1/models/{model_id}")).json().get("status") == "ready":
                    break
                await asyncio.sleep(0.05)
            spans.clear()
            answer = await http.post(f"/v1/models/{model_id}/runs", json={"inputs": {"word": "ab"}},
                                     headers={"Prefer": "wait=30"})
            run = answer.json()
            assert answer.status_code == 201 and run["status"] == "succeeded", answer.text
            telemetry_store = apps[2].state.service.ctx.store
            for _ in range(200):  # telemetry records this run's completion a moment later
                if any(s.name == "feather.run-status process" and s.instrumentation_scope.name == "feather.telemetry"
                       and f"{s.context.trace_id:032x}" == run["trace_id"] for s in spans.get_finished_spans()):
                    break
                await asyncio.sleep(0.05)
            recorded = await telemetry_store.get("runs", run["id"])

    finished = spans.get_finished_spans()
    by_id = {s.context.span_id: s for s in finished}

    request = next(s for s in finished if s.kind == SpanKind.SERVER and s.name.startswith("POST /v1/models"))

    def one(name: str, scope: str):
        # the broker is shared with other tests: their events make spans of other traces here
        found = [s for s in finished if s.name == name and s.instrumentation_scope.name == scope
                 and s.context.trace_id == request.context.trace_id]
        assert found, f"no span {name!r} from {scope}: {sorted((s.instrumentation_scope.name, s.name) for s in finished)}"
        return found[0]

    def ancestors(span) -> list:
        chain = []
        while span.parent is not None and span.parent.span_id in by_id:
            span = by_id[span.parent.span_id]
            chain.append(span)
        return chain

    picked_up = one("feather.runs process", "feather.executor")
    whole = one(f"run {model_id}", "feather.executor")
    queued, step = one("queue", "feather.executor"), one("step split", "feather.executor")
    recorded_span = one("feather.run-status process", "feather.telemetry")
    trace_id = request.context.trace_id
    assert {s.context.trace_id for s in (picked_up, whole, queued, step, recorded_span)} == {trace_id}
    assert request in ancestors(picked_up)  # the executor continues the gateway's request
    assert whole in ancestors(queued) and whole in ancestors(step)
    assert whole in ancestors(recorded_span)  # telemetry continues the executor's run
    assert picked_up.kind == SpanKind.CONSUMER and picked_up.attributes["messaging.system"] == "kafka"
    assert run["trace_id"] == f"{trace_id:032x}" and recorded["trace_id"] == run["trace_id"]
    print(f"\ntrace {trace_id:032x}: {len([s for s in finished if s.context.trace_id == trace_id])} spans "
          "from gateway, executor and telemetry (in-memory exporter)")
