"""An in-memory fake of the platform API routes the SDK uses (runs execute in-process)."""
from __future__ import annotations

import io
import itertools
import json
import sys
import tarfile
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

import feather.runtime
import jsonschema
from fastapi import FastAPI, File, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"
TOKEN = "secret-token"


def make_platform(workdir: Path) -> tuple[FastAPI, SimpleNamespace]:
    """The platform API routes the SDK uses, in memory. Runs execute with feather.runtime."""
    app = FastAPI()
    st = SimpleNamespace(models={}, runs={}, loaded={}, mode="sync", polls=2, build="ready",
                         build_polls=1, bundles=[], run_ids=itertools.count(1), requests=[])

    def auth(request: Request) -> None:
        st.requests.append((request.method, request.url.path, dict(request.headers)))
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            raise HTTPException(401, "invalid or missing token")

    def get_model(owner: str, name: str) -> dict[str, Any]:
        if (owner, name) not in st.models:
            raise HTTPException(404, f"model {owner}/{name} not found")
        return st.models[(owner, name)]

    @app.get("/v1/me")
    def me(request: Request) -> dict[str, Any]:
        auth(request)
        return {"username": "ann"}

    @app.post("/v1/models", status_code=201)
    async def publish(request: Request, bundle: Annotated[UploadFile, File()]) -> dict[str, Any]:
        auth(request)
        data = await bundle.read()
        st.bundles.append(data)
        folder = Path(tempfile.mkdtemp(prefix="bundle-", dir=workdir))
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            tar.extractall(folder, filter="data")
        manifest = json.loads((folder / "feather.json").read_text())
        record = st.models.setdefault(("ann", manifest["name"]), {
            "owner": "ann", "name": manifest["name"], "versions": []})
        version = len(record["versions"]) + 1
        record.update(description=manifest["description"], latest_version=version,
                      status="building", manifest=manifest)
        record["versions"].append({"version": version, "status": "building", "error": None,
                                   "created_at": "2025-01-01T00:00:00Z", "_polls": 0})
        st.loaded[(manifest["name"], version)] = feather.runtime.load(folder / "app.py")
        sys.path.remove(str(folder))  # the runtime keeps it for lazy imports; tests need not
        return {"owner": "ann", "name": manifest["name"], "version": version,
                "status": "building", "url": f"/models/ann/{manifest['name']}"}

    @app.get("/v1/models")
    def list_models(request: Request) -> dict[str, Any]:
        auth(request)
        return {"items": [_public(m) for m in st.models.values()], "next_cursor": None}

    @app.get("/v1/models/{owner}/{name}")
    def model(owner: str, name: str, request: Request) -> dict[str, Any]:
        auth(request)
        record = get_model(owner, name)
        for v in record["versions"]:
            v["_polls"] += 1
            if v["status"] == "building" and v["_polls"] > st.build_polls:
                v["status"] = st.build
                v["error"] = "pip install failed" if st.build == "failed" else None
                record["status"] = st.build
        return _public(record)

    @app.get("/v1/models/{owner}/{name}/versions/{version}/build-log")
    def build_log(owner: str, name: str, version: int, request: Request) -> PlainTextResponse:
        auth(request)
        get_model(owner, name)
        return PlainTextResponse(f"building {name} v{version}\nERROR: No matching distribution\n")

    @app.post("/v1/models/{owner}/{name}/runs")
    async def start_run(owner: str, name: str, request: Request) -> JSONResponse:
        auth(request)
        record = get_model(owner, name)
        body = await request.json()
        version = body.get("version") or record["latest_version"]
        step = record["manifest"]["steps"][0]
        try:
            jsonschema.validate(body.get("inputs"), step["input_schema"])
        except jsonschema.ValidationError as exc:
            loc = ["body", "inputs", *[str(p) for p in exc.absolute_path]]
            return JSONResponse({"detail": [{"loc": loc, "msg": exc.message}]}, status_code=422)
        run = {"id": f"run_{next(st.run_ids)}", "model": f"{owner}/{name}", "version": version,
               "step": step["name"], "status": "queued", "inputs": body["inputs"], "outputs": None,
               "error": None, "metrics": {"queue_ms": None, "predict_ms": None, "total_ms": None},
               "created_at": "2025-01-01T00:00:00Z", "completed_at": None, "_polls": 0,
               "_prefer": request.headers.get("prefer")}
        st.runs[run["id"]] = run
        if st.mode == "sync":
            _finish(st, run)
        elif st.mode in ("failed", "timed_out", "canceled"):
            run.update(status=st.mode, error="ValueError: boom" if st.mode == "failed" else None)
        return JSONResponse(_public(run), status_code=202 if run["status"] == "queued" else 201)

    @app.get("/v1/runs/{run_id}")
    def get_run(run_id: str, request: Request) -> dict[str, Any]:
        auth(request)
        if run_id not in st.runs:
            raise HTTPException(404, "run not found")
        run = st.runs[run_id]
        run["_polls"] += 1
        if run["status"] in ("queued", "running") and st.mode == "async":
            if run["_polls"] >= st.polls:
                _finish(st, run)
            else:
                run["status"] = "running"
        return _public(run)

    @app.get("/v1/models/{owner}/{name}/metrics")
    def metrics(owner: str, name: str, request: Request) -> dict[str, Any]:
        auth(request)
        get_model(owner, name)
        return {"runs": len(st.runs), "errors": 0, "latency_ms": {"p50": 1.0, "p95": 2.0}}

    return app, st


def _finish(st: SimpleNamespace, run: dict[str, Any]) -> None:
    loaded = st.loaded[(run["model"].split("/")[1], run["version"])]
    try:
        run.update(status="succeeded", outputs=loaded.run(run["step"], run["inputs"]))
    except feather.runtime.StepError as exc:
        run.update(status="failed", error=exc.message)
    run.update(metrics={"queue_ms": 1.0, "predict_ms": 2.0, "total_ms": 3.5},
               completed_at="2025-01-01T00:00:01Z")


def _public(record: dict[str, Any]) -> dict[str, Any]:
    clean = {k: v for k, v in record.items() if not k.startswith("_")}
    if "versions" in clean:
        clean["versions"] = [{k: v for k, v in x.items() if not k.startswith("_")}
                             for x in clean["versions"]]
    return clean
