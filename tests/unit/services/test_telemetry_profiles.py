"""Profiles of inputs and outputs per bucket: quantiles from the sketch, capped categories, images
measured from their bytes, the same profiles from any replay, and the answer over a window."""
from __future__ import annotations

import base64
import io
import random
from datetime import datetime, timedelta, timezone

import httpx
import numpy as np
import pytest
from harness import as_gateway, settings_for
from PIL import Image

from services.contracts.blobs import BlobRef
from services.contracts.envelope import Envelope
from services.contracts.events import ModelPublished, RunCompleted, RunRequested
from services.contracts.files import SCHEME, blob_key
from services.kit.blobs.local import LocalBlobStore
from services.kit.store import Query, SqliteStore
from services.telemetry import features, handlers, profiles
from services.telemetry.app import create_app

NOW = datetime(2026, 12, 1, 12, 0, 30, tzinfo=timezone.utc)
MANIFEST = {"steps": [{"name": "s", "inputs": [{"name": "age", "kind": "number"},
                                                {"name": "color", "kind": "choice"},
                                                {"name": "note", "kind": "text"},
                                                {"name": "photo", "kind": "image"}],
                       "outputs": [{"name": "kind", "kind": "label"}]}]}


def envelope(event, event_id: str) -> Envelope:
    return Envelope(id=event_id, type=event.name, source="test", time=NOW, event=event)


def png(brightness: int, size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (brightness,) * 3).save(out, format="PNG")
    return out.getvalue()


def profile_of(counts: dict, name: str) -> dict:
    return next(p for p in profiles.profile(counts) if p["field"] == name)


def test_quantiles_from_the_sketch_are_within_its_accuracy_of_the_exact_ones():
    rng = np.random.default_rng(2)
    values = np.concatenate([rng.lognormal(2, 1.5, 4000), -rng.lognormal(0, 1, 500), np.zeros(100)])
    counts: dict[str, float] = {}
    for value in values:
        for name, amount in profiles.increments({"inputs.x": float(value)}, counts).items():
            counts[name] = counts.get(name, 0) + amount
    found = profile_of(counts, "inputs.x")
    assert found["type"] == "number" and found["count"] == 4600 and found["missing"] == 0
    for q in profiles.QUANTILES:
        exact = float(np.percentile(values, q, method="inverted_cdf"))
        assert abs(found["quantiles"][f"p{q}"] - exact) <= profiles.ACCURACY * abs(exact) + 1e-9, q
    assert found["mean"] == pytest.approx(float(values.mean()), abs=1e-6)
    assert found["min"] < 0 < found["max"]


def test_categories_keep_their_first_values_and_count_the_rest_as_other():
    bucket: dict[str, float] = {}
    for i in range(profiles.TOP_CATEGORIES + 30):
        for value in (f"label {i}", "label 0"):
            for name, amount in profiles.increments({"outputs.kind": value}, bucket).items():
                bucket[name] = bucket.get(name, 0) + amount
    found = profile_of(bucket, "outputs.kind")
    assert found["type"] == "category" and found["count"] == 2 * (profiles.TOP_CATEGORIES + 30)
    assert found["distinct"] == profiles.TOP_CATEGORIES + 1  # the kept ones, and the other
    assert found["top"][0] == {"value": "label 0", "count": profiles.TOP_CATEGORIES + 31}
    assert {"value": profiles.OTHER, "count": 30} in found["top"]  # labels 50 to 79


def test_any_feature_or_value_makes_a_counter_both_stores_accept():
    from services.kit.store.sqlite import check_field
    row = {"inputs.$weird~name.x": "a.b$c~d", "inputs.n": None}
    for name in profiles.increments(row, {}):
        check_field(name)
    counts = profiles.increments(row, {})
    assert profile_of(counts, "inputs.$weird~name.x")["top"] == [{"value": "a.b$c~d", "count": 1}]
    assert profile_of(counts, "inputs.n") == {"field": "inputs.n", "count": 0, "missing": 1, "missing_share": 1.0,
                                              "type": "missing"}


def test_an_image_is_measured_and_one_too_large_to_decode_by_its_header_only():
    assert features.measure_image(png(255)) == {"width": 40.0, "height": 30.0, "brightness": 1.0}
    assert features.measure_image(png(51))["brightness"] == 0.2
    huge = io.BytesIO()
    Image.new("1", (8000, 6000)).save(huge, format="PNG")  # 48 megapixels in a few kB
    assert features.measure_image(huge.getvalue()) == {"width": 8000.0, "height": 6000.0}
    assert features.measure_image(b"not an image") == {}


def history(blobs_count: int = 40, seed: int = 3) -> list[Envelope]:
    rng = random.Random(seed)
    ref = BlobRef(key="b", size=1, sha256="0" * 64)
    events = [envelope(ModelPublished(model_id="t/m", owner="t", model_name="m", version=1, manifest=MANIFEST,
                                      bundle=ref), "m1")]
    for i in range(blobs_count):
        at = NOW - timedelta(minutes=rng.uniform(0, 59))
        photo = {"url": f"{SCHEME}p{i % 4}/photo.png", "size": 100, "content_type": "image/png"} if i % 5 else \
            {"url": "data:image/png;base64," + base64.b64encode(png(200)).decode(), "size": 90,
             "content_type": "image/png"}
        inputs = {"age": rng.gauss(40, 10), "color": rng.choice(["red", "blue"]), "note": "x" * rng.randint(1, 30),
                  "photo": photo}
        events.append(envelope(RunRequested(run_id=f"r{i}", model_id="t/m", version=1, step="s", inputs=inputs,
                                            requested_at=at), f"q{i}"))
        events.append(envelope(RunCompleted(run_id=f"r{i}", model_id="t/m", version=1, step="s",
                                            status="succeeded" if i % 7 else "failed",
                                            outputs={"kind": {"label": rng.choice(["cat", "dog"])}} if i % 7 else None,
                                            requested_at=at, completed_at=at + timedelta(milliseconds=30)), f"c{i}"))
    return events


async def blob_store(tmp_path) -> LocalBlobStore:
    blobs = LocalBlobStore(str(tmp_path / "blobs"))
    for i in range(4):
        await blobs.put(blob_key(f"p{i}/photo.png"), png(60 * i), "image/png")
    return blobs


async def profiles_in(store: SqliteStore) -> dict[str, dict]:
    page = await store.find("profiles", Query(limit=1000))
    return {d["_id"]: {k: v for k, v in d.items() if k != "_v"} for d in page.items}


async def test_any_replay_of_the_events_rebuilds_the_same_profiles(tmp_path):
    events = history()
    replayed = events[1:] + random.Random(5).sample(events[1:], 30)  # redelivered, out of order, model first
    random.Random(6).shuffle(replayed)
    blobs = await blob_store(tmp_path)
    first, second = SqliteStore(str(tmp_path / "a.db")), SqliteStore(str(tmp_path / "b.db"))
    for store, stream in ((first, events), (second, [events[0], *replayed])):
        await store.start()
        for env in stream:
            await handlers.on_run(store, env, blobs) if not isinstance(env.event, ModelPublished) \
                else await handlers.on_model(store, env)
    try:
        built, rebuilt = await profiles_in(first), await profiles_in(second)
        assert built.keys() == rebuilt.keys() and len(built) > 10
        for key, bucket in built.items():
            assert bucket.keys() == rebuilt[key].keys()
            for name, value in bucket.items():  # sums of floats may differ in their last bits
                assert rebuilt[key][name] == (pytest.approx(value) if isinstance(value, float) else value), name
        hours = profiles.merged(b for b in built.values() if b["resolution"] == "1h")
        assert profile_of(hours, "inputs.age")["count"] == 40
        brightness = profile_of(hours, "inputs.photo.brightness")
        assert brightness["count"] == 40 and brightness["max"] == pytest.approx(200 / 255, rel=0.02)
        assert profile_of(hours, "outputs.kind")["count"] == 34 and profile_of(hours, "outputs.kind")["missing"] == 6
    finally:
        await first.close()
        await second.close()


async def test_a_run_of_a_version_telemetry_has_not_seen_is_not_profiled(tmp_path):
    store = SqliteStore(str(tmp_path / "t.db"))
    await store.start()
    try:
        for env in history()[1:3]:
            await handlers.on_run(store, env)
        assert await profiles_in(store) == {} and "features" not in await store.get("runs", "r0")
    finally:
        await store.close()


async def test_the_profiles_answer_gives_totals_and_a_series_and_drift_uses_the_measures(tmp_path):
    app = create_app(settings_for(tmp_path))
    async with app.router.lifespan_context(app):
        ctx = app.state.service.ctx
        for i in range(4):
            await ctx.blobs.put(blob_key(f"p{i}/photo.png"), png(60 * i), "image/png")
        await handlers.on_model(ctx.store, history()[0])
        for env in history()[1:]:
            await handlers.on_run(ctx.store, env, ctx.blobs)
        window = {"from": (NOW - timedelta(hours=1)).isoformat(), "to": (NOW + timedelta(minutes=1)).isoformat()}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                     headers=as_gateway(app.state.service.ctx.settings)) as http:
            answer = (await http.get("/v1/models/t/m/profiles", params=window)).json()
            drift = (await http.get("/v1/models/t/m/drift", params=window)).json()
            empty = (await http.get("/v1/models/t/m/profiles",
                                    params={"from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z"})).json()
    fields = {f["field"]: f for f in answer["fields"]}
    assert answer["step"] == "1m" and fields["inputs.age"]["count"] == 40
    assert fields["inputs.note.length"]["quantiles"]["p50"] <= fields["inputs.note.length"]["quantiles"]["p95"]
    assert {c["value"] for c in fields["inputs.color"]["top"]} == {"red", "blue"}
    assert fields["inputs.photo.width"]["min"] == pytest.approx(40, rel=0.02)
    assert fields["inputs.photo.type"]["top"] == [{"value": "image/png", "count": 40}]
    assert sum(next(f["count"] for f in b["fields"] if f["field"] == "inputs.age") for b in answer["series"]) == 40
    assert "inputs.photo.brightness" in {f["field"] for f in drift["fields"]}
    assert empty["fields"] == [] and empty["series"] == []


def test_numbers_json_can_carry_but_a_float_cannot_are_missing_and_odd_images_are_not_decoded():
    row = features.features({"x": "number", "y": "number"}, {"x": 10 ** 400, "y": -(10 ** 400)}, "inputs")
    assert row == {"inputs.x": None, "inputs.y": None}
    assert profiles.sketch_bin(1e300) == f"p{profiles.MAX_INDEX}" and profiles.sketch_bin(-1e-300) == "0"
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n"
    assert features.measure_image(eps) == {}  # a format a helper program would read: not opened
    big = io.BytesIO()
    Image.new("L", (2500, 2000)).save(big, format="PNG")  # 5 megapixels: by its header
    assert features.measure_image(big.getvalue()) == {"width": 2500.0, "height": 2000.0}
