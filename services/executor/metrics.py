"""The executor's own metrics: runs by model, version and status, their durations, and workers."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.kit.metrics import DURATIONS


class ExecutorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.runs = Counter("feather_runs", "Runs ended, by how", ["model", "version", "status"], registry=registry)
        self.run_seconds = Histogram("feather_run_duration_seconds", "From acceptance to the end of a run",
                                     ["model", "status"], registry=registry, buckets=DURATIONS)
        self.model_seconds = Histogram("feather_run_model_seconds", "Time spent in the model's code",
                                       ["model"], registry=registry, buckets=DURATIONS)
        self.workers = Gauge("feather_workers", "Warm workers, by state", ["state"], registry=registry)
        self.runs_in_flight = Gauge("feather_runs_in_flight", "Runs this executor is running or has queued",
                                    registry=registry)

    def ended(self, model: str, version: int, status: str, seconds: float, model_seconds: float) -> None:
        self.runs.labels(model, str(version), status).inc()
        self.run_seconds.labels(model, status).observe(seconds)
        if model_seconds:
            self.model_seconds.labels(model).observe(model_seconds)
