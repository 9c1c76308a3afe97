"""Run webhooks, delivered by Standard Webhooks 1.0.

A run request may name a ``webhook`` URL and the events it wants (``start``, ``output``, ``logs``,
``completed``). Each run with a webhook has one document in ``webhooks``: the queue of its events
still to deliver, in order, and every attempt so far. The queue is what makes the rules hold:

- a run's events are delivered one after another, in the order they happened;
- ``output`` and ``logs`` coalesce: one waiting delivery stands for any number of changes, and
  its body is the run as it is when sent, at most every ``webhook_throttle_s``;
- ``completed`` is tried again on the schedule ``webhook_retry_s`` until a 2xx; 410 stops all
  deliveries of the run; the other events are tried once;
- a run's slow or failing receiver delays only that run: deliveries of different runs go out
  side by side.

Every gateway replica queues events from the run-status topic (the shared projection's consumer
group, so each event once) and delivers what is due: a delivery is claimed with a conditional
write and a lease, so one replica sends it, and another takes over when the lease runs out.
Each attempt is a ``WebhookAttempted`` event, written with the queue's new state.

Messages are signed with the creator's ``whsec_`` secret (``GET /v1/webhooks/default/secret``);
after a rotation, with the previous one as well for ``webhook_secret_overlap_h``.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, get_args

import httpx
from pydantic import BaseModel, Field, HttpUrl

from services.contracts.envelope import Envelope
from services.contracts.events import RunCompleted, RunOutput, RunProgress, WebhookAttempted
from services.gateway.domain import RequestError
from services.gateway.views import run_view
from services.kit.addresses import is_loopback_host, pinned
from services.kit.runtime import ServiceContext
from services.kit.webhooks import new_secret, signed_headers
from services.kit.store import Conflict, Order, Query, retry_on_conflict

log = logging.getLogger("feather.gateway.webhooks")

WebhookEvent = Literal["start", "output", "logs", "completed"]
EVENTS: tuple[str, ...] = get_args(WebhookEvent)
LEASE = timedelta(seconds=60)  # past any attempt: each is cut off at webhook_timeout_s
LOOK_AGAIN_S = 5.0  # for deliveries another replica queued, or left when it stopped
AT_ONCE = 32  # deliveries in flight per replica
PER_ACCOUNT = 4  # of which one account's runs may take: a slow receiver delays only its own
KEPT_ATTEMPTS = 100
ANSWER_BYTES = 4096  # of a receiver's answer read: its status is all that counts
PAGES = 5  # of due deliveries looked through per round, past those of accounts at their share


class WebhookRequest(BaseModel):
    webhook: HttpUrl | None = Field(None, description="an https URL that the run's events are POSTed to, "
                                                      "signed by Standard Webhooks with your secret")
    webhook_events_filter: list[WebhookEvent] = Field(
        default_factory=lambda: list(EVENTS), min_length=1,
        description="which events to send: start, output, logs, completed (default: all)")


def check_webhook(ctx: ServiceContext, body: WebhookRequest, user: str | None) -> dict[str, Any] | None:
    """What to keep on the run of its webhook, or 422 naming the field."""
    if body.webhook is None:
        return None
    url = str(body.webhook)

    def refused(msg: str) -> RequestError:
        return RequestError(422, [{"loc": ["body", "webhook"], "msg": msg, "type": "value_error"}])
    if user is None:
        raise refused("webhooks are signed with your account's secret: sign in or send a token")
    loopback = is_loopback_host(url)
    if body.webhook.scheme != "https" and not (loopback and ctx.settings.webhooks_to_loopback):
        raise refused("an https URL (plain http only to this machine, where the platform allows it)")
    if loopback and not (ctx.settings.webhooks_to_loopback or ctx.settings.webhooks_to_private_addresses):
        raise refused("this platform delivers webhooks to public addresses only")
    return {"url": url, "events": list(dict.fromkeys(body.webhook_events_filter)), "by": user}


# --- secrets ---------------------------------------------------------------------------------

async def secret_of(ctx: ServiceContext, user: str) -> dict[str, Any]:
    """The caller's secrets, made on first use: ``current``, and ``previous`` until it expires."""
    found = await ctx.store.get("webhook_secrets", user)
    if found is not None:
        return found
    doc = {"current": new_secret(), "previous": None, "previous_until": None,
           "created_at": datetime.now(timezone.utc).isoformat()}
    with contextlib.suppress(Conflict):  # made by a request alongside this one: that one stands
        await ctx.store.save("webhook_secrets", user, doc, expected_version=None)
    return await ctx.store.get("webhook_secrets", user) or doc


async def rotate(ctx: ServiceContext, user: str) -> dict[str, Any]:
    async def attempt() -> dict[str, Any]:
        current = await secret_of(ctx, user)
        until = datetime.now(timezone.utc) + timedelta(hours=ctx.settings.webhook_secret_overlap_h)
        doc = {**current, "current": new_secret(), "previous": current["current"], "previous_until": until.isoformat()}
        await ctx.store.save("webhook_secrets", user, doc, expected_version=current["_v"])
        return doc
    return await retry_on_conflict(attempt)


def signing_keys(doc: dict[str, Any], now: datetime) -> list[str]:
    keys = [doc["current"]]
    if doc.get("previous") and doc.get("previous_until") and now < datetime.fromisoformat(doc["previous_until"]):
        keys.append(doc["previous"])
    return keys


# --- queueing --------------------------------------------------------------------------------

async def queue_start(ctx: ServiceContext, run_id: str, webhook: dict[str, Any], now: datetime) -> None:
    """A run with a webhook has its queue from the start, with ``start`` when it was asked for."""
    wanted = ["start"] if "start" in webhook["events"] else []
    doc = {"run_id": run_id, **webhook, "pending": wanted, "sent": {}, "last_sent_at": {}, "attempt": 0,
           "state": "pending" if wanted else "idle", "next_at": now.isoformat(), "lease_until": None,
           "attempts": []}
    await ctx.store.save("webhooks", run_id, doc, expected_version=None)


def _append(doc: dict[str, Any], kinds: list[str], now: datetime, throttle_s: float) -> dict[str, Any] | None:
    """``doc`` with ``kinds`` queued (those it wants, not already waiting or done), or None
    when nothing changes."""
    if doc.get("state") == "gone":
        return None  # the receiver asked for no more of this run
    pending = list(doc["pending"])
    for kind in kinds:
        if kind not in doc["events"] or kind in pending:
            continue  # a waiting output or logs delivery sends the run as it is by then
        if kind in ("start", "completed") and doc["sent"].get(kind):
            continue
        if "completed" in pending or doc["sent"].get("completed"):
            continue  # nothing follows the end
        pending.append(kind)
    if pending == doc["pending"]:
        return None
    changed = {**doc, "pending": pending, "state": "pending"}
    if not doc["pending"]:  # the head is new: when it is due
        changed["next_at"] = _due(changed, now, throttle_s).isoformat()
    return changed


def _due(doc: dict[str, Any], now: datetime, throttle_s: float) -> datetime:
    head = doc["pending"][0]
    last = doc["last_sent_at"].get(head)
    if head in ("output", "logs") and last:
        return max(now, datetime.fromisoformat(last) + timedelta(seconds=throttle_s))
    return now


async def on_run_status(ctx: ServiceContext, wake: asyncio.Event, envelope: Envelope) -> None:
    """Queue what a run's progress and end mean for its webhook."""
    event = envelope.event
    if isinstance(event, RunProgress):
        kinds = ["logs"]
    elif isinstance(event, RunOutput):
        kinds = ["output"]
    elif isinstance(event, RunCompleted):
        kinds = (["output"] if event.status == "succeeded" else []) + ["completed"]
    else:
        return
    now = datetime.now(timezone.utc)

    async def attempt() -> None:
        doc = await ctx.store.get("webhooks", event.run_id)
        changed = _append(doc, kinds, now, ctx.settings.webhook_throttle_s) if doc else None
        if changed is not None:
            await ctx.store.save("webhooks", event.run_id, changed, expected_version=doc["_v"])
            wake.set()
    await retry_on_conflict(attempt)


# --- delivery --------------------------------------------------------------------------------

class Deliverer:
    """Sends what is due, as soon as it is queued here, or when it comes due, or (for work
    queued by another replica) within ``LOOK_AGAIN_S``."""

    def __init__(self, ctx: ServiceContext, http: httpx.AsyncClient | None = None) -> None:
        self.ctx = ctx
        # a client of its own: callers' receivers must not take the connections the gateway
        # forwards to the other services with
        self.http = http or httpx.AsyncClient(limits=httpx.Limits(max_connections=AT_ONCE))
        self.wake = asyncio.Event()
        self.sending: dict[str, asyncio.Task[None]] = {}
        self.by_account: dict[str, int] = {}

    async def run_forever(self) -> None:
        while True:
            try:
                wait_s = await self.deliver_due()
            except Exception:  # tried again on the next round
                log.exception("delivering webhooks failed")
                wait_s = LOOK_AGAIN_S
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), wait_s)
            self.wake.clear()

    async def deliver_due(self, now: datetime | None = None) -> float:
        """Start a delivery for each run whose next event is due, as far as this replica's and
        each account's share allow; how long until the next one is due."""
        now = now or datetime.now(timezone.utc)
        wait_s, cursor = LOOK_AGAIN_S, None
        for _ in range(PAGES):
            page = await self.ctx.store.find("webhooks", Query(where={"state": "pending"}, order=Order("next_at"),
                                                               limit=200, cursor=cursor))
            for doc in page.items:
                if len(self.sending) >= AT_ONCE:
                    return wait_s
                due = datetime.fromisoformat(doc["next_at"])
                if due > now:
                    return max(0.0, min(wait_s, (due - now).total_seconds()))
                if doc["run_id"] in self.sending or self.by_account.get(doc["by"], 0) >= PER_ACCOUNT or \
                        (doc["lease_until"] and datetime.fromisoformat(doc["lease_until"]) > now):
                    continue
                try:
                    claimed = await self.ctx.store.save("webhooks", doc["run_id"],
                                                        {**doc, "lease_until": (now + LEASE).isoformat()},
                                                        expected_version=doc["_v"])
                except Conflict:
                    continue  # another replica took it, or an event was queued: the next round sees it
                self._start({**doc, "_v": claimed})
            if not (cursor := page.next_cursor):
                break
        return wait_s

    def _start(self, doc: dict[str, Any]) -> None:
        run_id, account = doc["run_id"], doc["by"]
        self.by_account[account] = self.by_account.get(account, 0) + 1

        def done(_: asyncio.Task[None]) -> None:
            self.sending.pop(run_id, None)
            if (left := self.by_account.get(account, 1) - 1) > 0:
                self.by_account[account] = left
            else:
                self.by_account.pop(account, None)
            self.wake.set()
        task = asyncio.create_task(self._deliver(doc), name=f"webhook-{run_id}")
        self.sending[run_id] = task
        task.add_done_callback(done)

    async def _deliver(self, doc: dict[str, Any]) -> None:
        settings = self.ctx.settings
        kind, attempt = doc["pending"][0], doc["attempt"] + 1
        # one id per message, the same on each of its attempts: messages that left the queue count
        message_id = "msg_" + hashlib.sha256(
            f"{doc['run_id']}|{kind}|{doc.get('left', {}).get(kind, 0)}".encode()).hexdigest()[:32]
        now = datetime.now(timezone.utc)
        began = time.perf_counter()
        status, error = None, None
        try:
            body = await self._body(doc, kind, now)
            keys = signing_keys(await secret_of(self.ctx, doc["by"]), now)
            loopback = settings.webhooks_to_loopback and is_loopback_host(doc["url"])
            # the whole attempt, name lookup included, within the timeout: a receiver that
            # answers a byte at a time cannot hold a delivery longer
            async with asyncio.timeout(settings.webhook_timeout_s):
                target, host, extensions = await pinned(
                    doc["url"], private_too=loopback or settings.webhooks_to_private_addresses)
                async with self.http.stream("POST", target, content=body.encode(),
                                            headers={**signed_headers(message_id, now, body, keys), **host},
                                            extensions=extensions, follow_redirects=False) as answer:
                    status = answer.status_code
                    async for chunk in answer.aiter_raw():
                        if len(chunk) >= ANSWER_BYTES:
                            break
        except TimeoutError:
            error = f"no answer within {settings.webhook_timeout_s:g}s"
        except (httpx.HTTPError, ValueError) as exc:
            error = str(exc) or type(exc).__name__
        record = WebhookAttempted(run_id=doc["run_id"], webhook_id=message_id, event=kind, attempt=attempt,
                                  status_code=status, error=error, duration_ms=(time.perf_counter() - began) * 1000,
                                  at=now)
        await self._record(doc, record, settings.webhook_retry_s)

    async def _body(self, doc: dict[str, Any], kind: str, now: datetime) -> str:
        run = await self.ctx.store.get("runs", doc["run_id"])
        if run is None:
            raise ValueError("the run is gone")
        data = run_view(run, viewer=doc["by"])
        return json.dumps({"type": f"run.{kind}", "timestamp": now.isoformat(), "data": data})

    async def _record(self, claimed: dict[str, Any], record: WebhookAttempted, schedule: list[float]) -> None:
        """The queue after this attempt, and the attempt's event, in one write."""
        first = [claimed]

        async def attempt() -> None:
            doc = first.pop() if first else await self.ctx.store.get("webhooks", claimed["run_id"])
            after = _after(doc, record, schedule, self.ctx.settings.webhook_throttle_s)
            await self.ctx.save("webhooks", doc["run_id"], after, expected_version=doc["_v"],
                                events=[self.ctx.outbox(record, event_id=f"{record.webhook_id}|{record.attempt}")])
        await retry_on_conflict(attempt)


def _after(doc: dict[str, Any], record: WebhookAttempted, schedule: list[float], throttle_s: float) -> dict[str, Any]:
    """What one attempt at the queue's head leaves: the next event due, the same one later, or none."""
    now = record.at
    pending, sent, last = list(doc["pending"]), dict(doc["sent"]), dict(doc["last_sent_at"])
    attempts = [*doc["attempts"], record.model_dump(mode="json")][-KEPT_ATTEMPTS:]
    after = {**doc, "attempts": attempts, "lease_until": None}
    if not pending or pending[0] != record.event or doc["attempt"] != record.attempt - 1:
        return after  # the queue moved on meanwhile (a lease that ran out): only the attempt is kept
    ok = record.status_code is not None and 200 <= record.status_code < 300
    if record.status_code == 410:  # the receiver wants no more of this run
        return {**after, "pending": [], "state": "gone", "attempt": 0}
    if ok or record.event != "completed" or record.attempt > len(schedule):
        pending.pop(0)
        after["left"] = {**doc.get("left", {}), record.event: doc.get("left", {}).get(record.event, 0) + 1}
        if ok:
            sent[record.event] = sent.get(record.event, 0) + 1
            last[record.event] = now.isoformat()
        after.update(pending=pending, sent=sent, last_sent_at=last, attempt=0)
        if not pending:
            return {**after, "state": "idle"}
        return {**after, "state": "pending", "next_at": _due(after, now, throttle_s).isoformat()}
    retry_at = now + timedelta(seconds=schedule[record.attempt - 1])
    return {**after, "attempt": record.attempt, "next_at": retry_at.isoformat()}


async def attempts_of(ctx: ServiceContext, run_id: str) -> list[dict[str, Any]]:
    doc = await ctx.store.get("webhooks", run_id)
    return list(doc["attempts"]) if doc else []


KEPT_DONE = timedelta(days=7)  # a run's delivery record, once nothing is left to send


async def sweep(ctx: ServiceContext, now: datetime | None = None) -> int:
    """Forget the queues with nothing left to send for a week; how many went."""
    cutoff = ((now or datetime.now(timezone.utc)) - KEPT_DONE).isoformat()
    gone = 0
    for state in ("idle", "gone"):
        while True:
            page = await ctx.store.find("webhooks", Query(where={"state": state}, order=Order("next_at"), limit=200))
            due = [d for d in page.items if d["next_at"] < cutoff]
            for doc in due:
                gone += await ctx.store.delete("webhooks", doc["_id"])
            if len(due) < len(page.items) or not page.next_cursor:
                break
    return gone
