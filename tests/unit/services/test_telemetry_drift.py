"""Drift by Evidently's defaults: which test each field gets, and that a shifted window drifts
while one drawn from the same distribution does not."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import numpy as np
import pytest
from harness import as_gateway, settings_for

from services.contracts.blobs import BlobRef
from services.contracts.envelope import Envelope
from services.contracts.events import ModelPublished, RunCompleted, RunRequested
from services.telemetry import drift, features, handlers
from services.telemetry.app import create_app

KINDS = {"age": "number", "color": "choice", "ok": "checkbox", "note": "text"}


def rows(n: int, seed: int, shift: float = 0.0, red: float = 0.3) -> list[dict]:
    rng = np.random.default_rng(seed)
    colors = rng.choice(["red", "green", "blue"], n, p=[red, (1 - red) / 2, (1 - red) / 2])
    return [features.features(KINDS, {"age": float(a), "color": str(c), "ok": bool(o), "note": "x" * int(k)}, "inputs")
            for a, c, o, k in zip(rng.normal(40 + shift, 10, n), colors, rng.random(n) < 0.5 + shift / 100,
                                  rng.integers(1, 50, n))]


def field(report: dict, name: str) -> dict:
    return next(f for f in report["fields"] if f["field"] == name)


def test_a_small_reference_uses_ks_chi_squared_and_z_and_a_large_one_distances():
    small = drift.report(rows(500, 1), rows(300, 2))
    assert {f["field"]: f["test"] for f in small["fields"]} == {
        "inputs.age": "ks", "inputs.color": "chi_square", "inputs.ok": "z", "inputs.note.length": "ks"}
    assert all(f["threshold"] == 0.05 for f in small["fields"])
    large = drift.report(rows(3000, 1), rows(300, 2))
    assert {f["field"]: f["test"] for f in large["fields"]} == {
        "inputs.age": "wasserstein", "inputs.color": "jensen_shannon", "inputs.ok": "jensen_shannon",
        "inputs.note.length": "wasserstein"}
    assert all(f["threshold"] == 0.1 for f in large["fields"])


@pytest.mark.parametrize("reference_rows", [500, 3000])
def test_the_same_distribution_does_not_drift_and_a_shifted_one_does(reference_rows):
    same = drift.report(rows(reference_rows, 1), rows(400, 2))
    assert not same["drifted"] and same["drifted_fields"] == 0
    shifted = drift.report(rows(reference_rows, 1), rows(400, 3, shift=15, red=0.8))
    assert field(shifted, "inputs.age")["drifted"] and field(shifted, "inputs.color")["drifted"]
    assert not field(shifted, "inputs.note.length")["drifted"]
    assert shifted["share"] >= 0.5 and shifted["drifted"]


def test_each_field_carries_both_distributions_for_its_chart():
    report = drift.report(rows(200, 1), rows(100, 2))
    age, color = field(report, "inputs.age"), field(report, "inputs.color")
    assert len(age["bins"]) == 21 and sum(age["reference"]) == 200 and sum(age["current"]) == 100
    assert set(color["categories"]) == {"red", "green", "blue"} and sum(color["current"]) == 100


def test_few_distinct_numbers_are_compared_as_categories_and_missing_values_are_left_out():
    few = drift.compare("n", [1.0, 2.0, 3.0] * 50, [1.0, 2.0, 3.0, None] * 40)
    assert few["test"] == "chi_square" and few["current_rows"] == 120 and not few["drifted"]
    assert drift.compare("n", [None], [1.0]) is None


NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
MANIFEST = {"steps": [{"name": "s", "inputs": [{"name": "age", "kind": "number"}],
                       "outputs": [{"name": "kind", "kind": "label"}]}]}


async def test_the_drift_answer_compares_a_window_with_the_versions_first_runs(tmp_path):
    app = create_app(settings_for(tmp_path))
    async with app.router.lifespan_context(app):
        store = app.state.service.ctx.store
        ref = BlobRef(key="b", size=1, sha256="0" * 64)
        await handlers.on_model(store, Envelope(id="m", type="x", source="t", time=NOW, event=ModelPublished(
            model_id="t/m", owner="t", model_name="m", version=1, manifest=MANIFEST, bundle=ref)))
        rng = np.random.default_rng(5)
        for i in range(600):  # the first 300 are the reference, the last 300 have older inputs
            at = NOW - timedelta(days=2) + timedelta(minutes=i * 4)
            age = float(rng.normal(30 if i < 300 else 50, 5))
            kind = {"label": "young" if age < 40 else "old", "confidences": []}
            for event, eid in ((RunRequested(run_id=f"r{i}", model_id="t/m", version=1, step="s", inputs={"age": age},
                                             requested_at=at), f"q{i}"),
                               (RunCompleted(run_id=f"r{i}", model_id="t/m", version=1, step="s", status="succeeded",
                                             outputs={"kind": kind}, requested_at=at), f"c{i}")):
                await handlers.on_run(store, Envelope(id=eid, type="x", source="t", time=NOW, event=event))
        window = {"from": (NOW - timedelta(days=2) + timedelta(minutes=1200)).isoformat(),
                  "to": (NOW + timedelta(days=1)).isoformat()}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                     headers=as_gateway(app.state.service.ctx.settings)) as http:
            answer = (await http.get("/v1/models/t/m/drift", params=window)).json()
            pinned = await http.put("/v1/models/t/m/drift/reference", json={"version": 1, **window})
            again = (await http.get("/v1/models/t/m/drift", params=window)).json()
            bad = await http.put("/v1/models/t/m/drift/reference", json={"version": 1, "from": window["to"],
                                                                         "to": window["from"]})
    assert answer["version"] == 1 and answer["reference"] == {"pinned": False, "first_runs": 1000}
    assert answer["current_rows"] == 300 and answer["reference_rows"] == 600
    assert field(answer, "inputs.age")["drifted"] and field(answer, "outputs.kind")["test"] == "z"
    assert answer["drifted"]
    assert pinned.status_code == 200 and again["reference"]["pinned"] and not again["drifted"]  # now the same runs
    assert bad.status_code == 422
