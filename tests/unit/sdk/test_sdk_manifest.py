"""Manifests derived from app.py without running any step."""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import jsonschema
from feather._manifest import load_model
from sdk_fake_platform import EXAMPLES

PY = f"{sys.version_info.major}.{sys.version_info.minor}"


def test_hello_manifest() -> None:
    assert load_model(EXAMPLES / "hello" / "app.py").manifest() == {
        "manifest_version": 1, "name": "hello", "description": "Greets whoever you name.",
        "sdk_version": "0.1.0", "python": PY, "requirements": [], "files": [], "has_load": False,
        "steps": [{
            "name": "greet", "description": "Say hello.",
            "inputs": [{"name": "name", "kind": "text", "label": "Your name", "description": None,
                        "required": True, "default": None, "props": {"max_length": 100},
                        "schema": {"type": "string", "maxLength": 100}}],
            "outputs": [{"name": "greeting", "kind": "text", "label": "Greeting", "description": None,
                         "props": {}, "schema": {"type": "string"}}],
            "input_schema": {"type": "object",
                             "properties": {"name": {"type": "string", "maxLength": 100}},
                             "required": ["name"], "additionalProperties": False},
            "interactive": [],
        }],
        "examples": [{"name": "World"}, {"name": "Ada Lovelace"}],
    }


def test_echo_manifest() -> None:
    manifest = load_model(EXAMPLES / "echo").manifest()  # the folder works as well as app.py
    assert manifest["name"] == "echo"
    assert manifest["steps"] == [{
        "name": "echo", "description": "Return the text as given.",
        "inputs": [{"name": "text", "kind": "text", "label": "Text", "description": None,
                    "required": True, "default": None, "props": {}, "schema": {"type": "string"}}],
        "outputs": [{"name": "text", "kind": "text", "label": "Text", "description": None,
                     "props": {}, "schema": {"type": "string"}}],
        "input_schema": {"type": "object", "properties": {"text": {"type": "string"}},
                         "required": ["text"], "additionalProperties": False},
        "interactive": [],
    }]


def test_examples_are_short() -> None:
    assert len((EXAMPLES / "hello" / "app.py").read_text().splitlines()) < 15


def test_full_model_form_with_requirements_file_and_load(write_app: Callable[..., Path]) -> None:
    app = write_app('''
        import feather as ft
        CALLS = []

        def load():
            CALLS.append("load")
            return {"bias": 1}

        def classify(text: str, steps: int, context) -> tuple:
            CALLS.append("classify")
            return {"cat": 0.9}, {"n": steps}

        model = ft.Model(
            "classifier-2", description="Demo", load=load,
            requirements=["numpy>=2"], files=["weights.npz"],
            steps=[ft.Step(classify,
                           inputs=[ft.Text("text", multiline=True),
                                   ft.Number("steps", integer=True, minimum=1, default=4)],
                           outputs=[ft.Label("label", top_k=3), ft.JSON("debug")])])
        ''', **{"requirements.txt": "# pinned\nnumpy>=2\nscipy==1.14  # solver\n\n",
                "weights.npz": "x"})
    model = load_model(app)
    manifest = model.manifest()
    assert manifest["requirements"] == ["numpy>=2", "scipy==1.14"]
    assert manifest["files"] == ["weights.npz"]
    assert manifest["has_load"] is True
    step = manifest["steps"][0]
    assert step["name"] == "classify" and step["description"] is None
    assert [i["name"] for i in step["inputs"]] == ["text", "steps"]
    steps_input = step["inputs"][1]
    assert steps_input["required"] is False and steps_input["default"] == 4
    assert steps_input["props"] == {"minimum": 1, "integer": True}
    assert step["inputs"][0]["props"] == {"multiline": True}
    assert step["input_schema"]["required"] == ["text"]
    assert [o["kind"] for o in step["outputs"]] == ["label", "json"]
    jsonschema.Draft202012Validator.check_schema(step["input_schema"])
    jsonschema.validate({"text": "hi", "steps": 3}, step["input_schema"])


def test_loading_a_manifest_runs_no_step_and_no_load(write_app: Callable[..., Path]) -> None:
    app = write_app('''
        import feather as ft
        def load():
            raise RuntimeError("load must not run")
        model = ft.Model("quiet", load=load)
        @model.step(inputs=[ft.Text("a")], outputs=[ft.Text("b")])
        def f(a):
            raise RuntimeError("step must not run")
        ''')
    assert load_model(app).manifest()["steps"][0]["name"] == "f"


def test_app_can_import_its_sibling_modules(write_app: Callable[..., Path]) -> None:
    app = write_app('''
        import feather as ft
        from helpers_for_app import shout
        model = ft.Model("sibling")
        @model.step(inputs=[ft.Text("a")], outputs=[ft.Text("b")])
        def f(a):
            return shout(a)
        ''', **{"helpers_for_app.py": "def shout(s):\n    return s.upper()\n"})
    assert load_model(app).steps[0].fn("x") == "X"
    assert str(app.parent) not in sys.path  # the manifest loader leaves sys.path as it was
