"""Components: props, JSON Schema, encode/decode and their error messages."""
from __future__ import annotations

import math

import feather as ft
import jsonschema
import pytest
from feather import DefinitionError, InvalidInput


def test_text_defaults_and_schema() -> None:
    t = ft.Text("user_name")
    assert (t.name, t.kind, t.label, t.description, t.default) == (
        "user_name", "text", "User name", None, None)
    assert t.required is True
    assert t.props == {}
    assert t.json_schema() == {"type": "string"}


def test_text_props_are_kept_apart_from_the_schema() -> None:
    t = ft.Text("prompt", label="Prompt", description="What to say", default="hi",
                min_length=1, max_length=10, placeholder="Type...", multiline=True)
    assert t.props == {"min_length": 1, "max_length": 10, "placeholder": "Type...",
                       "multiline": True}
    assert t.json_schema() == {"type": "string", "minLength": 1, "maxLength": 10}
    assert t.required is False and t.default == "hi"


def test_text_decode_validates() -> None:
    t = ft.Text("name", min_length=2, max_length=3)
    assert t.decode("abc") == "abc"
    with pytest.raises(InvalidInput, match="input 'name' must be a string, got a number") as e:
        t.decode(5)
    assert e.value.field == "name"
    with pytest.raises(InvalidInput, match="at least 2 characters"):
        t.decode("a")
    with pytest.raises(InvalidInput, match="at most 3 characters"):
        t.decode("abcd")


def test_text_encode_rejects_non_strings_naming_the_output() -> None:
    t = ft.Text("greeting")
    assert t.encode("hi") == "hi"
    with pytest.raises(TypeError, match=r"output 'greeting' \(text\) expects a str, got int"):
        t.encode(42)


def test_number_schema_props_and_decode() -> None:
    n = ft.Number("steps", minimum=1, maximum=50, step=1, integer=True, default=20)
    assert n.kind == "number" and n.required is False
    assert n.props == {"minimum": 1, "maximum": 50, "step": 1, "integer": True}
    assert n.json_schema() == {"type": "integer", "minimum": 1, "maximum": 50}
    assert n.decode(3) == 3 and isinstance(n.decode(3.0), int)
    with pytest.raises(InvalidInput, match="must be an integer"):
        n.decode(2.5)
    with pytest.raises(InvalidInput, match="at least 1"):
        n.decode(0)
    with pytest.raises(InvalidInput, match="at most 50"):
        n.decode(51)
    with pytest.raises(InvalidInput, match="must be a number, got a boolean"):
        n.decode(True)
    with pytest.raises(InvalidInput, match="must be a number, got a string"):
        n.decode("3")


def test_number_float_and_encode() -> None:
    n = ft.Number("temperature", minimum=0.0, maximum=2.0)
    assert n.props == {"minimum": 0.0, "maximum": 2.0}
    assert n.json_schema() == {"type": "number", "minimum": 0.0, "maximum": 2.0}
    assert n.decode(0.5) == 0.5
    assert n.encode(1) == 1 and n.encode(0.25) == 0.25
    with pytest.raises(TypeError, match="output 'temperature'"):
        n.encode(math.nan)
    with pytest.raises(TypeError, match="output 'temperature'"):
        n.encode("1")


def test_json_output_accepts_any_json_value() -> None:
    j = ft.JSON("result")
    assert j.kind == "json" and j.json_schema() == {} and j.props == {}
    assert j.encode({"a": (1, 2), "b": None}) == {"a": [1, 2], "b": None}
    assert j.encode("plain") == "plain"
    with pytest.raises(TypeError, match="output 'result' \\(json\\) is not JSON-serializable"):
        j.encode({"a": object()})
    with pytest.raises(TypeError, match="output 'result'"):
        j.encode(float("inf"))


def test_label_from_probabilities_sorted_and_truncated() -> None:
    lab = ft.Label("animal", top_k=2)
    assert lab.props == {"top_k": 2}
    out = lab.encode({"cat": 0.2, "dog": 0.7, "cow": 0.1})
    assert out == {"label": "dog", "confidences": [{"label": "dog", "confidence": 0.7},
                                                   {"label": "cat", "confidence": 0.2}]}
    jsonschema.validate(out, lab.json_schema())


def test_label_from_str_and_full_shape() -> None:
    lab = ft.Label("animal")
    assert lab.encode("dog") == {"label": "dog", "confidences": []}
    full = {"label": "cat", "confidences": [{"label": "dog", "confidence": 0.1},
                                            {"label": "cat", "confidence": 0.9}]}
    assert lab.encode(full) == {"label": "cat", "confidences": [
        {"label": "cat", "confidence": 0.9}, {"label": "dog", "confidence": 0.1}]}
    jsonschema.validate(lab.encode(full), lab.json_schema())


@pytest.mark.parametrize("bad", [3, {}, {"cat": "high"}, {"cat": math.nan}, [("cat", 1.0)]])
def test_label_rejects_wrong_values(bad: object) -> None:
    with pytest.raises(TypeError, match="output 'animal' \\(label\\)"):
        ft.Label("animal").encode(bad)


def test_schemas_are_valid_json_schema() -> None:
    for c in (ft.Text("a", max_length=3), ft.Number("b", integer=True), ft.JSON("c"),
              ft.Label("d", top_k=3)):
        jsonschema.Draft202012Validator.check_schema(c.json_schema())


def test_component_definition_errors_point_at_the_caller_line() -> None:
    cases = [
        (lambda: ft.Text("bad name"), "name must be a Python identifier"),
        (lambda: ft.Text("t", min_length=5, max_length=2), "min_length 5 is above max_length 2"),
        (lambda: ft.Text("t", max_length=-1), "max_length must be a non-negative int"),
        (lambda: ft.Text("t", default=3), "default of 't' is invalid"),
        (lambda: ft.Number("n", minimum=3, maximum=1), "minimum 3 is above maximum 1"),
        (lambda: ft.Number("n", integer=True, default=1.5), "default of 'n' is invalid"),
        (lambda: ft.Label("l", top_k=0), "top_k must be a positive int"),
    ]
    for make, message in cases:
        with pytest.raises(DefinitionError, match=message) as e:
            make()
        line = make.__code__.co_firstlineno  # type: ignore[attr-defined]
        assert (e.value.file, e.value.line) == (__file__, line)
        assert f"test_sdk_components.py:{line}: " in str(e.value)
