"""`feather up`: run the platform on this machine with the embedded defaults."""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import sys
import time
from pathlib import Path

import typer
from rich.console import Console

from services.local.examples import publish_examples, write_cli_config
from services.local.platform import DEFAULT_PORTS, LocalPlatform

console = Console(stderr=True)
app = typer.Typer(add_completion=False)


def _token(data_dir: Path) -> str:
    path = data_dir / "admin-token"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    token = "ft_" + secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token)
    return token


@app.command()
def up(
    data_dir: Path = typer.Option(Path.home() / ".feather" / "data", envvar="FEATHER_DATA_DIR",
                                  help="Where the store, blobs, environments and logs live."),
    port: int = typer.Option(DEFAULT_PORTS["gateway"], help="The gateway's port."),
    examples: bool = typer.Option(True, help="Publish the models in examples/."),
    free_ports: bool = typer.Option(False, help="Pick free ports for everything but the gateway."),
    broker_proxy: bool = typer.Option(True, help="Reach the broker through a proxy that wakes waiting consumers "
                                                 "(a seventh of the CPU while idle); off, they poll it every few ms."),
) -> None:
    """Start the broker and the five services, publish the examples, and wait for Ctrl-C."""
    data_dir = data_dir.expanduser().resolve()
    token = _token(data_dir)
    platform = (LocalPlatform.on_free_ports(data_dir, token, broker_proxy=broker_proxy) if free_ports
                else LocalPlatform(data_dir, token, broker_proxy=broker_proxy))
    platform.ports["gateway"] = port
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        with console.status("starting the broker and the services..."):
            platform.start()
        _say_sandbox(platform.sandbox())
        write_cli_config(platform.gateway_url, token)
        ready = publish_examples(platform.gateway_url, token, console) if examples else []
        _banner(platform.gateway_url, token, ready, platform.ports["admin"])
        while True:
            for name, proc in list(platform.procs.items()):
                if proc.poll() is not None:
                    console.print(f"[red]{name} exited with code {proc.returncode}; "
                                  f"log: {platform.log_path(name)}[/red]")
                    raise typer.Exit(1)
            time.sleep(0.5)
    except KeyboardInterrupt:
        console.print("stopping...")
    except RuntimeError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    finally:
        platform.stop()
        console.print("stopped.")


def _say_sandbox(sandbox: dict) -> None:
    if sandbox.get("mode") == "off":
        console.print("[yellow]warning: FEATHER_SANDBOX=off: models run unsandboxed, with your rights; "
                      "only for your own models[/yellow]")
    elif sandbox.get("problem"):
        console.print(f"[red]the sandbox cannot run, so no model will: {sandbox['problem']}[/red]", soft_wrap=True)


def _feather_command() -> str:
    """How to call this installation's CLI from the user's shell, as it is right now."""
    here = Path(sys.executable).with_name("feather")
    on_path = shutil.which("feather")
    if on_path and Path(on_path).resolve() == here.resolve():
        return "feather"
    try:
        return str(here.relative_to(Path.cwd()))
    except ValueError:
        return str(here)


def _banner(url: str, token: str, ready: list[str], metrics_port: int | None = None) -> None:
    out = Console()
    out.print(f"\n[bold green]feather is up[/bold green] at [bold]{url}[/bold]  (Ctrl-C to stop)\n")
    if "local/hello" in ready:
        out.print("Try it:")
        out.print(f"  curl -s -X POST {url}/v1/models/local/hello/runs -H 'Prefer: wait' "
                  "-H 'Content-Type: application/json' -d '{\"inputs\": {\"name\": \"World\"}}'", soft_wrap=True)
        # commands are never wrapped: a long venv path would break the line users paste
        out.print(f"  {_feather_command()} run local/hello --input name=World\n", soft_wrap=True)
    out.print(f"API token for user 'local' (also saved for the feather CLI): {token}", soft_wrap=True)
    if metrics_port:
        out.print(f"Prometheus metrics: http://127.0.0.1:{metrics_port}/metrics (the gateway; each other "
                  "service on its own port's /metrics)", soft_wrap=True)
    sys.stdout.flush()


if __name__ == "__main__":
    app()
