"""Signing webhooks by Standard Webhooks 1.0, for every service that sends them (run webhooks
from the gateway, alert webhooks from telemetry)."""
from __future__ import annotations

import base64
import binascii
import os
from datetime import datetime

from standardwebhooks.webhooks import Webhook

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(os.urandom(24)).decode()


def is_signing_key(secret: str) -> bool:
    """A ``whsec_`` key whose rest is base64, as receivers' libraries read it (keys made before
    alerts were signed this way are not)."""
    try:
        return secret.startswith(PREFIX) and bool(base64.b64decode(secret[len(PREFIX):], validate=True))
    except (binascii.Error, ValueError):
        return False


def signed_headers(message_id: str, now: datetime, body: str, keys: list[str]) -> dict[str, str]:
    """Standard Webhooks' three headers; one signature per key, space-separated."""
    signatures = " ".join(Webhook(key).sign(message_id, now, body) for key in keys)
    return {"webhook-id": message_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signatures, "content-type": "application/json"}
