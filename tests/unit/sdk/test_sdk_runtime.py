"""feather.runtime: load once, run steps with JSON inputs, errors as StepError."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import feather.runtime as rt
import pytest
from feather import InvalidInput
from sdk_fake_platform import EXAMPLES

MULTI = '''
import asyncio
import feather as ft

LOADS = []

def load():
    LOADS.append(1)
    return {"prefix": ">"}

model = ft.Model("multi", load=load)

@model.step(inputs=[ft.Text("text"), ft.Number("times", integer=True, default=2)],
            outputs=[ft.Text("joined"), ft.JSON("meta")])
def repeat(text, times, context):
    return context["prefix"] + text * times, {"times": times, "loads": len(LOADS)}

@model.step(inputs=[ft.Text("text")], outputs=[ft.Text("upper"), ft.Number("length")])
def as_dict(text):
    return {"length": len(text), "upper": text.upper()}

@model.step(inputs=[ft.Text("text")], outputs=[ft.Text("a"), ft.Text("b")])
def wrong_shape(text):
    return text

@model.step(inputs=[ft.Text("text")], outputs=[ft.Text("out")])
def wrong_type(text):
    return len(text)

@model.step(inputs=[ft.Text("text")], outputs=[ft.Text("out")])
def explode(text):
    raise ValueError(f"cannot handle {text}")

@model.step(inputs=[ft.Text("text")], outputs=[ft.Label("label", top_k=1)])
async def classify(text):
    await asyncio.sleep(0)
    return {"pos": 0.8, "neg": 0.2}
'''


@pytest.fixture
def multi(write_app: Callable[..., Path]) -> rt.LoadedModel:
    return rt.load(write_app(MULTI))


def test_hello_runs() -> None:
    loaded = rt.load(EXAMPLES / "hello" / "app.py")
    assert loaded.run("greet", {"name": "Ada"}) == {"greeting": "Hello, Ada!"}
    assert loaded.load_ms > 0 and loaded.context is None


def test_load_runs_once_and_context_reaches_the_step(multi: rt.LoadedModel) -> None:
    assert multi.run("repeat", {"text": "ab"}) == {"joined": ">abab", "meta": {"times": 2, "loads": 1}}
    assert multi.run("repeat", {"text": "x", "times": 3}) == {
        "joined": ">xxx", "meta": {"times": 3, "loads": 1}}


def test_outputs_by_dict_and_async_steps(multi: rt.LoadedModel) -> None:
    assert multi.run("as_dict", {"text": "hey"}) == {"upper": "HEY", "length": 3}
    assert multi.run("classify", {"text": "t"}) == {
        "label": {"label": "pos", "confidences": [{"label": "pos", "confidence": 0.8}]}}


def test_raising_step_gives_step_error_with_traceback(multi: rt.LoadedModel) -> None:
    with pytest.raises(rt.StepError) as e:
        multi.run("explode", {"text": "this"})
    assert e.value.message == "ValueError: cannot handle this"
    assert "in explode" in e.value.traceback
    assert "raise ValueError" in e.value.traceback
    assert "feather/runtime" not in e.value.traceback  # only the model's own frames


def test_bad_return_values_are_step_errors_naming_the_problem(multi: rt.LoadedModel) -> None:
    with pytest.raises(rt.StepError, match=r"must return a tuple of 2 values \(a, b\)"):
        multi.run("wrong_shape", {"text": "x"})
    with pytest.raises(rt.StepError, match=r"TypeError: output 'out' \(text\) expects a str, got int"):
        multi.run("wrong_type", {"text": "x"})


def test_invalid_inputs(multi: rt.LoadedModel) -> None:
    with pytest.raises(InvalidInput, match="input 'text' is required") as e:
        multi.run("repeat", {})
    assert e.value.field == "text"
    with pytest.raises(InvalidInput, match="unknown input 'nope'"):
        multi.run("repeat", {"text": "a", "nope": 1})
    with pytest.raises(InvalidInput, match="must be an integer"):
        multi.run("repeat", {"text": "a", "times": 1.5})
    with pytest.raises(InvalidInput, match="unknown step 'missing'"):
        multi.run("missing", {})
