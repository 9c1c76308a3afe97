"""Multi-step models: definition checks, the manifest, fill_inputs and LoadedModel.run_chain."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import feather.runtime as rt
import pytest
from feather import DefinitionError, InvalidInput
from feather._manifest import load_model
from feather._model import fill_inputs

CHAIN = '''
import feather as ft

model = ft.Model("chain")

@model.step(inputs=[ft.Text("topic"), ft.Number("count", integer=True, default=3)],
            outputs=[ft.PickList("ideas", multiple=True), ft.Text("note")])
def brainstorm(topic, count):
    return [f"{topic} {i}" for i in range(count)], f"{count} ideas about {topic}"

@model.step(inputs=[ft.PickList("ideas", multiple=True)], outputs=[ft.EditableText("draft")])
def draft(ideas):
    return " + ".join(ideas)

@model.step(inputs=[ft.EditableText("draft"), ft.Text("note"), ft.Number("count", integer=True)],
            outputs=[ft.Text("final"), ft.JSON("seen")])
def publish(draft, note, count):
    if draft == "explode":
        raise RuntimeError("refused to publish")
    return draft.upper(), {"note": note, "count": count}
'''


@pytest.fixture
def chain(write_app: Callable[..., Path]) -> rt.LoadedModel:
    return rt.load(write_app(CHAIN))


def test_manifest_marks_interactive_outputs(write_app: Callable[..., Path]) -> None:
    steps = load_model(write_app(CHAIN)).manifest()["steps"]
    assert [s["interactive"] for s in steps] == [["ideas"], ["draft"], []]
    assert steps[1]["inputs"][0]["kind"] == "pick_list"
    assert steps[1]["inputs"][0]["schema"]["required"] == ["options", "selected"]
    assert steps[0]["outputs"][0]["schema"]["required"] == ["options", "multiple"]


def test_run_chain_fills_inputs_by_name_and_merges_choices(chain: rt.LoadedModel) -> None:
    result = chain.run_chain({"topic": "cats"}, {"draft": {"ideas": {"selected": [2, 0]}}})
    assert [s["step"] for s in result["steps"]] == ["brainstorm", "draft", "publish"]
    assert result["steps"][0]["outputs"] == {
        "ideas": {"options": ["cats 0", "cats 1", "cats 2"], "multiple": True},
        "note": "3 ideas about cats"}
    assert result["steps"][1]["outputs"] == {"draft": "cats 2 + cats 0"}
    # publish: the draft as shown (no edit sent), the note from step 1, count from step 1's inputs
    assert result["outputs"] == {"final": "CATS 2 + CATS 0",
                                 "seen": {"note": "3 ideas about cats", "count": 3}}
    assert result["steps"][2]["outputs"] == result["outputs"]


def test_choices_override_carried_values(chain: rt.LoadedModel) -> None:
    result = chain.run_chain({"topic": "dogs", "count": 2},
                             {"draft": {"ideas": {"selected": [1]}},
                              "publish": {"draft": "my own words", "count": 9}})
    assert result["outputs"] == {"final": "MY OWN WORDS", "seen": {"note": "2 ideas about dogs", "count": 9}}


def test_step_by_step_matches_the_chain(chain: rt.LoadedModel) -> None:
    first = chain.run("brainstorm", {"topic": "cats"})
    carried = {"topic": "cats", "count": 3, **first}  # a run's recorded inputs include defaults
    manifest_steps = chain.model.manifest()["steps"]
    second_inputs = fill_inputs(manifest_steps[1], carried, {"ideas": {"selected": [2, 0]}})
    assert second_inputs == {"ideas": {"options": ["cats 0", "cats 1", "cats 2"], "multiple": True,
                                       "selected": [2, 0]}}
    second = chain.run("draft", second_inputs)
    # a step can also be called alone with the full value
    assert chain.run("draft", {"ideas": {"options": ["x", "y"], "selected": [1]}}) == {"draft": "y"}
    carried.update(second_inputs)
    carried.update(second)
    third = chain.run("publish", fill_inputs(manifest_steps[2], carried, {}))
    assert third == chain.run_chain({"topic": "cats"}, {"draft": {"ideas": {"selected": [2, 0]}}})["outputs"]


def test_chain_errors_name_the_step(chain: rt.LoadedModel) -> None:
    with pytest.raises(InvalidInput, match=r"step 'draft': input 'ideas' needs a choice") as e:
        chain.run_chain({"topic": "cats"})
    assert e.value.field == "ideas"
    with pytest.raises(InvalidInput, match=r"step 'brainstorm': input 'topic' is required"):
        chain.run_chain({}, {})
    with pytest.raises(InvalidInput, match="unknown step\\(s\\): 'nope'") as e:
        chain.run_chain({"topic": "x"}, {"nope": {}})
    assert e.value.field == "choices"
    with pytest.raises(rt.StepError, match="RuntimeError: refused to publish") as failed:
        chain.run_chain({"topic": "x"}, {"draft": {"ideas": {"selected": [0]}},
                                         "publish": {"draft": "explode"}})
    assert failed.value.step == "publish" and "in publish" in failed.value.traceback


def test_fill_inputs_rule() -> None:
    step = {"inputs": [{"name": "regions", "kind": "image_regions"},
                       {"name": "names", "kind": "pick_list"},
                       {"name": "text", "kind": "editable_text"},
                       {"name": "photo", "kind": "image"},
                       {"name": "threshold", "kind": "number"}]}
    carried = {"regions": {"image": {"url": "feather:files/1"}, "regions": [{"box": [0, 0, 1, 1]}]},
               "names": {"options": ["a", "b"], "multiple": False},
               "text": "as shown", "photo": {"url": "feather:files/2", "path": "/old/x.png"},
               "unrelated": 5}
    given = {"regions": {"selected": [0]}, "text": "edited",
             "photo": {"url": "data:image/png;base64,AAAA"}, "typo": 1}
    filled = fill_inputs(step, carried, given)
    assert filled == {
        "regions": {**carried["regions"], "selected": [0]},  # merged
        "names": carried["names"],  # carried as is: the step will ask for a choice
        "text": "edited",  # the choice alone
        "photo": {"url": "data:image/png;base64,AAAA"},  # replaced whole, the stale path is gone
        "typo": 1,  # kept so that validation reports it
    }
    assert "threshold" not in filled and "unrelated" not in filled  # defaults apply
    assert fill_inputs(step, {}, {"names": {"selected": [1]}}) == {"names": {"selected": [1]}}
    assert fill_inputs({"inputs": []}, carried, {}) == {}


DEFINITION_CASES = {
    "interactive output not taken": ('''
import feather as ft
model = ft.Model("m")
@model.step(inputs=[], outputs=[ft.PickList("names")])
def one():
    return ["a"]
@model.step(inputs=[ft.Text("other")], outputs=[ft.Text("out")])
def two(other):
    return other
''', 6, "step 'two' must take an input 'names' (PickList): step 'one' returns it as an interactive output"),
    "wrong kind": ('''
import feather as ft
model = ft.Model("m")
@model.step(inputs=[], outputs=[ft.ImageRegions("regions")])
def one():
    return None
@model.step(inputs=[ft.PickList("regions")],
            outputs=[ft.Text("out")])
def two(regions):
    return ""
''', 6, "input 'regions' is PickList, but step 'one' returns it as ImageRegions"),
    "last step interactive": ('''
import feather as ft
model = ft.Model("m")
@model.step(inputs=[], outputs=[ft.Text("a")])
def one():
    return ""

@model.step(inputs=[], outputs=[ft.EditableText("draft")])
def two():
    return ""
''', 7, "step 'two' returns interactive output(s) draft but no step follows"),
    "Step objects": ('''
import feather as ft
def one():
    return [""]
def two(x):
    return x
model = ft.Model("m", steps=[
    ft.Step(one, outputs=[ft.PickList("names")]),
    ft.Step(two, inputs=[ft.Text("x")], outputs=[ft.Text("y")]),
])
''', 8, "step 'two' must take an input 'names'"),
}


@pytest.mark.parametrize("case", sorted(DEFINITION_CASES))
def test_chain_definition_errors_name_file_and_line(case: str, write_app: Callable[..., Path],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    source, line, message = DEFINITION_CASES[case]
    app = write_app(source)
    monkeypatch.chdir(app.parent)
    with pytest.raises(DefinitionError) as e:
        load_model(app)
    assert str(e.value).startswith(f"app.py:{line}: "), str(e.value)
    assert message in str(e.value)
