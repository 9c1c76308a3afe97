"""Slider, Checkbox, Choice, MultiChoice, Markdown, EditableText; rebuilding from manifests."""
from __future__ import annotations

from typing import Any

import feather as ft
import jsonschema
import numpy as np
import pytest
from feather import DefinitionError, InvalidInput
from feather._components import Component, component_from_manifest, prepare_inputs
from feather._manifest import input_entry, output_entry


def test_slider_bounds_step_and_default() -> None:
    s = ft.Slider("age", 0, 120, 1)
    assert (s.kind, s.default, s.required) == ("slider", 0, False)  # starts at the minimum
    assert s.props == {"minimum": 0, "maximum": 120, "step": 1}
    assert s.json_schema() == {"type": "integer", "minimum": 0, "maximum": 120}
    assert s.decode(30) == 30 and isinstance(s.decode(30.0), int)
    with pytest.raises(InvalidInput, match=r"^input 'age' must be at most 120, got 130$") as e:
        s.validate(130)
    assert e.value.field == "age"
    with pytest.raises(InvalidInput, match="must be at least 0, got -1"):
        s.decode(-1)


def test_slider_with_fractional_step_checks_the_grid() -> None:
    s = ft.Slider("temperature", minimum=0.1, maximum=2.0, step=0.3, default=0.7)
    assert s.json_schema()["type"] == "number" and s.default == 0.7
    assert s.decode(1.9) == 1.9  # 0.1 + 6 * 0.3, despite floating point
    with pytest.raises(InvalidInput, match=r"must be 0.1 plus a multiple of 0.3, got 0.5"):
        s.validate(0.5)


def test_checkbox() -> None:
    c = ft.Checkbox("shout")
    assert (c.kind, c.default, c.required, c.props) == ("checkbox", False, False, {})
    assert c.json_schema() == {"type": "boolean"}
    assert c.decode(True) is True
    with pytest.raises(InvalidInput, match="input 'shout' must be true or false, got a number"):
        c.validate(1)


def test_choice() -> None:
    c = ft.Choice("size", ["small", "large"], "small")
    assert c.props == {"options": ["small", "large"]} and c.json_schema() == {"enum": ["small", "large"]}
    assert c.decode("large") == "large" and c.required is False
    with pytest.raises(InvalidInput, match="must be one of 'small', 'large'; got 'medium'"):
        c.validate("medium")
    numbers = ft.Choice("k", [1, 3, 5])
    assert numbers.required is True and numbers.decode(3) == 3
    with pytest.raises(InvalidInput, match="must be one of"):
        numbers.validate(True)  # True == 1 in Python, but not on the wire
    with pytest.raises(InvalidInput, match="must be one of"):
        numbers.validate("3")


def test_multichoice() -> None:
    m = ft.MultiChoice("toppings", ["ham", "egg", "kale"], max_selected=2)
    assert (m.default, m.required) == ([], False)
    assert m.props == {"options": ["ham", "egg", "kale"], "max_selected": 2}
    schema = m.json_schema()
    assert schema == {"type": "array", "items": {"enum": ["ham", "egg", "kale"]},
                      "uniqueItems": True, "maxItems": 2}
    assert m.decode(["egg", "ham"]) == ["egg", "ham"]
    jsonschema.validate(["egg"], schema)
    for bad, message in ((["egg", "egg"], "lists an option twice"),
                         (["ham", "egg", "kale"], "allows at most 2 selected, got 3"),
                         (["spam"], "must be one of"), ("egg", "must be a list of options")):
        with pytest.raises(InvalidInput, match=message):
            m.validate(bad)
    assert ft.MultiChoice("x", ["a"], min_selected=1).required is True


def test_markdown_and_editable_text() -> None:
    md = ft.Markdown("report")
    assert (md.kind, md.can_input, md.encode("# hi")) == ("markdown", False, "# hi")
    e = ft.EditableText("caption", multiline=True, max_length=5)
    assert (e.kind, e.interactive, e.can_input, e.can_output) == ("editable_text", True, True, True)
    assert e.encode("hello") == "hello" and e.decode("hi") == "hi"
    with pytest.raises(InvalidInput, match="at most 5 characters, got 6"):
        e.validate("edited")


@pytest.mark.parametrize(("make", "message"), [
    (lambda: ft.Slider("s", 5, 1), "minimum 5 is above maximum 1"),
    (lambda: ft.Slider("s", 0, 10, 0), "step must be above 0"),
    (lambda: ft.Slider("s", 0, 10, 1, default=11), "default of 's' is invalid"),
    (lambda: ft.Checkbox("c", default="yes"), "default must be True or False"),
    (lambda: ft.Choice("c", []), "options must be a non-empty list"),
    (lambda: ft.Choice("c", "abc"), "options must be a non-empty list"),
    (lambda: ft.Choice("c", ["a", "a"]), "options contain duplicates"),
    (lambda: ft.Choice("c", [None]), "options must be strings or numbers"),
    (lambda: ft.Choice("c", ["a"], default="b"), "default of 'c' is invalid"),
    (lambda: ft.MultiChoice("m", ["a"], min_selected=2, max_selected=1), "min_selected 2 is above"),
    (lambda: ft.MultiChoice("m", ["a"], default=["z"]), "default of 'm' is invalid"),
])
def test_definition_errors_point_at_the_caller(make: Any, message: str) -> None:
    with pytest.raises(DefinitionError, match=message) as e:
        make()
    assert e.value.file == __file__ and e.value.line is not None


def every_component() -> list[Component]:
    return [
        ft.Text("text", min_length=1, max_length=9, placeholder="p", multiline=True, default="hi"),
        ft.Number("number", minimum=0, maximum=5, step=0.5, default=1),
        ft.Number("whole", integer=True),
        ft.Slider("slider", 0, 10, 2, default=4), ft.Checkbox("checkbox", True),
        ft.Choice("choice", ["a", 2]), ft.MultiChoice("multi", ["a", "b"], ["a"], min_selected=1),
        ft.Image("image", max_size=1000, accept=["image/png"]), ft.Audio("audio", accept=[".wav"]),
        ft.File("file", accept=[".csv"], max_size=10, filename="out.csv"),
        ft.Table("table", columns={"a": "number", "b": "string"}, min_rows=1, max_rows=3),
        ft.Table("loose"), ft.PickList("pick", multiple=True, min_selected=0, max_selected=2),
        ft.ImageRegions("regions", multiple=False), ft.EditableText("edit", max_length=3),
        ft.Markdown("markdown"), ft.Label("label", top_k=2), ft.JSON("json"), ft.Gallery("gallery"),
    ]


def test_every_kind_is_registered_and_rebuilds_from_its_manifest_entry() -> None:
    seen = set()
    for c in every_component():
        seen.add(c.kind)
        entry = input_entry(c) if c.can_input else output_entry(c)
        rebuilt = component_from_manifest(entry)
        assert type(rebuilt) is type(c) and rebuilt.props == c.props, c
        assert rebuilt.json_schema() == c.json_schema() and rebuilt.default == c.default_wire()
        assert rebuilt.output_schema() == c.output_schema()
        jsonschema.Draft202012Validator.check_schema(c.json_schema())
        jsonschema.Draft202012Validator.check_schema(c.output_schema())
    assert seen == set(Component.registry)
    with pytest.raises(ValueError, match="unknown component kind 'hologram'"):
        component_from_manifest({"name": "x", "kind": "hologram"})


def test_prepare_inputs_validates_and_converts_by_manifest() -> None:
    step = {"inputs": [input_entry(ft.Slider("age", 0, 120)),
                       input_entry(ft.Image("photo")),
                       {"name": "future", "kind": "hologram", "props": {}}]}
    wire = prepare_inputs(step, {"age": np.int64(30), "photo": b"\x89PNG\r\n\x1a\nrest",
                                 "future": {"anything": 1}})
    assert wire["age"] == 30 and type(wire["age"]) is int
    assert wire["photo"]["url"].startswith("data:image/png;base64,")
    assert wire["future"] == {"anything": 1}  # a newer kind passes through to the server
    with pytest.raises(InvalidInput, match="input 'age' must be at most 120, got 130"):
        prepare_inputs(step, {"age": 130})
    with pytest.raises(InvalidInput, match="unknown input 'agee'") as e:
        prepare_inputs(step, {"agee": 1})
    assert e.value.field == "agee"


def test_to_wire_of_plain_values_makes_strict_json() -> None:
    t = ft.Table("t")
    assert ft.Number("n").to_wire(np.float32(0.5)) == 0.5
    assert ft.MultiChoice("m", ["a", "b"]).to_wire(("a", "b")) == ["a", "b"]
    with pytest.raises(InvalidInput, match="input 'n' must be a finite number, got nan"):
        ft.Number("n").validate(float("nan"))
    with pytest.raises(InvalidInput, match="input 't'"):
        t.validate(object())
