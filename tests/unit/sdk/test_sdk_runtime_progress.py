"""feather.progress in-process, output_dir pass-through and per-call scratch files."""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import feather as ft
import feather.runtime as rt
import pytest

APP = '''
import feather as ft

SEEN = []

model = ft.Model("progressing")

@model.step(inputs=[ft.Number("n", integer=True)], outputs=[ft.Text("done")])
def count(n):
    for i in range(n):
        ft.progress(i / n, f"item {i}")
    ft.progress(None, "almost")
    ft.progress(7, "clamped high")
    ft.progress(-1)
    return "ok"

@model.step(inputs=[ft.Text("how")], outputs=[ft.Text("done")])
def wrong(how):
    ft.progress("half")
    return "never"

@model.step(inputs=[ft.File("doc")], outputs=[ft.File("copy"), ft.Text("where")])
def keep(doc):
    SEEN.append(doc)
    return doc, str(doc)
'''


@pytest.fixture
def loaded(write_app: Callable[..., Path]) -> rt.LoadedModel:
    return rt.load(write_app(APP))


def test_progress_reaches_the_callback_clamped(loaded: rt.LoadedModel) -> None:
    seen: list[tuple[float | None, str]] = []
    assert loaded.run("count", {"n": 2}, on_progress=lambda f, m: seen.append((f, m))) == {"done": "ok"}
    assert seen == [(0.0, "item 0"), (0.5, "item 1"), (None, "almost"), (1.0, "clamped high"), (0.0, "")]


def test_progress_outside_a_run_only_logs(loaded: rt.LoadedModel, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="feather"):
        ft.progress(0.25, "from a notebook")
        assert loaded.run("count", {"n": 1}) == {"done": "ok"}  # no callback: no error either
    assert "progress 0.25 from a notebook" in caplog.text
    with pytest.raises(TypeError, match="progress fraction must be a number"):
        ft.progress("half")  # type: ignore[arg-type]


def test_a_bad_progress_call_fails_the_step(loaded: rt.LoadedModel) -> None:
    with pytest.raises(rt.StepError, match="TypeError: progress fraction must be a number") as e:
        loaded.run("wrong", {"how": "x"}, on_progress=lambda f, m: None)
    assert "in wrong" in e.value.traceback


def test_output_dir_and_scratch_files(loaded: rt.LoadedModel, tmp_path: Path) -> None:
    doc = {"url": "data:text/csv;base64,YSxiCjEsMgo=", "name": "t.csv"}
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    out = loaded.run("keep", {"doc": doc}, output_dir=str(tmp_path))
    copy = out["copy"]
    assert Path(copy["path"]).parent == tmp_path and Path(copy["path"]).read_bytes() == b"a,b\n1,2\n"
    assert (copy["name"], copy["content_type"], copy["size"]) == ("t.csv", "text/csv", 8)
    # the inline input was materialized for the call only
    received = Path(out["where"])
    assert received.name == "t.csv" and not received.exists()
    inline = loaded.run("keep", {"doc": doc})["copy"]
    assert inline["url"] == "data:text/csv;base64,YSxiCjEsMgo=" and "path" not in inline
    assert os.listdir(tmp_path) == [Path(copy["path"]).name]  # the inline run wrote nothing here
