"""Checking that a webhook came from feather, by Standard Webhooks 1.0.

    import feather.webhooks

    event = feather.webhooks.verify(request.headers, await request.body(), secret)
    if event["type"] == "run.completed":
        print(event["data"]["outputs"])

``secret`` is your ``whsec_...`` key (``GET /v1/webhooks/default/secret``). A message is
genuine when one of its ``webhook-signature`` entries is the HMAC-SHA256 of
``{webhook-id}.{webhook-timestamp}.{body}`` keyed with the secret, and its timestamp is within
five minutes of now (an old message replayed fails). Keep the ``webhook-id`` of the messages you
handled: a retried message carries the same one.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from ._errors import FeatherError

__all__ = ["WebhookVerificationError", "verify"]

TOLERANCE_S = 300


class WebhookVerificationError(FeatherError):
    """The message is not one feather signed with this secret, or it is too old or too new."""


def _key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError("the secret is not a whsec_ key") from None


def verify(headers: Mapping[str, str], body: bytes | str, secret: str, *,
           tolerance_s: float = TOLERANCE_S, now: float | None = None) -> Any:
    """The message's JSON when it is genuine; :class:`WebhookVerificationError` otherwise."""
    lower = {str(k).lower(): v for k, v in headers.items()}
    message_id, stamp, signatures = (lower.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not (message_id and stamp and signatures):
        raise WebhookVerificationError("webhook-id, webhook-timestamp and webhook-signature are required")
    try:
        sent = int(stamp)
    except ValueError:
        raise WebhookVerificationError(f"webhook-timestamp is not a time: {stamp[:40]!r}") from None
    if abs((time.time() if now is None else now) - sent) > tolerance_s:
        raise WebhookVerificationError("the message is older or newer than five minutes: replayed, or the clocks differ")
    data = body.encode() if isinstance(body, str) else bytes(body)
    expected = hmac.new(_key(secret), f"{message_id}.{stamp}.".encode() + data, hashlib.sha256).digest()
    for entry in signatures.split():
        version, _, signature = entry.partition(",")
        try:
            given = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            continue
        if version == "v1" and hmac.compare_digest(given, expected):
            return json.loads(data)
    raise WebhookVerificationError("no signature matches this secret")
