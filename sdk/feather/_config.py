"""Where the CLI and Client find the platform URL and token.

Order: explicit argument, then FEATHER_URL / FEATHER_TOKEN, then the config
file written by `feather login`, then the local default URL.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

DEFAULT_URL = "http://localhost:8080"


def config_path() -> Path:
    base = os.environ.get("FEATHER_CONFIG_DIR") or os.path.join("~", ".config", "feather")
    return Path(base).expanduser() / "config.json"


def load() -> dict[str, str]:
    """The saved settings, or {} when there are none or the file is unreadable."""
    try:
        data = json.loads(config_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def save(url: str, token: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Create with 0600 from the start so the token is never readable by others, even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"url": url, "token": token}, fh, indent=2)
        fh.write("\n")
    os.chmod(path, 0o600)  # an older file may have been created with wider bits
    return path


def resolve(url: str | None = None, token: str | None = None) -> tuple[str, str | None]:
    saved = load()
    url = (url or os.environ.get("FEATHER_URL") or saved.get("url") or DEFAULT_URL).rstrip("/")
    # The saved token belongs to the saved URL; never send it to another server.
    saved_token = saved.get("token") if saved.get("url", "").rstrip("/") == url else None
    return url, token or os.environ.get("FEATHER_TOKEN") or saved_token or None
