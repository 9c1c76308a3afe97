"""What an owner may change of a model, as the gateway accepts it and the registry applies it."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ModelChanges(BaseModel):
    description: str | None = Field(None, max_length=2000)
    visibility: Literal["public", "unlisted", "private"] | None = None
    public_metrics: bool | None = Field(None, description="let anyone who may see the model read its metrics "
                                                          "(runs, errors, latency); its owner's alone otherwise")


class DeploymentChange(BaseModel):
    """Which version serves ``owner/name`` when a caller names none."""
    version: int | None = Field(None, ge=1, le=2**31 - 1, description="the version to serve; it must be ready")
    follow: Literal["latest", "pinned"] | None = Field(
        None, description="latest: a version published later serves once it is ready; pinned: this "
                          "version serves until the owner deploys another")


def serving_version(model: dict, newest_ready: int | None) -> int | None:
    """The version that serves ``model`` when a run names none, given the number of its newest
    ready version: the deployed one, unless the model follows its latest and a version
    published after the deployment is ready. None when nothing is ready."""
    deployment = model.get("deployment") or {}
    pinned = deployment.get("version")
    if pinned is None:
        return newest_ready
    if deployment.get("follow", "latest") == "latest" and newest_ready is not None \
            and newest_ready > deployment.get("latest_at_deploy", pinned):
        return newest_ready
    return pinned
