"""The bundled examples, published and run through the platform as a user would."""
from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits, load_iris

import feather
from publishing import published

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
DIGITS = load_digits()


def publish(client: feather.Client, path: Path) -> str:
    return published(client, path, timeout=600)


def drawn(index: int) -> Image.Image:
    gray = (255 - DIGITS.images[index] * 255 / 16).round().astype(np.uint8)
    return Image.fromarray(gray).resize((64, 64), Image.Resampling.NEAREST)


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_digits_reads_an_uploaded_image(client: feather.Client, http: httpx.Client):
    ref = publish(client, ROOT / "examples" / "digits" / "app.py")
    right = 0
    for index in range(0, 200, 20):
        run = client.run(ref, image=drawn(index))
        assert run.status == "succeeded"
        label = run.outputs["digit"]
        assert len(label["confidences"]) == 3
        right += label["label"] == str(DIGITS.target[index])
    assert right >= 8, f"only {right}/10 digits read right"
    # the same through plain HTTP: upload the file, then refer to it
    uploaded = http.post("/v1/files", files={"file": ("seven.png", png(drawn(7)), "image/png")}).json()
    run = http.post(f"/v1/models/{ref}/runs", json={"inputs": {"image": uploaded}}, headers={"Prefer": "wait"}).json()
    assert run["status"] == "succeeded" and run["outputs"]["digit"]["label"] == str(DIGITS.target[7])
    bad = http.post(f"/v1/models/{ref}/runs", json={"inputs": {"image": {"url": "feather:files/nope/x.png"}}})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][:3] == ["body", "inputs", "image"]


def test_pick_digit_step_by_step_and_as_a_chain(client: feather.Client, http: httpx.Client):
    ref = publish(client, ROOT / "examples" / "pick-digit" / "app.py")
    indexes = [3, 14, 25]
    canvas = Image.new("L", (24 + 80 * len(indexes), 100), 255)
    for slot, index in enumerate(indexes):
        canvas.paste(drawn(index), (24 + 80 * slot, 18))
    found = client.run(ref, picture=canvas)
    regions = found.outputs["digits"]["regions"]
    assert len(regions) == 3
    image_url = found.outputs["digits"]["image"]["url"]
    assert image_url.startswith("feather:files/")
    assert http.get(found.outputs["digits"]["image"]["href"]).status_code == 200  # through the run

    read = http.post(f"/v1/models/{ref}/runs", headers={"Prefer": "wait"},
                     json={"previous_run": found.id, "inputs": {"digits": {"selected": [0, 2]}}}).json()
    assert read["status"] == "succeeded", read
    expected = str(DIGITS.target[3]) + str(DIGITS.target[25])
    assert read["outputs"]["number"] == expected

    picture = client.upload(png(canvas), name="three.png")
    chain = http.post(f"/v1/models/{ref}/runs", headers={"Prefer": "wait"},
                      json={"inputs": {"picture": picture}, "chain": True,
                            "choices": {"read": {"digits": {"selected": [1]}}}}).json()
    assert chain["status"] == "succeeded", chain
    assert chain["outputs"]["number"] == str(DIGITS.target[14])
    assert [s["step"] for s in chain["steps"]] == ["find", "read"]


def test_iris_table_in_and_out(client: feather.Client):
    ref = publish(client, ROOT / "examples" / "iris-table" / "app.py")
    sample = json.loads((ROOT / "examples" / "iris-table" / "sample.json").read_text())
    assert client.run(ref, **sample).status == "succeeded"  # the sample the README offers works
    iris = load_iris()
    rows = [[float(v) for v in iris.data[i]] for i in (0, 50, 100)]  # one clear case of each species
    run = client.run(ref, flowers={"columns": sample["flowers"]["columns"], "rows": rows})
    table = run.outputs["predictions"]
    species = [row[table["columns"].index("species")] for row in table["rows"]]
    assert species == ["setosa", "versicolor", "virginica"]
    with pytest.raises(feather.InvalidInput):
        client.run(ref, flowers={"columns": ["sepal_length"], "rows": [["wide"]]})


def test_progress_is_visible_while_a_run_works(client: feather.Client, http: httpx.Client):
    ref = publish(client, Path(__file__).resolve().parent / "models" / "progress" / "app.py")
    job = client.submit(ref, steps=6)
    seen = []
    for snapshot in job:
        if snapshot.progress:
            seen.append(snapshot.progress["message"])
    result = job.result(timeout=30)
    assert result.status == "succeeded" and result.outputs == {"done": "did 6 steps"}
    assert seen and any(m.startswith("step ") for m in seen), seen
