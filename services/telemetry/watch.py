"""Evaluates owners' alert rules every little while: a rule that starts or stops holding is an
AlertChanged event, kept with the rule's state in one write, and POSTed to the owner's webhook,
signed (``feather-signature: sha256=<HMAC-SHA256 of the body>``, keyed with the model's secret)."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import httpx

from services.contracts.envelope import stable_id
from services.contracts.events import AlertChanged
from services.kit.addresses import pinned
from services.kit.webhooks import is_signing_key, signed_headers
from services.kit.runtime import ServiceContext
from services.kit.store import Query
from services.telemetry import alerts, feedback, queries, rollups

log = logging.getLogger("feather.telemetry.alerts")


async def figures(ctx: ServiceContext, model_id: str, rule: alerts.Rule, now: datetime) -> dict[str, Any]:
    start = now - timedelta(minutes=rule.window_min)
    if rule.metric == "accuracy":
        return feedback.summarize(await queries.feedback_in(ctx.store, model_id, start, now), "1m")
    counts = rollups.summary(rollups.by_status(await queries.buckets(ctx.store, model_id, start, now, "1m")))
    if rule.metric == "drift_share":
        report = await queries.drift_of(ctx.store, model_id, None, start, now)
        counts["drift_share"] = report["share"] if report else None
        counts["runs"] = report["current_rows"] if report else 0
    return counts


async def evaluate(ctx: ServiceContext, http: httpx.AsyncClient, now: datetime) -> list[AlertChanged]:
    """Every model's rules, once; the changes they made."""
    changed: list[AlertChanged] = []
    cursor = None
    while True:
        page = await ctx.store.find("alert_rules", Query(limit=200, cursor=cursor))
        for doc in page.items:
            try:
                config = alerts.AlertRules.model_validate({"rules": doc.get("rules", []), "webhook": doc.get("webhook")})
                for rule in config.rules:
                    event = await _check(ctx, doc["_id"], rule, now)
                    if event is not None:
                        changed.append(event)
                        await deliver(ctx, http, doc, event)
            except Exception:  # one model's data must not stop every other model's alerts
                log.exception("evaluating the alert rules of %s failed", doc["_id"])
        if not (cursor := page.next_cursor):
            return changed


async def _check(ctx: ServiceContext, model_id: str, rule: alerts.Rule, now: datetime) -> AlertChanged | None:
    value = alerts.measure(rule, await figures(ctx, model_id, rule, now))
    key = f"{model_id}|{rule.name}"
    current = await ctx.store.get("alert_states", key)
    firing = bool(current and current.get("state") == "firing")
    state = {"model_id": model_id, "rule": rule.name, "metric": rule.metric, "threshold": rule.threshold,
             "value": value, "checked_at": now.isoformat()}
    if value is None or alerts.holds(rule, value) == firing:  # nothing to judge, or nothing changed
        await ctx.store.save("alert_states", key, {**(current or {"state": "ok", "since": now.isoformat()}), **state},
                             expected_version=current["_v"] if current else None)
        return None
    event = AlertChanged(model_id=model_id, rule=rule.name, metric=rule.metric, state="resolved" if firing else "firing",
                         value=value, threshold=rule.threshold, at=now)
    doc = {**state, "state": "ok" if firing else "firing", "since": now.isoformat()}
    await ctx.save("alert_states", key, doc, expected_version=current["_v"] if current else None,
                   events=[ctx.outbox(event, event_id=stable_id(key, event.state, now.isoformat()))])
    await ctx.store.save("alert_events", stable_id(key, event.state, now.isoformat()),
                         event.model_dump(mode="json"), expected_version=None)
    return event


async def deliver(ctx: ServiceContext, http: httpx.AsyncClient, doc: dict[str, Any], event: AlertChanged) -> None:
    url = doc.get("webhook")
    if not url:
        return
    body = event.model_dump_json()
    headers = {"content-type": "application/json", "feather-signature": alerts.signature(doc["secret"], body.encode()),
               "feather-event": event.ce_type()}
    if is_signing_key(doc["secret"]):  # signed as run webhooks are too
        message_id = "msg_" + stable_id(event.model_id, event.rule, event.state, event.at.isoformat()).replace("-", "")
        headers.update(signed_headers(message_id, event.at, body, [doc["secret"]]))
    try:
        target, host, extensions = await pinned(url, private_too=ctx.settings.webhooks_to_private_addresses)
        answer = await http.post(target, content=body.encode(), timeout=10, headers={**headers, **host},
                                 extensions=extensions, follow_redirects=False)
        log.info("alert %s of %s delivered to the webhook: %s", event.rule, event.model_id, answer.status_code)
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("alert %s of %s not delivered: %s", event.rule, event.model_id, exc)
