"""Topic names. Keys: model id for models and builds, run id for runs and feedback.

Runs use two topics: ``RUNS`` carries what is asked of the executor (RunRequested,
RunCancelRequested) and ``RUN_STATUS`` what it reports back (RunStarted, RunProgress,
RunCompleted). The executor then reads only its work and a waiting gateway only the answers,
so neither spends time on the other's messages while a request waits.
"""
from __future__ import annotations

MODELS = "feather.models"
BUILDS = "feather.builds"
RUNS = "feather.runs"
RUN_STATUS = "feather.run-status"
FEEDBACK = "feather.feedback"
ALERTS = "feather.alerts"  # telemetry's alerts firing and resolving, keyed by model id
WEBHOOKS = "feather.webhooks"  # each attempt to deliver a run's webhook, keyed by run id

ALL = (MODELS, BUILDS, RUNS, RUN_STATUS, FEEDBACK, ALERTS, WEBHOOKS)


def dead_letter(topic: str) -> str:
    return f"{topic}.dlq"
