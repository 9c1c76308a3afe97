"""The `feather` CLI: one-line errors, exit codes and output, against the fake platform."""
from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import feather._cli as cli
import feather._cli_common as common
import httpx
import pytest
from fastapi import FastAPI
from feather import Client
from sdk_fake_platform import EXAMPLES, TOKEN
from typer.testing import CliRunner

Platform = tuple[FastAPI, SimpleNamespace]
runner = CliRunner()

NUMBERS = '''
import feather as ft
model = ft.Model("adder")
@model.step(inputs=[ft.Number("a", integer=True), ft.Number("b"), ft.Text("note", default="")],
            outputs=[ft.JSON("sum")])
def add(a, b, note):
    return {"sum": a + b, "types": [type(a).__name__, type(b).__name__]}
'''


@pytest.fixture(autouse=True)
def wired(platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Platform:
    """Point the CLI's Client at the in-process platform and isolate the config dir."""
    monkeypatch.setenv("FEATHER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("FEATHER_URL", "http://feather.test")
    monkeypatch.setenv("FEATHER_TOKEN", TOKEN)

    def make(url: str | None = None, token: str | None = None, **kw: Any) -> Client:
        return Client(url, token, transport=httpx.ASGITransport(platform[0]), **kw)
    monkeypatch.setattr(common, "Client", make)
    return platform


def invoke(*args: str) -> Any:
    return runner.invoke(cli.app, list(args))


def assert_one_error_line(result: Any, code: int, text: str) -> None:
    assert result.exit_code == code, (result.stdout, result.stderr)
    last = result.stderr.splitlines()[-1]
    assert last.startswith("error: ") and text in last, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


def publish(app: Path | str = EXAMPLES / "hello") -> Any:
    return invoke("publish", str(app))


def test_publish_of_a_broken_app_exits_2_with_the_line(write_app: Callable[..., Path],
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       wired: Platform) -> None:
    app = write_app("import feather as ft\nmodel = ft.Model('m')\n\n"
                    "@model.step(inputs=[ft.Text('a')])\ndef greet(a):\n    return a\n")
    monkeypatch.chdir(app.parent)
    result = invoke("publish", "app.py")
    assert result.exit_code == 2
    assert result.stderr == "error: app.py:4: step 'greet' has no outputs\n"
    assert wired[1].bundles == []  # nothing was uploaded


def test_publish_waits_until_ready(wired: Platform) -> None:
    result = publish()
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "ann/hello version 1 is ready: http://feather.test/models/ann/hello"
    assert len(wired[1].bundles) == 1


def test_publish_json_no_wait(wired: Platform) -> None:
    result = invoke("publish", str(EXAMPLES / "hello"), "--no-wait", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"owner": "ann", "name": "hello", "version": 1,
                                         "status": "building",
                                         "url": "http://feather.test/models/ann/hello"}


def test_publish_build_failure_prints_the_log(wired: Platform) -> None:
    wired[1].build = "failed"
    result = publish()
    assert_one_error_line(result, 1, "build of ann/hello version 1 failed: pip install failed")
    assert "ERROR: No matching distribution" in result.stderr


def test_run_prints_outputs(wired: Platform) -> None:
    publish()
    result = invoke("run", "ann/hello", "--input", "name=Ada")
    assert result.exit_code == 0, result.stderr
    assert "Hello, Ada!" in result.stdout and "greeting" in result.stdout
    as_json = invoke("run", "ann/hello", "-i", "name=Bo", "--json")
    data = json.loads(as_json.stdout)
    assert data["outputs"] == {"greeting": "Hello, Bo!"} and data["status"] == "succeeded"


def test_run_converts_number_inputs_with_the_manifest(wired: Platform,
                                                      write_app: Callable[..., Path]) -> None:
    assert publish(write_app(NUMBERS)).exit_code == 0
    result = invoke("run", "ann/adder", "-i", "a=2", "-i", "b=0.5", "-i", "note=12", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["outputs"] == {
        "sum": {"sum": 2.5, "types": ["int", "float"]}}
    run = list(wired[1].runs.values())[-1]
    assert run["inputs"] == {"a": 2, "b": 0.5, "note": "12"}
    bad = invoke("run", "ann/adder", "-i", "a=two", "-i", "b=1")
    assert_one_error_line(bad, 2, "input 'a' must be a number, got 'two'")
    not_int = invoke("run", "ann/adder", "-i", "a=1.5", "-i", "b=1")
    assert_one_error_line(not_int, 2, "input 'a' must be a number, got '1.5'")


def test_run_inputs_json(wired: Platform, tmp_path: Path) -> None:
    publish()
    good = tmp_path / "in.json"
    good.write_text('{"name": "Json"}')
    result = invoke("run", "ann/hello", "--inputs-json", str(good), "--json")
    assert json.loads(result.stdout)["outputs"] == {"greeting": "Hello, Json!"}
    bad = tmp_path / "bad.json"
    bad.write_text("[1]")
    assert_one_error_line(invoke("run", "ann/hello", "--inputs-json", str(bad)), 2,
                          "must hold a JSON object")
    assert_one_error_line(invoke("run", "ann/hello", "--inputs-json", str(tmp_path / "no")), 2,
                          "cannot read")


def test_run_errors(wired: Platform) -> None:
    publish()
    assert_one_error_line(invoke("run", "ann/hello", "-i", "name=" + "x" * 101), 2,
                          "invalid input: input 'name' must have at most 100 characters")
    assert_one_error_line(invoke("run", "ann/nope", "-i", "name=x"), 1,
                          "not found: model ann/nope not found")
    assert_one_error_line(invoke("run", "ann/hello", "-i", "name"), 2, "--input expects KEY=VALUE")
    wired[1].mode = "failed"
    result = invoke("run", "ann/hello", "-i", "name=x")
    assert_one_error_line(result, 1, "run failed: ValueError: boom")
    assert result.stderr == "error: run failed: ValueError: boom\n"


def test_login_checks_and_saves_the_token(tmp_path: Path) -> None:
    result = invoke("login", "--url", "http://feather.test", "--token", TOKEN)
    assert result.exit_code == 0, result.stderr
    path = tmp_path / "config" / "config.json"
    assert json.loads(path.read_text()) == {"url": "http://feather.test", "token": TOKEN}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "logged in to http://feather.test as ann" in result.stderr


def test_login_with_a_bad_token_saves_nothing(tmp_path: Path) -> None:
    result = invoke("login", "--url", "http://feather.test", "--token", "bad")
    assert_one_error_line(result, 1, "unauthorized: invalid or missing token")
    assert not (tmp_path / "config" / "config.json").exists()


def test_models(wired: Platform) -> None:
    publish()
    listed = json.loads(invoke("models", "--json").stdout)
    assert [(m["owner"], m["name"]) for m in listed] == [("ann", "hello")]
    table = invoke("models")
    assert table.exit_code == 0 and "ann/hello" in table.stdout


def test_unreachable_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "Client", Client)  # the real transport
    result = invoke("models", "--url", "http://127.0.0.1:1")
    assert_one_error_line(result, 1, "cannot reach feather at http://127.0.0.1:1")


def test_usage_errors_are_one_line_with_exit_2() -> None:
    assert_one_error_line(invoke("publish"), 2, "Missing argument")
    assert_one_error_line(invoke("run", "ann/hello", "--bogus"), 2, "No such option: --bogus")
    assert_one_error_line(invoke("run", "not-a-ref"), 2, "owner/name")
    assert_one_error_line(invoke("frobnicate"), 2, "No such command")


def test_up_replaces_itself_with_the_local_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(cli.os, "execv", lambda exe, argv: calls.append((exe, argv)))
    services = SimpleNamespace(submodule_search_locations=[str(EXAMPLES.parent / "services")])
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: services)
    result = invoke("up", "--port", "9000", "--reset")
    assert result.exit_code == 0, result.stderr
    exe, argv = calls[0]
    assert argv == [exe, "-m", "services.local", "--port", "9000", "--reset"]


def test_up_without_services(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(cli.os, "execv", lambda *a: pytest.fail("must not exec"))
    assert_one_error_line(invoke("up"), 1, "`feather up` needs the feather platform")
