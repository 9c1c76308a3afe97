"""Generator steps in the runtime: what each yield means for the outputs, and the clients'
reading of a Server-Sent Events stream."""
from __future__ import annotations

import textwrap

import pytest

import feather.runtime
from feather._client_stream import StreamEvent, _lines_to_events, _Parser
from feather._manifest import build_manifest

APP = '''
import asyncio
import feather as ft

model = ft.Model("gen")

@model.step(inputs=[ft.Number("n", integer=True)], outputs=[ft.Text("text")])
def words(n):
    for i in range(n):
        yield f"w{i} "

@model.step(inputs=[ft.Number("n", integer=True)], outputs=[ft.JSON("items"), ft.Text("log")])
def grows(n):
    for i in range(n):
        yield list(range(i + 1)), f"{i};"

@model.step(inputs=[ft.Number("n", integer=True)], outputs=[ft.Text("text")])
async def later(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield str(i)

@model.step(inputs=[ft.Number("n", integer=True)], outputs=[ft.Text("text")])
def nothing(n):
    return
    yield
'''


@pytest.fixture
def loaded(tmp_path):
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    return feather.runtime.load(tmp_path / "app.py"), tmp_path / "app.py"


def test_text_adds_up_what_is_yielded_and_other_outputs_keep_the_latest(loaded):
    model, _ = loaded
    seen: list[dict] = []
    assert model.run("words", {"n": 3}, on_output=lambda encode: seen.append(encode())) == {"text": "w0 w1 w2 "}
    assert [s["text"] for s in seen] == ["w0 ", "w0 w1 ", "w0 w1 w2 "]
    assert model.run("grows", {"n": 3}) == {"items": [0, 1, 2], "log": "0;1;2;"}
    assert model.run("later", {"n": 4}) == {"text": "0123"}


def test_a_step_that_yields_nothing_fails_and_the_manifest_says_which_steps_stream(loaded):
    model, app = loaded
    with pytest.raises(feather.runtime.StepError, match="yielded nothing"):
        model.run("nothing", {"n": 1})
    steps = {s["name"]: s.get("streams", False) for s in build_manifest(model.model)["steps"]}
    assert steps == {"words": True, "grows": True, "later": True, "nothing": True}


def test_server_sent_events_are_parsed_by_the_spec():
    lines = [": a comment", "event: output", "id: 3", 'data: {"outputs":', 'data: {"t": 1}}', "",
             "", "data: 5", "", "event: done", "id: 9", "data: {}", ""]
    found = list(_lines_to_events(lines, _Parser()))
    assert found == [StreamEvent("output", "3", {"outputs": {"t": 1}}), StreamEvent("message", "3", 5),
                     StreamEvent("done", "9", {})]
