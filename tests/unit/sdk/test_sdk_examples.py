"""The example models run for real: digits, pick-digit (multi-step) and iris-table."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import feather as ft
import feather.runtime as rt
import numpy as np
import pytest
from feather import InvalidInput
from feather._bundle import pack, unpack
from PIL import Image as PILImage
from sdk_fake_platform import EXAMPLES
from sklearn.datasets import load_digits, load_iris

DIGITS = load_digits()
SAMPLE = list(range(0, len(DIGITS.images), 45))  # 40 digits spread over the data set


def drawn(index: int, size: int = 64) -> PILImage.Image:
    """A load_digits image as a person's drawing: dark ink on white, upscaled."""
    gray = (255 - DIGITS.images[index] * 255 / 16).round().astype(np.uint8)
    return PILImage.fromarray(gray).resize((size, size), PILImage.Resampling.NEAREST)


def picture_of(indexes: list[int]) -> PILImage.Image:
    """Several drawn digits side by side on one white canvas, with gaps and margins."""
    canvas = PILImage.new("L", (24 + 80 * len(indexes), 100), 255)
    for slot, index in enumerate(indexes):
        canvas.paste(drawn(index), (24 + 80 * slot, 18))
    return canvas


@pytest.fixture(scope="module")
def digits() -> rt.LoadedModel:
    return rt.load(EXAMPLES / "digits" / "app.py")


@pytest.fixture(scope="module")
def pick() -> rt.LoadedModel:
    return rt.load(EXAMPLES / "pick-digit" / "app.py")


def test_digits_app_is_at_most_15_lines() -> None:
    lines = (EXAMPLES / "digits" / "app.py").read_text().splitlines()
    code = [line for line in lines if line.strip() and not line.strip().startswith("#")]
    assert len(code) <= 15, len(code)


def test_digits_reads_drawn_digits(digits: rt.LoadedModel) -> None:
    image = ft.Image("image")
    right = 0
    for index in SAMPLE:
        out = digits.run("classify", {"image": image.to_wire(drawn(index))})["digit"]
        assert len(out["confidences"]) == 3 and out["label"] == out["confidences"][0]["label"]
        assert sum(c["confidence"] for c in out["confidences"]) <= 1.0 + 1e-9
        right += out["label"] == str(DIGITS.target[index])
    assert right >= 0.9 * len(SAMPLE), f"{right}/{len(SAMPLE)}"


def test_digits_copes_with_size_and_margins(digits: rt.LoadedModel) -> None:
    small = drawn(SAMPLE[3], size=24)
    framed = PILImage.new("L", (300, 200), 255)
    framed.paste(drawn(SAMPLE[3], size=90), (150, 40))  # off-centre on a big white page
    labels = {digits.run("classify", {"image": ft.Image("image").to_wire(img.convert("RGB"))})
              ["digit"]["label"] for img in (small, framed)}
    assert labels == {str(DIGITS.target[SAMPLE[3]])}


def test_weights_are_plain_arrays_loaded_once(digits: rt.LoadedModel) -> None:
    for folder in ("digits", "pick-digit", "iris-table"):
        with np.load(EXAMPLES / folder / "weights.npz", allow_pickle=False) as weights:
            assert all(weights[k].dtype != object for k in weights.files)
        assert (EXAMPLES / folder / "weights.npz").stat().st_size < 8_000
    assert (EXAMPLES / "pick-digit" / "weights.npz").read_bytes() == \
        (EXAMPLES / "digits" / "weights.npz").read_bytes()  # the copy is kept in sync
    assert set(digits.context) == {"coef", "intercept", "classes"}


def test_pick_digit_step_by_step(pick: rt.LoadedModel) -> None:
    indexes = [SAMPLE[1], SAMPLE[4], SAMPLE[7], SAMPLE[10]]
    reports: list[tuple[float | None, str]] = []
    found = pick.run("find", {"picture": ft.Image("picture").to_wire(picture_of(indexes))},
                     on_progress=lambda f, m: reports.append((f, m)))
    regions = found["digits"]["regions"]
    assert [r["label"] for r in regions] == ["digit 1", "digit 2", "digit 3", "digit 4"]
    assert all(24 + 80 * i <= r["box"][0] < r["box"][2] <= 24 + 80 * i + 64 for i, r in enumerate(regions))
    assert reports == [(1.0, "found 4 digit(s)")]
    read = pick.run("read", {"digits": {**found["digits"], "selected": [3, 1]}})
    wanted = "".join(str(DIGITS.target[i]) for i in (indexes[1], indexes[3]))  # left to right
    assert read["number"] == wanted
    assert read["readings"]["columns"] == ["region", "digit", "confidence"]
    assert [row[0] for row in read["readings"]["rows"]] == ["digit 2", "digit 4"]


def test_pick_digit_chain_in_one_call(pick: rt.LoadedModel, tmp_path: Path) -> None:
    indexes = SAMPLE[12:20]
    result = pick.run_chain({"picture": ft.Image("picture").to_wire(picture_of(indexes))},
                            {"read": {"digits": {"selected": list(range(len(indexes)))}}},
                            output_dir=str(tmp_path))
    image = result["steps"][0]["outputs"]["digits"]["image"]
    assert Path(image["path"]).parent == tmp_path  # step 2 read the image from step 1's file
    wanted = "".join(str(DIGITS.target[i]) for i in indexes)
    got = result["outputs"]["number"]
    assert len(got) == len(wanted) and sum(a == b for a, b in zip(got, wanted)) >= len(wanted) - 1


def test_iris_table(tmp_path: Path) -> None:
    iris_model = rt.load(EXAMPLES / "iris-table" / "app.py")
    sample = json.loads((EXAMPLES / "iris-table" / "sample.json").read_text())
    out = iris_model.run("predict", sample)["predictions"]
    assert out["columns"][4:] == ["species", "p_setosa", "p_versicolor", "p_virginica"]
    assert [row[4] for row in out["rows"]][0] == "setosa"
    iris = load_iris()
    table = ft.Table("flowers", columns={c: "number" for c in out["columns"][:4]})
    rows = [dict(zip(out["columns"][:4], map(float, x))) for x in iris.data]
    predicted = iris_model.run("predict", {"flowers": table.to_wire(rows)})["predictions"]["rows"]
    right = sum(row[4] == iris.target_names[t] for row, t in zip(predicted, iris.target))
    assert right >= 0.95 * len(rows)
    assert all(abs(sum(row[5:]) - 1) < 1e-3 for row in predicted)
    with pytest.raises(InvalidInput, match="must have the columns sepal_length"):
        iris_model.run("predict", {"flowers": {"columns": ["a"], "rows": [[1]]}})
    with pytest.raises(rt.StepError, match="every measurement is needed"):
        iris_model.run("predict", {"flowers": {"columns": out["columns"][:4], "rows": [[1, 2, None, 4]]}})


def test_iris_weights_come_from_train_py(tmp_path: Path) -> None:
    folder = tmp_path / "iris"
    shutil.copytree(EXAMPLES / "iris-table", folder)
    (folder / "weights.npz").unlink()
    done = subprocess.run([sys.executable, "train.py"], cwd=folder, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "5-fold accuracy: 0.9" in done.stdout
    fresh, committed = np.load(folder / "weights.npz"), np.load(EXAMPLES / "iris-table" / "weights.npz")
    for key in committed.files:
        assert np.allclose(fresh[key], committed[key]) if committed[key].dtype.kind == "f" \
            else (fresh[key] == committed[key]).all(), key


@pytest.mark.parametrize("example", ["digits", "pick-digit", "iris-table"])
def test_examples_pack_with_their_files(example: str) -> None:
    files = unpack(pack(EXAMPLES / example))
    assert {"app.py", "feather.json", "requirements.txt", "weights.npz"} <= set(files)
    assert b"numpy" in files["requirements.txt"]
    assert not any(name.endswith((".pkl", ".pickle", ".joblib")) for name in files)


def test_digits_in_a_worker_process(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "feather.runtime.worker", "--app",
                             str(EXAMPLES / "digits")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        assert json.loads(proc.stdout.readline())["type"] == "ready"
        path = tmp_path / "seven.png"
        index = next(i for i in SAMPLE if DIGITS.target[i] == 7)
        drawn(index).save(path)
        request: dict[str, Any] = {"id": "d1", "step": "classify", "output_dir": str(tmp_path),
                                   "inputs": {"image": {"url": "feather:files/x", "path": str(path)}}}
        proc.stdin.write(json.dumps(request).encode() + b"\n")
        proc.stdin.flush()
        result = json.loads(proc.stdout.readline())
        assert result["ok"] is True, result
        assert result["outputs"]["digit"]["label"] == "7"
    finally:
        proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
