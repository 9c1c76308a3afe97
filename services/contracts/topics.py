"""Topic names. Keys: model id for models and builds, run id for runs and feedback."""
from __future__ import annotations

MODELS = "feather.models"
BUILDS = "feather.builds"
RUNS = "feather.runs"
FEEDBACK = "feather.feedback"

ALL = (MODELS, BUILDS, RUNS, FEEDBACK)


def dead_letter(topic: str) -> str:
    return f"{topic}.dlq"
