"""Publishing the bundled examples and pointing the CLI at the local platform."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console

import feather
from feather import _config

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


def write_cli_config(url: str, token: str) -> None:
    """Save the local URL and token for the CLI unless it is set up for a remote platform."""
    current = _config.load().get("url")
    if current and urlsplit(current).hostname not in ("localhost", "127.0.0.1", "::1"):
        return
    _config.save(url, token)


def publish_examples(url: str, token: str, console: Console, *, timeout: float = 600.0) -> list[str]:
    """Publish every ``examples/*/app.py`` and wait for their builds; returns the ready ones."""
    apps = sorted(EXAMPLES_DIR.glob("*/app.py"))
    ready: list[str] = []
    with feather.Client(url, token=token) as client:
        for app in apps:
            with console.status(f"publishing {app.parent.name}..."):
                try:
                    answer = client.publish(str(app))
                    ref = f"{answer['owner']}/{answer['name']}"
                    client.wait_ready(ref, answer["version"], timeout=timeout)
                except feather.FeatherError as exc:
                    console.print(f"[yellow]{app.parent.name}: not published: {exc}[/yellow]")
                    continue
            console.print(f"  [green]ready[/green] {ref} (version {answer['version']})")
            ready.append(ref)
    return ready
