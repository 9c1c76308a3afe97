"""Publishing a model and waiting until its version is ready: what most end-to-end tests start with."""
from __future__ import annotations

from pathlib import Path

import feather


def published(client: feather.Client, app: Path | str, timeout: float = 300) -> str:
    """Publish ``app`` and wait until the new version is ready; its ``owner/name``."""
    answer = client.publish(str(app))
    ref = f"{answer['owner']}/{answer['name']}"
    client.wait_ready(ref, answer["version"], timeout=timeout)
    return ref
