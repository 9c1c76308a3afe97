"""OpenTelemetry traces across HTTP and the bus.

Off unless the standard variables ask for it (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_TRACES_EXPORTER=otlp|console``): then each
service exports its spans over OTLP, named by ``OTEL_SERVICE_NAME`` or ``feather-<service>``.

A request's context travels inside each event it causes: the W3C ``traceparent`` is written into
the CloudEvents headers when the event is recorded in the outbox (not when the relay sends it,
which happens in a context of its own), or when it is sent for the advisory events that skip the
outbox, and every consumer continues the trace from there. So one run is one trace: the gateway's
request, the executor's run with its queueing and steps, and telemetry's record of it.
"""
from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.trace import NoOpTracer, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

EXPORTERS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# CloudEvents' distributed tracing extension is W3C's traceparent itself, whatever propagators
# OTEL_PROPAGATORS sets for HTTP: the W3C one alone, not the global composite that would also
# look for baggage, on every event recorded and every message handled
_W3C = TraceContextTextMapPropagator()

__all__ = ["NoOpTracer", "SpanKind", "Tracer", "consumer_span", "current_traceparent", "provider_from_environment",
           "trace_id_of", "tracer_of"]


def provider_from_environment(service: str) -> trace.TracerProvider | None:
    """The tracer provider the OTEL_* variables ask for, or None: tracing is then off."""
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "")
    if exporter == "none" or not (exporter in ("otlp", "console") or any(os.environ.get(v) for v in EXPORTERS)):
        return None
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME")
                                                        or f"feather-{service}"}))
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def tracer_of(service: str, provider: trace.TracerProvider | None) -> Tracer:
    return provider.get_tracer(f"feather.{service}") if provider is not None else NoOpTracer()


def current_traceparent() -> str | None:
    """The active span's W3C traceparent, to travel with an event; None outside any trace."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get("traceparent")


def consumer_span(tracer: Tracer, topic: str, group: str, traceparent: str | None, event_type: str):
    """The span of handling one message, continuing the trace its event was recorded in
    (OpenTelemetry's messaging conventions: ``<destination> process``, kind CONSUMER)."""
    parent = _W3C.extract({"traceparent": traceparent}) if traceparent else None
    return tracer.start_as_current_span(f"{topic} process", context=parent, kind=SpanKind.CONSUMER, attributes={
        "messaging.system": "kafka", "messaging.operation.type": "process", "messaging.destination.name": topic,
        "messaging.consumer.group.name": group, "cloudevents.event_type": event_type})


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id a traceparent names (``00-<trace id>-<span id>-<flags>``)."""
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None
