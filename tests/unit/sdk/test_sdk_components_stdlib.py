"""Without site-packages: the new components, chains and progress need only the standard library,
and a value that needs Pillow or numpy says what to install."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import feather

SDK = Path(feather.__file__).resolve().parent

APP = '''
import feather as ft

model = ft.Model("plain")

@model.step(inputs=[ft.Text("words"), ft.Slider("n", 1, 5), ft.Checkbox("loud"),
                    ft.Choice("sep", [" ", "-"], " "), ft.MultiChoice("tags", ["a", "b"]),
                    ft.Table("rows", columns=["x"], min_rows=0)],
            outputs=[ft.PickList("options", multiple=True), ft.Table("echo")])
def split(words, n, loud, sep, tags, rows):
    ft.progress(0.5, "splitting")
    return (words.upper() if loud else words).split(sep)[:n], rows

@model.step(inputs=[ft.PickList("options", multiple=True), ft.Image("photo", format="pil"),
                    ft.Audio("clip", format="bytes"), ft.File("doc")],
            outputs=[ft.Markdown("chosen"), ft.Image("same"), ft.Gallery("none")])
def choose(options, photo, clip, doc):
    return " ".join(options), photo, []
'''

CODE = '''
import sys
import feather as ft, feather.runtime as rt
m = rt.load(APP_PATH)
seen = []
rows = {"columns": ["x"], "rows": [[1]]}
out = m.run("split", {"words": "a b c", "n": 2, "loud": True, "rows": rows},
            on_progress=lambda f, msg: seen.append((f, msg)))
assert out == {"options": {"options": ["A", "B"], "multiple": True}, "echo": rows}, out
assert seen == [(0.5, "splitting")]
png = {"url": "data:image/png;base64,iVBORw0KGgo="}
try:
    m.run_chain({"words": "x y", "rows": rows},
                {"choose": {"options": {"selected": [0]}, "photo": png, "clip": png, "doc": png}})
except ModuleNotFoundError as exc:
    assert "input 'photo' needs the 'pillow' package: add pillow to requirements.txt" in str(exc), exc
else:
    raise AssertionError("Pillow is not importable here; decoding must have failed")
try:
    ft.Audio("clip").decode(png)
except ModuleNotFoundError as exc:
    assert "needs the 'numpy' package" in str(exc), exc
else:
    raise AssertionError("numpy is not importable here; decoding must have failed")
bad = sorted(n for n in sys.modules if n.split(".")[0] not in sys.stdlib_module_names
             and n.split(".")[0] not in ("feather", "__main__") and not n.startswith("_feather_app_"))
assert not bad, bad
print("ok")
'''


def test_components_and_chains_need_only_the_standard_library(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(APP)
    env = {**os.environ, "PYTHONPATH": str(SDK.parent)}
    out = subprocess.run([sys.executable, "-S", "-c", CODE.replace("APP_PATH", repr(str(app)))], env=env,
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
