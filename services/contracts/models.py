"""What an owner may change of a model, as the gateway accepts it and the registry applies it."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ModelChanges(BaseModel):
    description: str | None = Field(None, max_length=2000)
    visibility: Literal["public", "unlisted", "private"] | None = None
    public_metrics: bool | None = Field(None, description="let anyone who may see the model read its metrics "
                                                          "(runs, errors, latency); its owner's alone otherwise")
