"""Worker protocol additions: progress lines, output_dir, chain requests (docs/wire.md)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

APP = '''
import threading, time
import feather as ft

model = ft.Model("protocol")

@model.step(inputs=[ft.Number("n", integer=True)], outputs=[ft.Text("done")])
def steady(n):
    for i in range(n):
        ft.progress(i / n, "working")  # same message, many times: throttled
    ft.progress(1.0, "working")
    return "ok"

@model.step(inputs=[ft.Text("a")], outputs=[ft.Text("b")])
def chatty(a):
    for word in a.split():
        ft.progress(None, word)  # each new message goes out
    return a

@model.step(inputs=[ft.Text("a")], outputs=[ft.Text("b")])
def late(a):
    threading.Thread(target=lambda: (time.sleep(0.3), ft.progress(0.9, "too late"))).start()
    return a

'''

CHAIN = '''
import feather as ft

model = ft.Model("pictures")

@model.step(inputs=[ft.Text("a")], outputs=[ft.Image("picture"), ft.PickList("words")])
def draw(a):
    return b"\\x89PNG\\r\\n\\x1a\\nnot really", a.split()

@model.step(inputs=[ft.PickList("words")], outputs=[ft.Text("joined")])
def join(words):
    if words == ["boom"]:
        raise ValueError("no booms")
    return "-".join(words)
'''


class Worker:
    def __init__(self, app: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "feather.runtime.worker", "--app", str(app)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.read()["type"] == "ready"

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        return json.loads(self.proc.stdout.readline())

    def send(self, request: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request).encode() + b"\n")
        self.proc.stdin.flush()

    def ask(self, request: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """(progress lines, result) for one request."""
        self.send(request)
        progress = []
        while True:
            message = self.read()
            if message["type"] == "result":
                return progress, message
            assert message["type"] == "progress" and message["id"] == request["id"], message
            progress.append(message)


@pytest.fixture
def start(write_app: Callable[..., Path]) -> Iterator[Callable[[str], Worker]]:
    workers: list[Worker] = []

    def spawn(source: str) -> Worker:
        workers.append(Worker(write_app(source)))
        return workers[-1]
    yield spawn
    for w in workers:
        w.proc.kill()
        w.proc.wait()
        for pipe in (w.proc.stdin, w.proc.stdout):
            pipe.close()  # type: ignore[union-attr]


@pytest.fixture
def worker(start: Callable[[str], Worker]) -> Worker:
    return start(APP)


@pytest.fixture
def pictures(start: Callable[[str], Worker]) -> Worker:
    return start(CHAIN)


def test_progress_lines_precede_the_result(worker: Worker) -> None:
    progress, result = worker.ask({"id": "w1", "step": "chatty", "inputs": {"a": "one two three"}})
    assert result["ok"] is True and result["id"] == "w1"
    assert progress == [{"type": "progress", "id": "w1", "fraction": None, "message": m}
                        for m in ("one", "two", "three")]


def test_repeated_progress_is_throttled_but_the_end_gets_through(worker: Worker) -> None:
    progress, result = worker.ask({"id": "w2", "step": "steady", "inputs": {"n": 200_000}})
    assert result["ok"] is True
    assert 1 <= len(progress) < 1000, len(progress)
    assert progress[0]["fraction"] == 0.0 and progress[-1]["fraction"] == 1.0


def test_reports_after_the_result_are_dropped(worker: Worker) -> None:
    progress, result = worker.ask({"id": "w3", "step": "late", "inputs": {"a": "x"}})
    assert progress == [] and result["ok"] is True
    time.sleep(0.6)  # the thread reports while no request runs
    progress, result = worker.ask({"id": "w4", "step": "chatty", "inputs": {"a": "next"}})
    assert [p["message"] for p in progress] == ["next"] and result["id"] == "w4"


def test_output_dir_receives_the_files(pictures: Worker, tmp_path: Path) -> None:
    _, result = pictures.ask({"id": "w5", "step": "draw", "inputs": {"a": "a b"}, "output_dir": str(tmp_path)})
    picture = result["outputs"]["picture"]
    assert Path(picture["path"]).parent == tmp_path and picture["content_type"] == "image/png"
    assert Path(picture["path"]).read_bytes() == b"\x89PNG\r\n\x1a\nnot really"
    assert result["outputs"]["words"] == {"options": ["a", "b"], "multiple": False}
    _, inline = pictures.ask({"id": "w6", "step": "draw", "inputs": {"a": "a"}, "output_dir": None})
    assert inline["outputs"]["picture"]["url"].startswith("data:image/png;base64,")
    _, bad = pictures.ask({"id": "w7", "step": "draw", "inputs": {"a": "a"},
                           "output_dir": str(tmp_path / "missing")})
    assert bad["ok"] is False and "is not an existing folder" in bad["error"]


def test_chain_requests(pictures: Worker, tmp_path: Path) -> None:
    _, result = pictures.ask({"id": "c1", "chain": True, "inputs": {"a": "x y z"},
                              "choices": {"join": {"words": {"selected": [2]}}},
                              "output_dir": str(tmp_path)})
    assert result["ok"] is True and result["id"] == "c1"
    assert result["outputs"] == {"joined": "z"}
    assert [s["step"] for s in result["steps"]] == ["draw", "join"]
    assert result["steps"][0]["outputs"]["words"] == {"options": ["x", "y", "z"], "multiple": False}
    assert Path(result["steps"][0]["outputs"]["picture"]["path"]).parent == tmp_path
    _, failed = pictures.ask({"id": "c2", "chain": True, "inputs": {"a": "boom"},
                              "choices": {"join": {"words": {"selected": [0]}}}})
    assert failed["ok"] is False and failed["error"] == "ValueError: no booms"
    assert failed["step"] == "join" and "in join" in failed["traceback"]
    _, unchosen = pictures.ask({"id": "c3", "chain": True, "inputs": {"a": "x"}})
    assert unchosen["ok"] is False
    assert unchosen["error"].startswith("InvalidInput: step 'join': input 'words' needs a choice")
