"""An owner's alert rules for a model, as the gateway checks them and telemetry keeps them."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, HttpUrl, model_validator

Metric = Literal["error_rate", "p95_ms", "drift_share", "accuracy"]
BELOW = {"accuracy"}  # the rules on these hold when the value falls under the threshold


class Rule(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[\w .-]+$")
    metric: Metric
    threshold: float = Field(allow_inf_nan=False)
    window_min: int = Field(10, ge=1, le=24 * 60, description="minutes of runs the rule looks at")
    min_runs: int = Field(10, ge=1, le=100_000, description="fewer runs (or labels) than this decide nothing")


class AlertRules(BaseModel):
    rules: list[Rule] = Field(default_factory=list, max_length=20)
    webhook: HttpUrl | None = Field(None, description="https URL that each firing and resolved alert is POSTed to, "
                                                      "signed with HMAC-SHA256 of the body")

    @model_validator(mode="after")
    def _names_are_distinct(self) -> "AlertRules":
        names = [rule.name for rule in self.rules]
        if len(set(names)) != len(names):
            raise ValueError("each rule needs a name of its own")
        return self
