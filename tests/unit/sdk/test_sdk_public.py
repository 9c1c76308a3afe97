"""The public surface and the import constraints of the feather package."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import feather

SDK = Path(feather.__file__).resolve().parent
EXPECTED = {"Model", "Step", "Batch", "Text", "Number", "JSON", "Label", "Client", "FeatherError",
            "DefinitionError", "NotFound", "InvalidInput", "Unauthorized", "RunFailed",
            "RunTimedOut", "BuildFailed", "__version__", "AsyncClient", "Job", "Run", "LogStream",
            "AsyncRun", "AsyncJob", "AsyncLogStream", "StreamEvent",
            "progress", "Slider", "Checkbox", "Choice", "MultiChoice", "Image", "Audio", "File",
            "Table", "Markdown", "Gallery", "Annotated", "Box", "PickList", "ImageRegions",
            "EditableText"}


def test_all_lists_exactly_the_public_names() -> None:
    assert set(feather.__all__) == EXPECTED
    assert len(feather.__all__) == len(EXPECTED)


def test_every_public_name_is_importable() -> None:
    for name in feather.__all__:
        namespace: dict[str, object] = {}
        exec(f"from feather import {name}", namespace)
        assert namespace[name] is getattr(feather, name)
    assert feather.__version__ == "0.1.0"
    for name in {"FeatherError", "DefinitionError", "NotFound", "InvalidInput", "Unauthorized",
                 "RunFailed", "RunTimedOut", "BuildFailed"}:
        assert issubclass(getattr(feather, name), feather.FeatherError)


def test_unknown_attribute_raises_attribute_error() -> None:
    try:
        feather.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_model_side_imports_need_only_the_standard_library(tmp_path: Path) -> None:
    # -S skips site-packages entirely: any import of httpx, typer, rich, pydantic... fails.
    code = (
        "import sys, feather, feather.runtime, feather.runtime.worker, feather._bundle\n"
        "import feather as ft\n"
        f"m = feather.runtime.load({str(SDK.parents[1] / 'examples/hello/app.py')!r})\n"
        "assert m.run('greet', {'name': 'x'}) == {'greeting': 'Hello, x!'}\n"
        "assert feather._bundle.pack(m.model.app_path)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] not in sys.stdlib_module_names\n"
        "             and n.split('.')[0] not in ('feather', '__main__')\n"
        "             and not n.startswith('_feather_app_'))\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SDK.parent)}
    out = subprocess.run([sys.executable, "-S", "-c", code], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_client_is_imported_lazily(tmp_path: Path) -> None:
    code = ("import sys, feather\nassert 'httpx' not in sys.modules\n"
            "feather.Client\nassert 'httpx' in sys.modules\nprint('ok')")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_client_and_async_client_offer_the_same_methods_with_the_same_signatures() -> None:
    import inspect

    def public(cls: type) -> dict[str, inspect.Signature]:
        return {name: inspect.signature(member) for name, member in vars(cls).items()
                if callable(member) and not name.startswith("_")}

    sync, asynchronous = public(feather.Client), public(feather.AsyncClient)
    assert set(sync) - {"close"} == set(asynchronous) - {"aclose"}
    twins = {"Run": "AsyncRun", "Job": "AsyncJob", "LogStream": "AsyncLogStream",
             "Iterator[StreamEvent]": "AsyncIterator[StreamEvent]"}
    for name, signature in sync.items():
        if name == "close":
            continue
        other = asynchronous[name]
        assert list(signature.parameters) == list(other.parameters), name
        for param, theirs in zip(signature.parameters.values(), other.parameters.values()):
            assert (param.kind, param.default) == (theirs.kind, theirs.default), (name, param.name)
        # what each returns is the same, or its async twin
        assert twins.get(str(signature.return_annotation), str(signature.return_annotation)) == \
            str(other.return_annotation).replace("list[AsyncRun]", "list[Run]"), name
        is_coroutine = inspect.iscoroutinefunction(getattr(feather.AsyncClient, name))
        iterated = inspect.isasyncgenfunction(getattr(feather.AsyncClient, name))
        assert is_coroutine or iterated or name == "stream_build_log", name  # a stream is iterated, not awaited


def test_the_client_modules_import_in_one_direction() -> None:
    order = ["_client_base", "_client_files", "_client_flows", "_client_run", "_client", "_async_client"]
    for rank, name in enumerate(order):
        imported = set()
        tree = ast.parse((SDK / f"{name}.py").read_text())
        for guard in [n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"]:
            tree.body.remove(guard)  # names for annotations only: no import at run time
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                imported |= {node.module} if node.module else {a.name for a in node.names}
        later = imported & set(order[rank:])
        assert not later, f"{name} imports {sorted(later)}, which come after it"


def test_sdk_never_imports_services() -> None:
    for path in SDK.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n == "services" or n.startswith("services.") for n in names), path


def test_listed_private_modules_exist() -> None:
    for name in ("_components", "_model", "_manifest", "_bundle", "_client", "_async_client", "_errors",
                 "_cli", "_config"):
        assert (SDK / f"{name}.py").is_file()
    assert (SDK / "runtime" / "__init__.py").is_file()
    assert (SDK / "runtime" / "worker.py").is_file()
