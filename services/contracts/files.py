"""File values as they travel in inputs and outputs (see docs/wire.md).

A file value is a JSON object with a ``url``: ``data:...`` inline, ``feather:files/<id>`` in the
blob store, or ``http(s)://...`` (copied into the blob store by the gateway before a run).
"""
from __future__ import annotations

import base64
import binascii
import mimetypes
import os
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_to_bytes

SCHEME = "feather:files/"
DATA_URL_LIMIT = 256 * 1024
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def file_values(value: Any, *, produced: bool = False) -> Iterator[dict[str, Any]]:
    """Every file value inside ``value``, at any depth.

    ``produced=True`` finds what a step returned: files written to its output folder, which
    have a ``path`` and no ``url`` yet.
    """
    if isinstance(value, dict):
        if isinstance(value.get("url"), str) or (produced and isinstance(value.get("path"), str)):
            yield value
        for item in value.values():
            if isinstance(item, (dict, list)):
                yield from file_values(item, produced=produced)
    elif isinstance(value, list):
        for item in value:
            yield from file_values(item, produced=produced)


def files_in(fields: Any, *, produced: bool = False) -> Iterator[dict[str, Any]]:
    """The file values among a run's inputs or outputs: an object of named fields, which is
    never a file value itself, even with a field named ``url``."""
    return file_values(list(fields.values()) if isinstance(fields, dict) else fields, produced=produced)


def new_file_id(name: str | None) -> str:
    """``<time-ordered random>/<safe name>``: unguessable, and the name keeps its extension."""
    safe = _SAFE_NAME.sub("-", os.path.basename(name or "")).strip(".-") or "file"
    return f"{int(time.time() * 1000):012x}{os.urandom(8).hex()}/{safe[:100]}"


def blob_key(file_id: str) -> str:
    return f"files/{file_id}"


def file_id(url: str) -> str | None:
    if not url.startswith(SCHEME):
        return None
    fid = url[len(SCHEME):]
    parts = fid.split("/")
    if len(parts) != 2 or any(p in ("", ".", "..") for p in parts) or "\\" in fid or "\x00" in fid:
        return None
    return fid


def content_type_of(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def data_url_bytes(url: str) -> tuple[bytes, str]:
    """The bytes and the media type of a ``data:`` URL; ValueError when it is not one we can read."""
    header, sep, payload = url.partition(",")
    if not sep or not header.startswith("data:"):
        raise ValueError("not a data: URL")
    media_type = header[5:].split(";")[0]
    if header.endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=True), media_type
        except binascii.Error:
            raise ValueError("the data: URL is not valid base64") from None
    return unquote_to_bytes(payload), media_type

