"""Owners' alert rules, with no I/O: what each watches, when it holds, and how a delivery is signed."""
from __future__ import annotations

import hashlib
import hmac
from typing import Any, Literal

from pydantic import BaseModel, Field, HttpUrl

Metric = Literal["error_rate", "p95_ms", "drift_share", "accuracy"]
BELOW = {"accuracy"}  # the rules on these hold when the value falls under the threshold


class Rule(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[\w .-]+$")
    metric: Metric
    threshold: float
    window_min: int = Field(10, ge=1, le=24 * 60, description="minutes of runs the rule looks at")
    min_runs: int = Field(10, ge=1, le=100_000, description="fewer runs (or labels) than this decide nothing")


class AlertRules(BaseModel):
    rules: list[Rule] = Field(default_factory=list, max_length=20)
    webhook: HttpUrl | None = Field(None, description="https URL that each firing and resolved alert is POSTed to, "
                                                      "signed with HMAC-SHA256 of the body")


def holds(rule: Rule, value: float) -> bool:
    return value < rule.threshold if rule.metric in BELOW else value > rule.threshold


def measure(rule: Rule, figures: dict[str, Any]) -> float | None:
    """The rule's value from the window's figures, or None when too little happened to judge."""
    if rule.metric == "accuracy":
        return figures["accuracy"] if figures.get("labelled", 0) >= rule.min_runs else None
    if figures.get("runs", 0) < rule.min_runs:
        return None
    value = {"error_rate": figures.get("error_rate"), "p95_ms": (figures.get("latency_ms") or {}).get("p95"),
             "drift_share": figures.get("drift_share")}[rule.metric]
    return None if value is None else float(value)


def signature(secret: str, body: bytes) -> str:
    """What the ``feather-signature`` header carries: ``sha256=<hex HMAC-SHA256 of the body>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
