"""Each definition mistake raises DefinitionError naming app.py and the offending line."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from feather import DefinitionError
from feather._manifest import load_model

HEAD = "import feather as ft\nmodel = ft.Model('m')\n"  # lines 1-2 of most cases below

CASES = {
    "no outputs": (HEAD + "@model.step(inputs=[ft.Text('a')])\ndef f(a):\n    return a\n",
                   3, "step 'f' has no outputs"),
    "unknown component": (HEAD + "@model.step(inputs=['a'], outputs=[ft.Text('b')])\n"
                          "def f(a):\n    return a\n",
                          3, "inputs contains 'a', which is not a feather component"),
    "outputs not a list": (HEAD + "@model.step(inputs=[], outputs=ft.Text('b'))\n"
                           "def f():\n    return 'x'\n", 3, "outputs must be a list"),
    "json as input": (HEAD + "@model.step(inputs=[ft.JSON('a')], outputs=[ft.Text('b')])\n"
                      "def f(a):\n    return a\n", 3, "JSON cannot be used in inputs"),
    "duplicate inputs": (HEAD + "\n@model.step(inputs=[ft.Text('a'), ft.Text('a')],\n"
                         "            outputs=[ft.Text('b')])\ndef f(a):\n    return a\n",
                         4, "duplicate input name 'a'"),
    "duplicate outputs": (HEAD + "@model.step(inputs=[], outputs=[ft.Text('b'), ft.JSON('b')])\n"
                          "def f():\n    return 1, 2\n", 3, "duplicate output name 'b'"),
    "duplicate steps": (HEAD + "@model.step(inputs=[], outputs=[ft.Text('b')])\n"
                        "def f():\n    return ''\n"
                        "@model.step(inputs=[], outputs=[ft.Text('b')], name='f')\n"
                        "def g():\n    return ''\n", 6, "duplicate step name 'f'"),
    "missing parameter": (HEAD + "@model.step(inputs=[ft.Text('a'), ft.Text('b')],"
                          " outputs=[ft.Text('c')])\ndef f(a):\n    return a\n",
                          3, "input(s) b have no parameter"),
    "extra parameter": (HEAD + "@model.step(inputs=[ft.Text('a')], outputs=[ft.Text('c')])\n"
                        "def f(a, b, context):\n    return a\n",
                        3, "parameter(s) b match no input"),
    "positional only": (HEAD + "@model.step(inputs=[ft.Text('a')], outputs=[ft.Text('c')])\n"
                        "def f(a, /):\n    return a\n", 3, "cannot be passed by name"),
    "Step object": ("import feather as ft\n\ndef f(a):\n    return a\n\n"
                    "model = ft.Model('m', steps=[\n    ft.Step(f, inputs=[ft.Text('a')], "
                    "outputs=[])])\n", 7, "step 'f' has no outputs"),
    "bad model name": ("import feather as ft\n\nmodel = ft.Model('Hello_World')\n",
                       3, "model name 'Hello_World' is invalid"),
    "model name too long": ("import feather as ft\nmodel = ft.Model('a' * 65)\n", 2,
                            "is invalid"),
    "two models": ("import feather as ft\na = ft.Model('one')\n\nb = ft.Model('two')\n",
                   4, "a second Model 'two' is defined (the first, 'one', is at line 2)"),
    "no steps": ("import feather as ft\n\nmodel = ft.Model('empty')\n", 3, "has no steps"),
    "file outside": ("import feather as ft\nmodel = ft.Model('m', files=['../secret'])\n",
                     2, "must be a path inside the app folder"),
    "syntax error": ("import feather as ft\nmodel = ft.Model('m')\ndef f(:\n", 3, "syntax error"),
    "import error": ("import feather as ft\nimport no_such_module_xyz\n", 2,
                     "importing the app failed: ModuleNotFoundError"),
    "component error": ("import feather as ft\nmodel = ft.Model('m')\n"
                        "@model.step(inputs=[ft.Text('a', max_length=-1)], outputs=[])\n"
                        "def f(a):\n    return a\n", 3, "max_length must be a non-negative int"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_definition_error_names_file_and_line(case: str,
                                              write_app: Callable[..., Path],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    source, line, message = CASES[case]
    app = write_app(source)
    monkeypatch.chdir(app.parent)  # messages show paths relative to the working directory
    with pytest.raises(DefinitionError) as e:
        load_model(app)
    assert str(e.value).startswith(f"app.py:{line}: "), str(e.value)
    assert message in str(e.value)
    assert e.value.line == line


def test_no_model_names_the_file(write_app: Callable[..., Path]) -> None:
    app = write_app("import feather as ft\nx = 1\n")
    with pytest.raises(DefinitionError, match="no feather Model found") as e:
        load_model(app)
    assert str(app) in str(e.value) or "app.py" in str(e.value)
    assert e.value.file == str(app)


def test_missing_app_file(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="no such file"):
        load_model(tmp_path / "nope.py")


def test_requirements_file_rejects_pip_options(write_app: Callable[..., Path],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    app = write_app(HEAD + "@model.step(inputs=[], outputs=[ft.Text('b')])\n"
                    "def f():\n    return ''\n",
                    **{"requirements.txt": "numpy\n-r other.txt\n"})
    monkeypatch.chdir(app.parent)
    with pytest.raises(DefinitionError, match=r"^requirements.txt:2: pip options"):
        load_model(app)


def test_context_parameter_is_not_an_input(write_app: Callable[..., Path]) -> None:
    app = write_app(HEAD + "@model.step(inputs=[ft.Text('a')], outputs=[ft.Text('b')])\n"
                    "def f(a, context):\n    return a\n")
    step = load_model(app).steps[0]
    assert step.wants_context is True


def test_examples_must_fit_the_first_step(tmp_path):
    import pytest
    from feather import DefinitionError
    from feather._manifest import load_model

    app = tmp_path / "app.py"
    app.write_text("import feather as ft\n"
                   "model = ft.Model('ex', examples=[{'name': 'ok'}, {'nmae': 'typo'}])\n"
                   "@model.step(inputs=[ft.Text('name')], outputs=[ft.Text('out')])\n"
                   "def f(name):\n    return name\n")
    with pytest.raises(DefinitionError, match="example 2 names 'nmae'"):
        load_model(app).manifest()
    app.write_text("import feather as ft\n"
                   "model = ft.Model('ex', examples=[{'n': 'x' * 9}])\n"
                   "@model.step(inputs=[ft.Text('n', max_length=3)], outputs=[ft.Text('out')])\n"
                   "def f(n):\n    return n\n")
    with pytest.raises(DefinitionError, match="example 1"):
        load_model(app).manifest()
