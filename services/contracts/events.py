"""The event catalogue: what services say to each other on the bus.

Each event is a small pydantic model with a CloudEvents type, a schema version and a topic.
Within a version only optional fields are added; consumers ignore fields they do not know.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.contracts import topics
from services.contracts.blobs import BlobRef

TERMINAL_STATUSES = ("succeeded", "failed", "canceled", "timed_out")
RunStatus = Literal["queued", "running", "succeeded", "failed", "canceled", "timed_out"]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: ClassVar[str]
    schema_version: ClassVar[int] = 1
    topic: ClassVar[str]
    key_field: ClassVar[str]  # the field whose value is the Kafka message key
    # the services whose signature an event of this kind must carry to be handled: the kinds that
    # change what code runs or what a caller sees (empty: any service may send it)
    signed_by: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def ce_type(cls) -> str:
        return f"feather.{cls.name}.v{cls.schema_version}"

    def key(self) -> str:
        return str(getattr(self, self.key_field))


class ModelEvent(Event):
    topic: ClassVar[str] = topics.MODELS
    key_field: ClassVar[str] = "model_id"
    model_id: str  # "owner/name"


class ModelPublished(ModelEvent):
    name: ClassVar[str] = "model.published"
    signed_by: ClassVar[frozenset[str]] = frozenset({"registry"})
    owner: str
    model_name: str
    version: int
    description: str = ""
    manifest: dict[str, Any]
    bundle: BlobRef
    requirements: list[str] = Field(default_factory=list)
    python: str = "3.11"
    published_at: datetime = Field(default_factory=utcnow)


class ModelUpdated(ModelEvent):
    name: ClassVar[str] = "model.updated"
    signed_by: ClassVar[frozenset[str]] = frozenset({"registry"})
    description: str | None = None
    visibility: Literal["public", "unlisted", "private"] | None = None
    public_metrics: bool | None = None
    # {"version", "follow", "latest_at_deploy", "previous", "at"}: which version serves
    # owner/name (see contracts.models.serving_version)
    deployment: dict[str, Any] | None = None


class ModelDeleted(ModelEvent):
    name: ClassVar[str] = "model.deleted"
    signed_by: ClassVar[frozenset[str]] = frozenset({"registry"})


class BuildEvent(Event):
    topic: ClassVar[str] = topics.BUILDS
    key_field: ClassVar[str] = "model_id"
    model_id: str
    version: int
    build_id: str


class BuildStarted(BuildEvent):
    name: ClassVar[str] = "build.started"
    started_at: datetime = Field(default_factory=utcnow)


class ImageBuilt(BuildEvent):
    name: ClassVar[str] = "build.image_built"
    signed_by: ClassVar[frozenset[str]] = frozenset({"builder"})
    runtime: dict[str, Any]  # backend-specific: {"backend": "local", "python": ..., "app_dir": ...}
    log: BlobRef | None = None
    duration_ms: float = 0.0
    reused: bool = False


class BuildFailed(BuildEvent):
    name: ClassVar[str] = "build.failed"
    signed_by: ClassVar[frozenset[str]] = frozenset({"builder"})
    error: str
    log: BlobRef | None = None


class RunEvent(Event):
    topic: ClassVar[str] = topics.RUNS
    key_field: ClassVar[str] = "run_id"
    run_id: str


DEFAULT_DEADLINE_S = 300.0


def deadline_at(requested_at: datetime, deadline_s: float) -> datetime:
    """When a run's time is up: its deadline counts from when the gateway accepted it, for the
    whole run (every step of a chain, a retry after an executor restart, the wait for a worker)."""
    return requested_at + timedelta(seconds=deadline_s)


class RunRequested(RunEvent):
    name: ClassVar[str] = "run.requested"
    model_id: str
    version: int
    step: str
    inputs: dict[str, Any]
    owner: str | None = None  # who asked; None for anonymous callers
    requested_at: datetime = Field(default_factory=utcnow)
    deadline_s: float = DEFAULT_DEADLINE_S
    # a whole multi-step chain in one run: the steps in order, each with its input names,
    # and the caller's choices for the interactive inputs of later steps
    chain: list[dict[str, Any]] | None = None
    choices: dict[str, dict[str, Any]] | None = None


class RunStarted(RunEvent):
    topic: ClassVar[str] = topics.RUN_STATUS
    name: ClassVar[str] = "run.started"
    model_id: str
    version: int
    started_at: datetime = Field(default_factory=utcnow)


class RunProgress(RunEvent):
    topic: ClassVar[str] = topics.RUN_STATUS
    name: ClassVar[str] = "run.progress"
    fraction: float | None = None
    message: str = ""
    seq: int | None = None  # the run's progress and outputs so far are numbered in one sequence


class RunOutput(RunEvent):
    """A generator step's outputs so far (throttled; the run's completion holds the whole)."""
    topic: ClassVar[str] = topics.RUN_STATUS
    name: ClassVar[str] = "run.output"
    signed_by: ClassVar[frozenset[str]] = frozenset({"executor"})
    outputs: dict[str, Any]
    seq: int


class RunCompleted(RunEvent):
    topic: ClassVar[str] = topics.RUN_STATUS
    name: ClassVar[str] = "run.completed"
    # the gateway ends the runs no executor finished by their deadline (its sweeper)
    signed_by: ClassVar[frozenset[str]] = frozenset({"executor", "gateway"})
    model_id: str
    version: int
    step: str
    status: RunStatus
    outputs: dict[str, Any] | None = None
    steps: list[dict[str, Any]] | None = None  # every step's outputs, for a chain
    error: str | None = None
    traceback: str = ""
    logs: str = ""
    requested_at: datetime
    started_at: datetime | None = None
    completed_at: datetime = Field(default_factory=utcnow)
    queue_ms: float = 0.0
    predict_ms: float = 0.0


class RunCancelRequested(RunEvent):
    name: ClassVar[str] = "run.cancel_requested"


Rating = Literal["up", "down"] | int  # a thumb, or 1 to 5 stars


class FeedbackGiven(Event):
    """What one caller says of one run; a later revision of theirs replaces an earlier one.

    v2: ``rating`` may be a thumb; the run's model and version, who gave it, the right answer
    (``label``) and the revision number ride along (v1 events are upcast with none of them)."""
    name: ClassVar[str] = "feedback.given"
    schema_version: ClassVar[int] = 2
    topic: ClassVar[str] = topics.FEEDBACK
    key_field: ClassVar[str] = "run_id"
    run_id: str
    rating: Rating | None = None
    comment: str = ""
    label: Any = None
    predicted: str | None = None  # what the run's label output said, to score ``label`` against
    model_id: str | None = None
    version: int | None = None
    by: str | None = None  # "user:<name>", or "run-token" for the anonymous caller who made the run
    revision: int = 1
    given_at: datetime = Field(default_factory=utcnow)


Verdict = Literal["a", "b", "tie", "both_bad"]


class VoteCast(Event):
    """Which of two models of a task answered the same inputs better, in one caller's view."""
    name: ClassVar[str] = "arena.vote_cast"
    topic: ClassVar[str] = topics.FEEDBACK
    key_field: ClassVar[str] = "task"
    battle_id: str
    task: str
    model_a: str
    model_b: str
    winner: Verdict
    voter: str
    cast_at: datetime = Field(default_factory=utcnow)


class AlertChanged(Event):
    """An owner's alert rule started or stopped holding for their model."""
    name: ClassVar[str] = "alert.changed"
    topic: ClassVar[str] = topics.ALERTS
    key_field: ClassVar[str] = "model_id"
    model_id: str
    rule: str
    metric: str
    state: Literal["firing", "resolved"]
    value: float | None = None
    threshold: float
    at: datetime = Field(default_factory=utcnow)


class WebhookAttempted(Event):
    """One attempt to deliver one of a run's webhook events to the URL its creator gave."""
    name: ClassVar[str] = "run.webhook_attempted"
    topic: ClassVar[str] = topics.WEBHOOKS
    key_field: ClassVar[str] = "run_id"
    run_id: str
    webhook_id: str  # the message's webhook-id: the same on every attempt of one message
    event: Literal["start", "output", "logs", "completed"]
    attempt: int
    status_code: int | None = None  # None when no answer came (refused, timed out)
    error: str | None = None
    duration_ms: float
    at: datetime = Field(default_factory=utcnow)


CATALOGUE: tuple[type[Event], ...] = (
    ModelPublished, ModelUpdated, ModelDeleted,
    BuildStarted, ImageBuilt, BuildFailed,
    RunRequested, RunStarted, RunProgress, RunOutput, RunCompleted, RunCancelRequested,
    FeedbackGiven, VoteCast, AlertChanged, WebhookAttempted,
)
