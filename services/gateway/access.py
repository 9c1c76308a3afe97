"""Who may read a run and its files (the matrix in docs/security.md), in one place.

A run is readable by the user who created it and by the model's owner. A run made without an
account has no one to recognise, so its answer carries a read token: an HMAC of the run id
under the gateway's secret, valid on every replica that shares the secret and stored nowhere.
A file is readable through a run that may be read and holds it, or by whoever uploaded it.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from services.contracts.files import SCHEME, file_id, files_in


def load_secret(configured: str | None, data_dir: Path) -> bytes:
    """The configured secret, or one made once and kept in the data folder (one machine)."""
    if configured:
        return configured.encode()
    path = data_dir / "gateway.key"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of what a caller sent (any characters) with a secret."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def run_token(secret: bytes, run_id: str) -> str:
    digest = hmac.new(secret, f"run:{run_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


def model_owner(run: dict[str, Any]) -> str:
    return run["model_id"].split("/", 1)[0]


def may_read_run(run: dict[str, Any], viewer: str | None, token: str | None, secret: bytes) -> bool:
    if viewer is not None and viewer in (run.get("created_by"), model_owner(run)):
        return True
    return bool(token) and same_secret(token, run_token(secret, run["_id"]))


def run_file_ids(run: dict[str, Any]) -> set[str]:
    """The uploaded or produced files a run refers to, in its inputs, outputs and steps."""
    found = set()
    for part in (run.get("inputs"), run.get("outputs"), run.get("steps")):
        for value in files_in(part):
            fid = file_id(value["url"])
            if fid is not None:
                found.add(fid)
    return found


def file_href(fid: str, run_id: str | None = None, token: str | None = None) -> str:
    """Where a client downloads ``fid``; through ``run_id`` when that is what grants access."""
    href = "/v1/files/" + quote(fid, safe="/")
    if run_id is not None:
        href += "?run=" + quote(run_id, safe="")
        if token:
            href += "&token=" + quote(token, safe="")
    return href


def with_hrefs(value: Any, href: Callable[[str], str]) -> Any:
    """A copy of ``value`` whose stored file values also say where to download them: ``href``
    of their file id."""
    if isinstance(value, list):
        return [with_hrefs(v, href) for v in value]
    if not isinstance(value, dict):
        return value
    copied = {k: with_hrefs(v, href) if isinstance(v, (dict, list)) else v for k, v in value.items()}
    url = value.get("url")
    if isinstance(url, str) and url.startswith(SCHEME) and (fid := file_id(url)) is not None:
        copied["href"] = href(fid)
    return copied


def upload_usable(doc: dict[str, Any] | None, user: str | None, now: datetime | None = None) -> bool:
    """Whether ``user`` may send or download the upload ``doc`` directly (not through a run).

    A signed-in user's upload is theirs alone. An anonymous upload has no owner to check: its
    unguessable id, told only to the uploader, is the capability, until it expires.
    """
    if doc is None or expired(doc, now):
        return False
    owner = doc.get("owner")
    return owner is None or owner == user


def expired(doc: dict[str, Any], now: datetime | None = None) -> bool:
    expires = doc.get("expires_at")
    return bool(expires) and expires <= (now or datetime.now(timezone.utc)).isoformat()
