"""The gateway's use cases for runs: prepare a run request, hold the caller's slot, read and cancel.

Plain functions of the running ``GatewayService``; ``routes/runs.py`` speaks HTTP around them.
"""
from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import HTTPException
from feather.rules import fill_inputs, newest_ready, next_step
from pydantic import BaseModel, Field

from services.contracts.envelope import stable_id
from services.contracts.events import (DEFAULT_DEADLINE_S, TERMINAL_STATUSES, FeedbackGiven, RunCancelRequested,
                                       RunRequested)
from services.contracts.models import serving_version
from services.contracts.steps import chain_link
from services.contracts.versions import version_key
from services.gateway import domain
from services.gateway.access import may_read_run, run_file_ids
from services.gateway.bootstrap import GatewayService
from services.gateway.inputs import resolve_files
from services.gateway.views import model_or_404, versions_of
from services.gateway.webhooks import WebhookRequest
from services.kit.runtime import ServiceContext
from services.kit.tracing import current_traceparent, trace_id_of
from services.kit.store import Conflict, Query, retry_on_conflict


class RunBody(WebhookRequest):
    inputs: dict[str, Any] = Field(default_factory=dict)
    version: int | None = Field(None, ge=1)
    step: str | None = None
    previous_run: str | None = None
    previous_run_token: str | None = Field(None, max_length=100,
                                           description="the previous run's read token, for a run made without an account")
    chain: bool = False
    choices: dict[str, dict[str, Any]] = Field(default_factory=dict)
    deadline_s: float = Field(DEFAULT_DEADLINE_S, gt=0, description="seconds the whole run may take, counted "
                              "from now; at most the platform's max_deadline_s (900 by default)")


async def pick_version(ctx: ServiceContext, model: dict[str, Any], wanted: int | None) -> dict[str, Any]:
    """The version a run uses: ``wanted``, else the deployed one (see
    ``contracts.models.serving_version``), else the newest ready one.

    Usually one lookup: when the latest published version is ready it is the newest ready one.
    """
    deployment = model.get("deployment") or {}
    if wanted is None and deployment.get("version") is not None:
        later = deployment.get("follow") == "latest" and \
            (model.get("latest_version") or 0) > deployment.get("latest_at_deploy", 0)
        # without a later version, the deployed one is all there is to read
        versions = await versions_of(ctx, model["_id"]) if later else \
            [await ctx.store.get("versions", version_key(model["_id"], deployment["version"]))]
        versions = [v for v in versions if v is not None]
        newest = newest_ready(versions)
        return domain.pick_version(model, versions, serving_version(model, newest["version"] if newest else None))
    number = wanted if wanted is not None else model.get("latest_version")
    if number is not None:
        doc = await ctx.store.get("versions", version_key(model["_id"], number))
        if doc is not None and (wanted is not None or doc.get("status") == "ready"):
            return domain.pick_version(model, [doc], wanted)
    return domain.pick_version(model, await versions_of(ctx, model["_id"]), wanted)


async def prepare_run(gw: GatewayService, model: dict[str, Any], body: RunBody, user: str | None) -> RunRequested:
    """The RunRequested ``body`` asks for, checked in full: the version and step, the inputs
    (carried from ``previous_run`` where given), the chain's choices, and every file."""
    ctx = gw.ctx
    if body.deadline_s > ctx.settings.max_deadline_s:
        raise domain.RequestError(422, [{"loc": ["body", "deadline_s"], "type": "less_than_equal",
                                         "msg": f"at most {ctx.settings.max_deadline_s:g} seconds"}])
    version = await pick_version(ctx, model, body.version)
    manifest = version["manifest"]
    given = body.inputs
    carried_files: set[str] = set()  # files of the previous run, which the caller may read
    if body.previous_run:
        previous = await ctx.store.get("runs", body.previous_run)
        if previous is None or previous["model_id"] != model["_id"] or \
                not may_read_run(previous, user, body.previous_run_token, gw.secret):
            raise domain.RequestError(422, [{"loc": ["body", "previous_run"], "msg": "no such run of this model",
                                             "type": "value_error"}])
        if previous["status"] != "succeeded":
            raise domain.RequestError(409, f"run {body.previous_run} did not succeed")
        version = await pick_version(ctx, model, previous["version"])
        manifest = version["manifest"]
        step = domain.pick_step(manifest, body.step or next_step(manifest, previous["step"]))
        given = fill_inputs(step, {**(previous.get("inputs") or {}), **(previous.get("outputs") or {})},
                            body.inputs)
        carried_files = run_file_ids(previous)
    else:
        step = domain.pick_step(manifest, body.step)
    given = domain.as_file_values(copy.deepcopy(given), step["input_schema"])  # before any file is looked at
    domain.check_size("inputs", {"inputs": given, "choices": body.choices}, ctx.settings.max_inputs_kb * 1024)
    inputs = domain.check_inputs(step, given)
    chain = None
    if body.choices and not body.chain:
        raise domain.RequestError(422, [{"loc": ["body", "choices"], "msg": "choices are for chain runs "
                                         "(\"chain\": true)", "type": "value_error"}])
    if body.chain:
        steps = manifest["steps"]
        start = [s["name"] for s in steps].index(step["name"])
        chain = [chain_link(s) for s in steps[start:]]
        unknown = set(body.choices) - {c["step"] for c in chain}
        if unknown:
            raise domain.RequestError(422, [{"loc": ["body", "choices", sorted(unknown)[0]],
                                             "msg": "not a later step of this model", "type": "value_error"}])
        carried: set[str] = set()  # what the steps before each one give it
        for later in steps[start:]:
            if later["name"] in body.choices:
                domain.check_choices(later, body.choices[later["name"]], carried)
            carried |= {i["name"] for i in later.get("inputs", [])} | {o["name"] for o in later.get("outputs", [])}
    # links are fetched only once everything else about the request is known to be right
    await resolve_files(gw, inputs, body.choices, user=user, readable=carried_files)
    return RunRequested(run_id=domain.new_run_id(), model_id=model["_id"], version=version["version"],
                        step=step["name"], inputs=inputs, owner=user, deadline_s=body.deadline_s,
                        chain=chain, choices=body.choices or None)


async def hold_a_slot(ctx: ServiceContext, run_id: str, holder: str) -> None:
    """Count the run among its caller's unfinished ones, refusing one past the quota. The
    projection lets go of it when the run ends (Projections.record_completion)."""
    quota = ctx.settings.quota_active_runs
    page = await ctx.store.find("active_runs", Query(where={"holder": holder}, limit=quota + 1))
    if len(page.items) >= quota:
        raise HTTPException(429, detail=f"quota: at most {quota} unfinished runs at once; wait for one to end",
                            headers={"Retry-After": "1"})
    await ctx.store.save("active_runs", run_id, {"holder": holder, "taken_at": datetime.now(timezone.utc).isoformat()},
                         expected_version=None)


async def accept_run(ctx: ServiceContext, event: RunRequested, user: str | None, holder: str) -> dict[str, Any]:
    """Record the run and its RunRequested in one write, counted against ``holder``'s quota; the
    run as stored."""
    run_id = event.run_id
    doc = {"model_id": event.model_id, "version": event.version, "step": event.step, "inputs": event.inputs,
           "status": "queued", "created_by": user, "created_at": event.requested_at.isoformat(),
           "deadline_s": event.deadline_s, "trace_id": trace_id_of(current_traceparent()),
           "outputs": None, "error": None, "metrics": None, "completed_at": None}
    await hold_a_slot(ctx, run_id, holder)
    try:
        await ctx.save("runs", run_id, doc, expected_version=None,
                       events=[ctx.outbox(event, event_id=stable_id(run_id, "requested"))])
    except BaseException:
        await ctx.store.delete("active_runs", run_id)
        raise
    return {"_id": run_id, **doc}


async def readable_run(gw: GatewayService, run_id: str, user: str | None, token: str | None) -> dict[str, Any]:
    """The run, if the caller may read it; otherwise 404, as if it did not exist."""
    ctx = gw.ctx
    doc = await ctx.store.get("runs", run_id)
    if doc is None or not may_read_run(doc, user, token, gw.secret):
        raise HTTPException(404, detail=f"no run {run_id}")
    owner, name = doc["model_id"].split("/", 1)
    await model_or_404(ctx, owner, name, user)  # a private model's runs are private too
    return doc




async def cancel(gw: GatewayService, run_id: str, user: str | None, token: str | None) -> dict[str, Any]:
    """Ask the executor to stop the run; whoever may read a run may cancel it."""
    ctx = gw.ctx
    doc = await readable_run(gw, run_id, user, token)
    event = RunCancelRequested(run_id=run_id)
    first = [doc]

    async def attempt() -> None:  # the run's own completion may be written meanwhile
        current = first.pop() if first else await ctx.store.get("runs", run_id) or doc
        if current["status"] in TERMINAL_STATUSES:
            raise HTTPException(409, detail=f"run {run_id} already ended: {current['status']}")
        await ctx.save("runs", run_id, {**current, "cancel_requested": True}, expected_version=current["_v"],
                       events=[ctx.outbox(event, event_id=stable_id(run_id, "cancel"))])
    try:
        await retry_on_conflict(attempt)
    except Conflict:
        raise HTTPException(409, detail=f"run {run_id} is changing concurrently; try again") from None
    return doc


class FeedbackBody(BaseModel):
    rating: Literal["up", "down"] | Annotated[int, Field(ge=1, le=5)] | None = Field(
        None, description="a thumb (up or down), or 1 to 5 stars")
    label: str | None = Field(None, max_length=500, description="the right answer, to score the model's label output")
    comment: str = Field("", max_length=2000)


def predicted_label(manifest: dict[str, Any], step: str, outputs: dict[str, Any] | None) -> str | None:
    """What the run's first label output (a Label component) says, if the step has one."""
    spec = next((s for s in manifest.get("steps", []) if s.get("name") == step), None)
    for output in (spec or {}).get("outputs", []):
        value = (outputs or {}).get(output["name"])
        if output.get("kind") == "label" and isinstance(value, dict) and isinstance(value.get("label"), str):
            return value["label"]
    return None


async def give_feedback(gw: GatewayService, run_id: str, user: str | None, token: str | None,
                        body: FeedbackBody) -> dict[str, Any]:
    """Record (or revise) what the caller says of a run they may read: one feedback per caller
    per run, sent on as FeedbackGiven in the same write."""
    ctx = gw.ctx
    run = await readable_run(gw, run_id, user, token)
    if run["status"] not in TERMINAL_STATUSES:
        raise HTTPException(409, detail=f"run {run_id} has not ended yet: feedback is for what it answered")
    if body.rating is None and body.label is None and not body.comment:
        raise domain.RequestError(422, [{"loc": ["body"], "msg": "give a rating, a label or a comment",
                                         "type": "value_error"}])
    by = f"user:{user}" if user else "run-token"  # anonymous: whoever holds the run's token made it
    key = f"{run_id}|{by}"
    version = await ctx.store.get("versions", version_key(run["model_id"], run["version"])) or {}
    predicted = predicted_label(version.get("manifest") or {}, run["step"], run.get("outputs"))

    async def attempt() -> dict[str, Any]:
        current = await ctx.store.get("feedback", key)
        revision = (current or {}).get("revision", 0) + 1
        event = FeedbackGiven(run_id=run_id, model_id=run["model_id"], version=run["version"], by=by,
                              rating=body.rating, label=body.label, comment=body.comment, predicted=predicted,
                              revision=revision)
        doc = {"run_id": run_id, "model_id": run["model_id"], "by": by, **body.model_dump(),
               "predicted": predicted, "revision": revision, "given_at": event.given_at.isoformat()}
        await ctx.save("feedback", key, doc, expected_version=current["_v"] if current else None,
                       events=[ctx.outbox(event, event_id=stable_id(key, str(revision)))])
        return doc
    try:
        doc = await retry_on_conflict(attempt)
    except Conflict:
        raise HTTPException(409, detail=f"feedback on run {run_id} is changing concurrently; try again") from None
    return feedback_view(doc)


def feedback_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: doc.get(k) for k in ("run_id", "rating", "label", "comment", "predicted", "revision", "given_at")}
