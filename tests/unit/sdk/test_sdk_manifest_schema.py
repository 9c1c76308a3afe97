"""The published manifest JSON Schema, and exact snapshots of every example's manifest (and of
the test apps in ``apps/``). The portal's tests render these manifests: its fixtures are the
snapshots, written together with them.

Rewrite the snapshots and the portal's fixtures after an intended change with:
    FEATHER_UPDATE_SNAPSHOTS=1 python -m pytest tests/unit/sdk/test_sdk_manifest_schema.py
"""
from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import feather
import jsonschema
import pytest
from feather._components import Component
from feather._manifest import MANIFEST_SCHEMA_PATH, load_model, manifest_schema
from sdk_fake_platform import EXAMPLES

SNAPSHOTS = Path(__file__).parent / "snapshots"
PORTAL_FIXTURES = Path(__file__).resolve().parents[3] / "portal" / "src" / "test" / "fixtures"
APPS = {p.parent.name: p for p in sorted([*EXAMPLES.glob("*/app.py"), *(Path(__file__).parent / "apps").glob("*/app.py")])}
EXAMPLE_NAMES = sorted(APPS)
# the manifests the portal's tests render
PORTAL_NAMES = ["all-kinds", "digits", "hello", "iris-table", "pick-digit"]
VALIDATOR = jsonschema.Draft202012Validator(manifest_schema())


def test_schema_ships_inside_the_package_and_is_valid() -> None:
    assert Path(MANIFEST_SCHEMA_PATH).parent == Path(feather.__file__).parent
    schema = manifest_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["manifest_version"] == {"const": 1}


def test_schema_knows_every_component_kind() -> None:
    defs = manifest_schema()["$defs"]
    kinds = set(defs["input"]["properties"]["kind"]["enum"]) | set(defs["output"]["properties"]["kind"]["enum"])
    assert kinds == set(Component.registry)
    for kind, cls in Component.registry.items():
        assert f"props_{kind}" in defs
        assert (kind in defs["input"]["properties"]["kind"]["enum"]) == cls.can_input, kind
        assert (kind in defs["output"]["properties"]["kind"]["enum"]) == cls.can_output, kind


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_example_manifest_validates_and_matches_its_snapshot(example: str) -> None:
    manifest = load_model(APPS[example]).manifest()
    VALIDATOR.validate(manifest)
    for step in manifest["steps"]:
        jsonschema.Draft202012Validator.check_schema(step["input_schema"])
    shown = {**manifest, "python": "<python>"}  # the interpreter running the tests varies
    path = SNAPSHOTS / f"{example}.json"
    text = json.dumps(shown, indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("FEATHER_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"no snapshot for {example}: run with FEATHER_UPDATE_SNAPSHOTS=1"
    assert path.read_text(encoding="utf-8") == text, (
        f"{example}'s manifest changed; if intended, rerun with FEATHER_UPDATE_SNAPSHOTS=1")


@pytest.mark.parametrize("name", PORTAL_NAMES)
def test_the_portals_fixtures_are_the_sdks_snapshots(name: str) -> None:
    snapshot, fixture = SNAPSHOTS / f"{name}.json", PORTAL_FIXTURES / f"{name}.json"
    if os.environ.get("FEATHER_UPDATE_SNAPSHOTS") == "1":
        fixture.write_bytes(snapshot.read_bytes())
    assert fixture.read_bytes() == snapshot.read_bytes(), (
        f"portal/src/test/fixtures/{name}.json differs from the SDK's snapshot; "
        "rerun with FEATHER_UPDATE_SNAPSHOTS=1 to write it")


def test_no_snapshot_is_left_over() -> None:
    assert sorted(p.stem for p in SNAPSHOTS.glob("*.json")) == EXAMPLE_NAMES


EVERYTHING = '''
import feather as ft

model = ft.Model("everything", description="Every component kind")

@model.step(
    inputs=[ft.Text("text", multiline=True, max_length=9, default="x"), ft.Number("number", minimum=0),
            ft.Slider("slider", 0, 1, 0.1), ft.Checkbox("checkbox"), ft.Choice("choice", ["a", "b"]),
            ft.MultiChoice("multi", ["a", "b"], max_selected=1), ft.Image("image", max_size=99),
            ft.Audio("audio"), ft.File("file", accept=[".csv"]),
            ft.Table("table", columns={"a": "number"}), ft.PickList("pick"),
            ft.EditableText("edit")],
    outputs=[ft.Text("o_text"), ft.Markdown("o_markdown"), ft.Number("o_number"), ft.Label("o_label", top_k=2),
             ft.JSON("o_json"), ft.Image("o_image"), ft.Audio("o_audio"), ft.File("o_file", filename="a.txt"),
             ft.Table("o_table", columns=["x"]), ft.Gallery("o_gallery"), ft.ImageRegions("regions")])
def first(text, number, slider, checkbox, choice, multi, image, audio, file, table, pick, edit):
    return None

@model.step(inputs=[ft.ImageRegions("regions", multiple=False)],
            outputs=[ft.PickList("names", multiple=True, max_selected=3)])
def second(regions):
    return []

@model.step(inputs=[ft.PickList("names", multiple=True)], outputs=[ft.EditableText("final")])
def third(names):
    return ""

@model.step(inputs=[ft.EditableText("final")], outputs=[ft.Text("done")])
def fourth(final):
    return final
'''


def test_a_manifest_with_every_kind_validates(write_app: Callable[..., Path]) -> None:
    manifest = load_model(write_app(EVERYTHING)).manifest()
    VALIDATOR.validate(manifest)
    kinds = {c["kind"] for s in manifest["steps"] for c in s["inputs"] + s["outputs"]}
    assert kinds == set(Component.registry)
    assert [s["interactive"] for s in manifest["steps"]] == [["regions"], ["names"], ["final"], []]


def mutated(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    manifest = copy.deepcopy(load_model(EXAMPLES / "hello" / "app.py").manifest())
    change(manifest)
    return manifest


@pytest.mark.parametrize(("change", "reason"), [
    (lambda m: m["steps"][0]["inputs"][0]["props"].update(max_len=3), "Additional properties"),
    (lambda m: m["steps"][0].pop("interactive"), "'interactive' is a required property"),
    (lambda m: m["steps"][0]["outputs"][0].update(kind="hologram"), "'hologram' is not one of"),
    (lambda m: m.update(manifest_version=2), "1 was expected"),
    (lambda m: m["steps"][0].update(outputs=[]), "should be non-empty"),
    (lambda m: m["steps"][0]["inputs"][0].update(kind="slider", props={"minimum": 0}),
     "'maximum' is a required property"),
])
def test_schema_rejects_wrong_manifests(change: Callable[[dict[str, Any]], None], reason: str) -> None:
    errors = [e.message for e in VALIDATOR.iter_errors(mutated(change))]
    assert any(reason in e for e in errors), errors
