"""`feather init`, file inputs/outputs on `run`, `runs`, `logs`, `cancel`, `delete`, login checks."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import test_sdk_cli
from feather._cli_run import convert
from feather._manifest import load_model
from PIL import Image
from sdk_fake_platform import EXAMPLES
from test_sdk_cli import Platform, assert_one_error_line, invoke, publish
from test_sdk_client_files import DOCS, PICS

wired = test_sdk_cli.wired  # the autouse fixture pointing the CLI at the fake, here too
NOT_LOGGED_IN = "error: not logged in: run feather login --url URL --token TOKEN\n"


def test_init_scaffolds_a_model_that_publishes_and_runs(tmp_path: Path, wired: Platform) -> None:
    target = tmp_path / "my-model"
    result = invoke("init", "my-model", str(target))
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in target.iterdir()) == ["README.md", "app.py", "requirements.txt"]
    files = ("app.py", "requirements.txt", "README.md")
    assert result.stdout.splitlines() == [str(target / f) for f in files]
    model = load_model(target)
    assert model.name == "my-model" and len(model.steps) == 1 and model.requirements == []
    assert "feather run OWNER/my-model" in (target / "README.md").read_text()
    assert publish(target).exit_code == 0
    ran = invoke("run", "ann/my-model", "-i", "text=hey", "--json")
    assert json.loads(ran.stdout)["outputs"] == {"result": "HEY"}


def test_init_refuses_to_overwrite_and_bad_names(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert invoke("init", "demo", "--json").exit_code == 0
    (tmp_path / "demo" / "app.py").write_text("# mine\n")
    assert_one_error_line(invoke("init", "demo"), 1, "demo/app.py already exists")
    assert (tmp_path / "demo" / "app.py").read_text() == "# mine\n"
    assert_one_error_line(invoke("init", "Bad_Name"), 2, "model name must be lowercase")
    assert not (tmp_path / "Bad_Name").exists()


def test_run_with_file_inputs_saves_file_outputs(tmp_path: Path, wired: Platform,
                                                 write_app: Callable[..., Path]) -> None:
    assert publish(write_app(PICS)).exit_code == 0
    picture = tmp_path / "in.png"
    Image.new("RGB", (10, 8), "blue").save(picture)
    out = tmp_path / "out"
    result = invoke("run", "ann/pics", "-i", f"image=@{picture}", "-i", "factor=2",
                    "--output-dir", str(out))
    assert result.exit_code == 0, result.stderr
    saved = out / "image.png"
    assert result.stdout.splitlines()[-1] == str(saved) and Image.open(saved).size == (5, 4)
    assert "saved: image.png" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["image.png"]
    as_json = json.loads(invoke("run", "ann/pics", "-i", f"image=@{picture}", "--json",
                                "--output-dir", str(out)).stdout)
    assert as_json["saved"] == {"image": [str(saved)]} and as_json["outputs"]["info"]["size"] == [10, 8]


def test_run_uploads_large_files_and_prints_file_urls(tmp_path: Path, wired: Platform,
                                                      write_app: Callable[..., Path]) -> None:
    assert publish(write_app(DOCS)).exit_code == 0
    doc = tmp_path / "big.bin"
    doc.write_bytes(bytes(300 * 1024))
    result = invoke("run", "ann/docs", "-i", f"doc=@{doc}")
    assert result.exit_code == 0, result.stderr
    assert [r[1] for r in wired[1].requests].count("/v1/files") == 1
    assert "feather:files/" in result.stdout and '"size": 307200' in result.stdout
    missing = invoke("run", "ann/docs", "-i", f"doc=@{tmp_path / 'nope.bin'}")
    assert_one_error_line(missing, 2, "nope.bin")


def test_run_continues_a_previous_run_and_picks_steps(wired: Platform,
                                                      write_app: Callable[..., Path]) -> None:
    from test_sdk_client_jobs import TWO_STEPS
    assert publish(write_app(TWO_STEPS)).exit_code == 0
    first = json.loads(invoke("run", "ann/two", "-i", "text=hi", "--json").stdout)
    second = invoke("run", "ann/two", "--previous-run", first["id"], "-i", "times=3", "--json")
    assert json.loads(second.stdout)["outputs"] == {"result": "HI HI HI"}
    direct = invoke("run", "ann/two", "--step", "repeat", "-i", "shout=a", "-i", "times=2", "--json")
    assert json.loads(direct.stdout)["outputs"] == {"result": "a a"}
    assert_one_error_line(invoke("run", "ann/two", "--step", "nope", "-i", "x=1"), 2,
                          "unknown step 'nope'")


def test_runs_logs_and_cancel(wired: Platform) -> None:
    publish()
    ok = json.loads(invoke("run", "ann/hello", "-i", "name=a", "--json").stdout)
    wired[1].mode = "failed"
    invoke("run", "ann/hello", "-i", "name=b")
    listed = json.loads(invoke("runs", "--json").stdout)
    assert [r["status"] for r in listed] == ["failed", "succeeded"]
    table = invoke("runs", "--model", "ann/hello")
    assert table.exit_code == 0 and ok["id"] in table.stdout
    assert invoke("logs", ok["id"]).stdout == "ran greet\n"
    failed = invoke("logs", listed[0]["id"], "--json")
    assert json.loads(failed.stdout)["traceback"].endswith("ValueError: boom\n")
    build = invoke("logs", "--build", "ann/hello", "--version", "1")
    assert build.stdout.startswith("building hello v1\n") and "build status: ready" in build.stderr
    latest = json.loads(invoke("logs", "--build", "ann/hello", "--json").stdout)
    assert (latest["version"], latest["status"]) == (1, "ready")
    assert_one_error_line(invoke("logs"), 2, "give either a RUN_ID or --build")
    wired[1].mode, wired[1].polls = "async", 10**9
    queued = json.loads(invoke("run", "ann/hello", "-i", "name=c", "--wait", "0", "--json").stdout)
    canceled = invoke("cancel", queued["id"])
    assert canceled.stdout == f"run {queued['id']}: cancel requested (status: queued)\n"
    assert_one_error_line(invoke("cancel", ok["id"]), 1, "already ended: succeeded")


def test_delete_asks_for_yes(wired: Platform) -> None:
    publish()
    assert_one_error_line(invoke("delete", "ann/hello"), 2, "needs --yes")
    assert "DELETE" not in [r[0] for r in wired[1].requests]
    result = invoke("delete", "ann/hello", "--yes", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == {"deleted": "ann/hello"}
    assert json.loads(invoke("models", "--json").stdout) == []
    assert_one_error_line(invoke("delete", "ann/hello", "-y"), 1, "not found")


@pytest.mark.parametrize("args", [["publish", str(EXAMPLES / "hello")], ["runs"],
                                  ["delete", "ann/hello", "--yes"], ["logs", "run_1"]])
def test_commands_that_act_as_you_need_a_token(monkeypatch: pytest.MonkeyPatch, wired: Platform,
                                               args: list[str]) -> None:
    monkeypatch.delenv("FEATHER_TOKEN")
    result = invoke(*args)
    assert result.exit_code == 2 and result.stderr == NOT_LOGGED_IN
    assert wired[1].requests == []


def test_publish_prints_the_build_log_as_it_grows(wired: Platform) -> None:
    result = publish()
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[1:] == ["building hello v1", "résumé: ✓ deps", "built in 0.1s"]
    assert len([r for r in wired[1].requests if r[1].endswith("/build-log")]) == 3


@pytest.mark.parametrize("raw,spec,expected", [
    ("3", {"kind": "slider", "schema": {"type": "number"}}, 3),
    ("2.5", {"kind": "number", "schema": {"type": "number"}}, 2.5),
    ("yes", {"kind": "checkbox", "schema": {"type": "boolean"}}, True),
    ("off", {"kind": "checkbox", "schema": {"type": "boolean"}}, False),
    ('["a", "b"]', {"kind": "multi_choice", "schema": {"type": "array"}}, ["a", "b"]),
    ("a, b", {"kind": "multi_choice", "schema": {"type": "array"}}, ["a", "b"]),
    ('{"selected": [0]}', {"kind": "pick_list", "schema": {"type": "object"}}, {"selected": [0]}),
    ("@@handle", {"kind": "text", "schema": {"type": "string"}}, "@handle"),
    ("12", None, "12"),
    ("https://example.org/a.png", {"kind": "image", "schema": {"type": "object"}}, "https://example.org/a.png"),
    ("data:,hi", {"kind": "file", "schema": {"type": "object"}}, "data:,hi"),
])
def test_input_values_follow_the_manifest(raw: str, spec: dict[str, Any] | None,
                                          expected: Any) -> None:
    assert convert("x", raw, spec) == expected


def test_at_path_reads_text_inputs_and_passes_file_inputs(tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("from a file")
    assert convert("t", f"@{note}", {"kind": "text", "schema": {"type": "string"}}) == "from a file"
    assert convert("f", f"@{note}", {"kind": "file"}) == note
    for raw, spec in (("maybe", {"schema": {"type": "boolean"}}),
                      ("{", {"schema": {"type": "object"}}),
                      ("note.txt", {"kind": "file", "schema": {"type": "object"}})):  # a path needs its @
        with pytest.raises(Exception) as e:
            convert("k", raw, spec)
        assert getattr(e.value, "field", None) == "k"


def test_saved_outputs_stay_in_the_output_folder_whatever_the_model_names_them(tmp_path: Path) -> None:
    """A model names an output "/home/u/" and its file "x.bashrc": before, the CLI wrote /home/u/.bashrc."""
    from types import SimpleNamespace

    from feather import FeatherError
    from feather._cli_run import _save_outputs

    home = tmp_path / "home" / "u"
    home.mkdir(parents=True)
    out = tmp_path / "out"
    out.mkdir()
    (out / "planted.txt").symlink_to(home / "victim")  # a link left where an output will be written

    class Downloads:
        def download(self, value: dict) -> bytes:
            return value["url"].encode()

    hostile = {f"{home}/": {"url": "data:,one", "name": "x.bashrc"},
               "../../escape": {"url": "data:,two", "name": "y.sh"},
               "same": [{"url": "data:,three", "name": "a.txt"}, {"url": "data:,four", "name": "a.txt"}],
               "same-1": {"url": "data:,five", "name": "b.txt"}}
    saved = _save_outputs(Downloads(), SimpleNamespace(outputs=hostile), out)
    written = sorted(p.name for p in out.iterdir())
    assert not (home / ".bashrc").exists() and not list(home.iterdir())
    assert not (tmp_path / "escape.sh").exists()
    assert all(Path(p).parent == out for paths in saved.values() for p in paths)
    assert len(written) == 1 + 5 and "planted.txt" in written  # five outputs, none over another
    assert sorted((out / p).read_text() for p in written if p != "planted.txt") == [
        "data:,five", "data:,four", "data:,one", "data:,three", "data:,two"]

    with pytest.raises(FeatherError, match="cannot save an output"):  # a link there is not followed
        _save_outputs(Downloads(), SimpleNamespace(outputs={"planted": {"url": "data:,x", "name": "p.txt"}}), out)
    assert not (home / "victim").exists()
