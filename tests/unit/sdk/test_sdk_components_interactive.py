"""PickList, ImageRegions, EditableText: output value, choice and what the next step gets."""
from __future__ import annotations

import re

import feather as ft
import jsonschema
import numpy as np
import pytest
from feather import DefinitionError, InvalidInput

RGB = np.zeros((20, 30, 3), np.uint8)


def test_picklist_output_choice_and_merge() -> None:
    p = ft.PickList("names", multiple=True, max_selected=2)
    assert (p.kind, p.interactive, p.props) == ("pick_list", True,
                                                {"multiple": True, "min_selected": 1, "max_selected": 2})
    shown = p.encode(("ann", "bo", "cy"))
    assert shown == {"options": ["ann", "bo", "cy"], "multiple": True}
    jsonschema.validate(shown, p.output_schema())
    merged = {**shown, **{"selected": [2, 0]}}
    jsonschema.validate(merged, p.json_schema())
    assert p.decode(merged) == ["cy", "ann"]
    p.validate({"selected": [1]})  # the choice alone, as sent with previous_run
    p.validate({"options": ["a"], "selected": [0]})  # or the full value, to call the step alone
    choices = [({"selected": [0, 1, 2]}, "needs at least 1 and at most 2 selected, got 3"),
               ({"selected": []}, "needs at least 1"),
               ({"selected": [1, 1]}, "lists an index twice"),
               ({"selected": ["ann"]}, "'selected' must be a list of indexes"),
               ("ann", "must be an object")]
    for value, message in choices:
        with pytest.raises(InvalidInput, match=re.escape(message)) as e:
            p.validate(value)
        assert e.value.field == "names"
    full = [({**shown, "selected": [3]}, "index out of range: there are 3 options"),
            (shown, 'needs a choice: send {"selected": [index, ...]}')]
    for value, message in full:
        with pytest.raises(InvalidInput, match=re.escape(message)):
            p.decode(value)


def test_single_picklist_needs_exactly_one() -> None:
    p = ft.PickList("name")
    assert p.props == {"multiple": False}
    assert p.json_schema()["properties"]["selected"]["maxItems"] == 1
    assert p.decode({"options": ["a", "b"], "selected": [1]}) == ["b"]
    with pytest.raises(InvalidInput, match="needs exactly one selected, got 2"):
        p.validate({"selected": [0, 1]})
    with pytest.raises(TypeError, match=r"output 'name' \(pick_list\) expects a list of option strings"):
        p.encode([1, 2])


def test_image_regions_output_choice_and_merge() -> None:
    r = ft.ImageRegions("regions")
    shown = r.encode(ft.Annotated(RGB, boxes=[ft.Box(0, 0, 10, 20, "left"), (10, 0, 30, 20)]))
    assert shown["regions"] == [{"box": [0, 0, 10, 20], "label": "left"},
                                {"box": [10, 0, 30, 20], "label": ""}]
    assert shown["image"]["url"].startswith("data:image/png")
    jsonschema.validate(shown, r.output_schema())
    assert r.encode((RGB, [(0, 0, 1, 1)]))["regions"] == r.encode({"image": RGB, "regions": [[0, 0, 1, 1]]})["regions"]
    merged = {**shown, "selected": [1]}
    jsonschema.validate(merged, r.json_schema())
    got = r.decode(merged)
    assert got["regions"] == [{"box": [10, 0, 30, 20], "label": ""}]
    assert got["image"].size == (30, 20)
    assert ft.ImageRegions("regions", format="numpy").decode(merged)["image"].shape == (20, 30, 3)
    r.validate({"selected": [0, 1]})
    with pytest.raises(InvalidInput, match="index out of range: there are 2 regions"):
        r.decode({**shown, "selected": [2]})
    with pytest.raises(InvalidInput, match="region 0: a region must be"):
        r.decode({**shown, "regions": ["oops"], "selected": [0]})
    with pytest.raises(InvalidInput, match="file was not materialized"):
        r.decode({**shown, "image": {"url": "feather:files/1"}, "selected": [0]})


def test_image_regions_to_wire_converts_the_image() -> None:
    r = ft.ImageRegions("regions", multiple=False)
    wire = r.to_wire({"image": RGB, "regions": [{"box": [0, 0, 2, 2]}], "selected": [0]})
    assert wire["image"]["content_type"] == "image/png" and wire["selected"] == [0]
    r.validate(wire)
    with pytest.raises(InvalidInput, match="needs exactly one selected"):
        r.validate({"selected": [0, 1]})
    with pytest.raises(TypeError, match=r"output 'regions' \(image_regions\) expects ft.Annotated"):
        r.encode(RGB)


def test_editable_text_choice_replaces_the_output() -> None:
    e = ft.EditableText("draft")
    assert e.encode("first try") == "first try"
    assert e.decode("edited") == "edited"
    assert e.json_schema() == e.output_schema() == {"type": "string"}


def test_selection_limits_are_definition_errors() -> None:
    with pytest.raises(DefinitionError, match="needs multiple=True"):
        ft.PickList("p", max_selected=2)
    with pytest.raises(DefinitionError, match="min_selected 3 is above max_selected 1"):
        ft.ImageRegions("r", min_selected=3, max_selected=1)
