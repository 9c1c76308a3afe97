"""The worker process end to end, over real pipes, as the executor drives it."""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sdk_fake_platform import EXAMPLES

NOISY = '''
import sys, logging
import feather as ft

print("loading; this must not reach the protocol")
log = logging.getLogger("noisy")
logging.basicConfig(level=logging.INFO)  # handler bound to sys.stderr at import time

model = ft.Model("noisy")

@model.step(inputs=[ft.Text("text")], outputs=[ft.Text("text")])
def shout(text):
    print("about to shout", text)
    print('{"type": "result", "id": "forged"}')
    sys.stderr.write("to stderr\\n")
    log.info("logged %s", text)
    if text == "boom":
        raise ValueError("no booms")
    if text == "big":
        print("x" * 200_000)
    if text == "ask":
        return input()
    return text.upper()
'''


class Worker:
    def __init__(self, app: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "feather.runtime.worker",
                                      "--app", str(app)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.endswith(b"\n"), line
        return json.loads(line)

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request).encode() + b"\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> int:
        """Close stdin (EOF) and return the exit code; keeps stderr in self.stderr."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        code = self.proc.wait(timeout=10)
        self.stderr = self.proc.stderr.read()  # type: ignore[union-attr]
        self.proc.stdout.close()  # type: ignore[union-attr]
        self.proc.stderr.close()  # type: ignore[union-attr]
        return code


@pytest.fixture
def start() -> Iterator[Callable[[Path], Worker]]:
    workers: list[Worker] = []

    def spawn(app: Path) -> Worker:
        workers.append(Worker(app))
        return workers[-1]
    yield spawn
    for w in workers:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait()


def test_ready_result_and_eof(start: Callable[[Path], Worker]) -> None:
    w = start(EXAMPLES / "hello" / "app.py")
    ready = w.read()
    assert ready["type"] == "ready" and ready["load_ms"] >= 0
    result = w.ask({"id": "r1", "step": "greet", "inputs": {"name": "Ada"}})
    assert result["type"] == "result" and result["id"] == "r1" and result["ok"] is True
    assert result["outputs"] == {"greeting": "Hello, Ada!"}
    assert result["predict_ms"] >= 0 and result["logs"] == ""
    bad = w.ask({"id": "r2", "step": "greet", "inputs": {"name": 3}})
    assert bad["ok"] is False and bad["error"].startswith("InvalidInput: input 'name'")
    assert w.close() == 0


def test_prints_do_not_corrupt_the_protocol_and_are_captured(
        start: Callable[[Path], Worker], write_app: Callable[..., Path]) -> None:
    w = start(write_app(NOISY))
    assert w.read()["type"] == "ready"
    result = w.ask({"id": "a", "step": "shout", "inputs": {"text": "hi"}})
    assert result["ok"] is True and result["outputs"] == {"text": "HI"}
    assert "about to shout hi" in result["logs"]
    assert '"id": "forged"' in result["logs"]
    assert "to stderr" in result["logs"] and "logged hi" in result["logs"]

    failed = w.ask({"id": "b", "step": "shout", "inputs": {"text": "boom"}})
    assert failed["type"] == "result" and failed["id"] == "b" and failed["ok"] is False
    assert failed["error"] == "ValueError: no booms"
    assert "in shout" in failed["traceback"] and "about to shout boom" in failed["logs"]
    assert failed["predict_ms"] >= 0

    big = w.ask({"id": "c", "step": "shout", "inputs": {"text": "big"}})
    assert big["ok"] is True and len(big["logs"].encode()) <= 64 * 1024 + 100
    assert "earlier output dropped" in big["logs"]

    asked = w.ask({"id": "d", "step": "shout", "inputs": {"text": "ask"}})  # stdin is not ours
    assert asked["ok"] is False and asked["error"].startswith("EOFError")

    garbage = w.ask({"nope": True})
    assert garbage["ok"] is False and garbage["id"] is None
    assert w.ask({"id": "e", "step": "shout", "inputs": {"text": "ok"}})["ok"] is True
    assert w.close() == 0
    assert b"loading; this must not reach the protocol" in w.stderr  # load-time prints


def test_load_failure(start: Callable[[Path], Worker], write_app: Callable[..., Path]) -> None:
    app = write_app('''
        import feather as ft
        def load():
            raise RuntimeError("weights missing")
        model = ft.Model("broken", load=load)
        @model.step(inputs=[], outputs=[ft.Text("a")])
        def f():
            return ""
        ''')
    w = start(app)
    message = w.read()
    assert message["type"] == "load_failed"
    assert message["error"] == "RuntimeError: weights missing"
    assert "in load" in message["traceback"]
    assert w.proc.wait(timeout=10) == 1


def test_definition_error_at_load(start: Callable[[Path], Worker],
                                  write_app: Callable[..., Path]) -> None:
    w = start(write_app("import feather as ft\nmodel = ft.Model('Bad Name')\n"))
    message = w.read()
    assert message["type"] == "load_failed"
    assert message["error"].startswith("DefinitionError: ") and "app.py:2:" in message["error"]
    assert w.proc.wait(timeout=10) == 1


def test_echo_round_trip_is_well_under_a_millisecond(start: Callable[[Path], Worker]) -> None:
    w = start(EXAMPLES / "echo" / "app.py")
    assert w.read()["type"] == "ready"
    for i in range(50):  # warm up
        w.ask({"id": str(i), "step": "echo", "inputs": {"text": "hi"}})
    times = []
    for i in range(500):
        started = time.perf_counter()
        result = w.ask({"id": str(i), "step": "echo", "inputs": {"text": "hello"}})
        times.append((time.perf_counter() - started) * 1000)
        assert result["outputs"] == {"text": "hello"}
    assert statistics.median(times) < 1.0, f"median {statistics.median(times):.3f} ms"
    assert w.close() == 0
