"""Owners' alert rules, with no I/O: when each holds, and how a delivery is signed."""
from __future__ import annotations

import hashlib
import hmac
from typing import Any

from services.contracts.alerts import BELOW, AlertRules, Rule

__all__ = ["AlertRules", "Rule", "holds", "measure", "signature"]

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
