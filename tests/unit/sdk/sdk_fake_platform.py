"""An in-memory fake of the platform API the SDK uses; runs execute in-process with feather.runtime.

Knobs on the state object (`st`): `mode` ("sync": runs finish inside the POST; "async": they
finish after `polls` GETs, reporting progress meanwhile unless `progress` is False;
"failed"/"timed_out"/"canceled": they end so at once), `build` ("ready"/"failed"),
`build_polls` (model GETs a build takes; each build-log request also reveals one more line
of `BUILD_LOG`, the last one ending the build) and `page_max` (runs per page).
"""
from __future__ import annotations

import hashlib
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
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from feather.rules import fill_inputs, next_step

from services.contracts.requests import RequestError, check_inputs, pick_step

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"
TOKEN = "secret-token"
BUILD_LOG = ["building {name} v{version}\n", "résumé: ✓ deps\n", "built in 0.1s\n"]
FAILED_TAIL = "ERROR: No matching distribution\n"
TERMINAL = {"succeeded", "failed", "canceled", "timed_out"}


def make_platform(workdir: Path) -> tuple[FastAPI, SimpleNamespace]:
    app = FastAPI()
    st = SimpleNamespace(models={}, runs={}, loaded={}, files={}, feedback={}, mode="sync", polls=2,
                         build="ready", build_polls=1, bundles=[], run_ids=itertools.count(1),
                         requests=[], outdir=workdir / "outputs", page_max=200, progress=True)
    st.outdir.mkdir(exist_ok=True)

    def auth(request: Request) -> None:
        st.requests.append((request.method, request.url.path, dict(request.headers),
                            dict(request.query_params)))
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            raise HTTPException(401, "invalid or missing token")

    def get_model(owner: str, name: str) -> dict[str, Any]:
        if (owner, name) not in st.models:
            raise HTTPException(404, f"model {owner}/{name} not found")
        return st.models[(owner, name)]

    def get_run(run_id: str) -> dict[str, Any]:
        if run_id not in st.runs:
            raise HTTPException(404, f"no run {run_id}")
        return st.runs[run_id]

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
        name = manifest["name"]
        record = st.models.setdefault(("ann", name), {"owner": "ann", "name": name, "versions": []})
        version = len(record["versions"]) + 1
        record.update(description=manifest["description"], latest_version=version,
                      status="building", manifest=manifest)
        record["versions"].append({"version": version, "status": "building", "error": None,
                                   "created_at": "2025-01-01T00:00:00Z", "_polls": 0, "_reads": 0,
                                   "_manifest": manifest})
        st.loaded[(name, version)] = feather.runtime.load(folder / "app.py")
        sys.path.remove(str(folder))  # the runtime keeps it for lazy imports; tests need not
        return {"owner": "ann", "name": name, "version": version, "status": "building",
                "url": f"/models/ann/{name}"}

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
                _end_build(st, record, v)
        return _public(record)

    @app.delete("/v1/models/{owner}/{name}", status_code=204)
    def delete(owner: str, name: str, request: Request) -> Response:
        auth(request)
        get_model(owner, name)
        if owner != "ann":
            raise HTTPException(403, f"only {owner} can delete {owner}/{name}")
        del st.models[(owner, name)]
        return Response(status_code=204)

    @app.get("/v1/models/{owner}/{name}/versions/{version}/build-log")
    def build_log(owner: str, name: str, version: int, request: Request,
                  offset: int = 0) -> PlainTextResponse:
        auth(request)
        record = get_model(owner, name)
        v = next((x for x in record["versions"] if x["version"] == version), None)
        if v is None:
            raise HTTPException(404, f"{owner}/{name} has no version {version}")
        lines = [line.format(name=name, version=version) for line in BUILD_LOG]
        if v["status"] == "building":
            v["_reads"] += 1
            if v["_reads"] >= len(lines):
                _end_build(st, record, v)
        shown = lines if v["status"] != "building" else lines[:v["_reads"]]
        text = "".join(shown) + (FAILED_TAIL if v["status"] == "failed" else "")
        return PlainTextResponse(text.encode()[offset:], headers={"X-Build-Status": v["status"]})

    @app.get("/v1/models/{owner}/{name}/openapi.json")
    def openapi(owner: str, name: str, request: Request) -> dict[str, Any]:
        auth(request)
        get_model(owner, name)
        return {"openapi": "3.1.0", "info": {"title": f"{owner}/{name}"},
                "paths": {f"/v1/models/{owner}/{name}/runs": {"post": {}}}}

    @app.get("/v1/models/{owner}/{name}/metrics")
    def metrics(owner: str, name: str, request: Request) -> dict[str, Any]:
        auth(request)
        get_model(owner, name)
        return {"runs": len(st.runs), "errors": 0, "latency_ms": {"p50": 1.0, "p95": 2.0}}

    @app.post("/v1/models/{owner}/{name}/runs")
    async def start_run(owner: str, name: str, request: Request) -> JSONResponse:
        auth(request)
        record = get_model(owner, name)
        body = await request.json()
        try:
            run = _new_run(st, record, body, request.headers.get("prefer"))
        except RequestError as exc:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status)
        except jsonschema.ValidationError as exc:
            loc = ["body", "inputs", *[str(p) for p in exc.absolute_path]]
            return JSONResponse({"detail": [{"loc": loc, "msg": exc.message}]}, status_code=422)
        if st.mode == "sync":
            _finish(st, run)
        elif st.mode in ("failed", "timed_out", "canceled"):
            run.update(status=st.mode, error="ValueError: boom" if st.mode == "failed" else None,
                       traceback="Traceback (most recent call last):\nValueError: boom\n"
                       if st.mode == "failed" else None)
        return JSONResponse(_public(run), status_code=202 if run["status"] == "queued" else 201)

    @app.get("/v1/runs/{run_id}")
    def read_run(run_id: str, request: Request) -> dict[str, Any]:
        auth(request)
        run = get_run(run_id)
        run["_polls"] += 1
        if run["status"] in ("queued", "running") and run.get("_cancel"):
            run.update(status="canceled", error="canceled by the caller", progress=None)
        elif run["status"] in ("queued", "running") and st.mode == "async":
            if run["_polls"] >= st.polls:
                _finish(st, run)
            else:
                run.update(status="running", progress={"fraction": run["_polls"] / st.polls,
                                                       "message": f"working {run['_polls']}"}
                           if st.progress else None)
        return _public(run)

    @app.post("/v1/runs/{run_id}/cancel", status_code=202)
    def cancel(run_id: str, request: Request) -> Any:
        auth(request)
        run = get_run(run_id)
        if run["status"] in TERMINAL:
            return JSONResponse({"detail": f"run {run_id} already ended: {run['status']}"}, 409)
        run["_cancel"] = True  # like the platform: the run ends canceled shortly after
        return _public(run)

    @app.post("/v1/runs/{run_id}/feedback")
    async def feedback(run_id: str, request: Request) -> dict[str, Any]:
        auth(request)
        get_run(run_id)  # 404 for an unknown run
        given = st.feedback.setdefault(run_id, {"revision": 0})
        given.update(await request.json(), run_id=run_id, revision=given["revision"] + 1)
        return {**given, "predicted": None, "given_at": "2025-01-01T00:00:00Z"}

    @app.get("/v1/runs")
    def my_runs(request: Request, model: str | None = None, limit: int = 20,
                cursor: str | None = None) -> dict[str, Any]:
        auth(request)
        mine = [r for r in reversed(st.runs.values()) if model in (None, r["model"])]
        start, limit = int(cursor or 0), min(limit, st.page_max)
        page = mine[start:start + limit]
        more = start + limit < len(mine)
        return {"items": [_public(r) for r in page], "next_cursor": str(start + limit) if more else None}

    @app.post("/v1/files", status_code=201)
    async def upload(request: Request, file: Annotated[UploadFile, File()]) -> dict[str, Any]:
        auth(request)
        data = await file.read()
        return _store(st, data, file.filename or "file", file.content_type or "application/octet-stream")

    @app.get("/v1/files/{fid:path}")
    def download(fid: str, request: Request) -> Response:
        auth(request)
        if fid not in st.files:
            raise HTTPException(404, "no such file")
        data, content_type = st.files[fid]
        return Response(data, media_type=content_type)

    return app, st


def _store(st: SimpleNamespace, data: bytes, name: str, content_type: str) -> dict[str, Any]:
    fid = f"f{len(st.files) + 1:04d}/{Path(name).name or 'file'}"
    st.files[fid] = (data, content_type)
    return {"url": f"feather:files/{fid}", "name": Path(fid).name, "content_type": content_type,
            "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _new_run(st: SimpleNamespace, record: dict[str, Any], body: dict[str, Any],
             prefer: str | None) -> dict[str, Any]:
    """Validate like the gateway (step, schema, inline size, uploaded files exist) and record a run."""
    inputs, version = dict(body.get("inputs") or {}), body.get("version") or record["latest_version"]
    manifest = record["versions"][version - 1]["_manifest"]
    if body.get("previous_run"):
        before = st.runs[body["previous_run"]]
        step = pick_step(manifest, body.get("step") or next_step(manifest, before["step"]))
        inputs = fill_inputs(step, {**before["inputs"], **(before["outputs"] or {})}, inputs)
    else:
        step = pick_step(manifest, body.get("step"))
    inputs = check_inputs(step, inputs)  # the platform's own rule, and its own refusals
    for name, value in inputs.items():
        _check_files(st, name, value)
    run = {"id": f"run_{next(st.run_ids)}", "model": f"{record['owner']}/{record['name']}",
           "version": version, "step": step["name"], "status": "queued", "inputs": inputs,
           "outputs": None, "steps": None, "error": None, "logs": "", "traceback": None,
           "progress": None, "metrics": {"queue_ms": None, "predict_ms": None, "total_ms": None},
           "created_at": "2025-01-01T00:00:00Z", "completed_at": None, "_polls": 0,
           "_prefer": prefer, "_chain": body.get("chain"), "_choices": body.get("choices")}
    run["urls"] = {"get": f"/v1/runs/{run['id']}"}
    st.runs[run["id"]] = run
    return run


def _check_files(st: SimpleNamespace, name: str, value: Any) -> None:
    if isinstance(value, list):
        for item in value:
            _check_files(st, name, item)
    if not isinstance(value, dict):
        return
    url = value.get("url")
    if isinstance(url, str) and url.startswith("data:") and len(url) * 3 // 4 > 256 * 1024 + 64:
        raise jsonschema.ValidationError("inline files are limited to 256 KiB", path=[name])
    if isinstance(url, str) and url.startswith("feather:files/") and \
            url.removeprefix("feather:files/") not in st.files:
        raise jsonschema.ValidationError(f"no uploaded file {url}", path=[name])


def _finish(st: SimpleNamespace, run: dict[str, Any]) -> None:
    loaded = st.loaded[(run["model"].split("/")[1], run["version"])]
    inputs = {k: _materialize(st, v) for k, v in run["inputs"].items()}
    try:
        if run["_chain"]:
            done = loaded.run_chain(inputs, run["_choices"], output_dir=str(st.outdir))
            outputs, steps = done["outputs"], done["steps"]
        else:
            outputs, steps = loaded.run(run["step"], inputs, output_dir=str(st.outdir)), None
        run.update(status="succeeded", outputs=_stored(st, outputs),
                   steps=[{**s, "outputs": _stored(st, s["outputs"])} for s in steps or []] or None)
    except feather.runtime.StepError as exc:
        run.update(status="failed", error=exc.message, traceback=exc.traceback)
    run.update(metrics={"queue_ms": 1.0, "predict_ms": 2.0, "total_ms": 3.5}, progress=None,
               completed_at="2025-01-01T00:00:01Z", logs=f"ran {run['step']}\n")


def _materialize(st: SimpleNamespace, value: Any) -> Any:
    """Stored files get a local `path`, as the executor gives them."""
    if isinstance(value, list):
        return [_materialize(st, v) for v in value]
    if not isinstance(value, dict):
        return value
    url = value.get("url")
    if isinstance(url, str) and url.startswith("feather:files/"):
        target = st.outdir / url.replace("/", "_").replace(":", "_")
        target.write_bytes(st.files[url.removeprefix("feather:files/")][0])
        return {**value, "path": str(target)}
    return {k: _materialize(st, v) for k, v in value.items()}


def _stored(st: SimpleNamespace, value: Any) -> Any:
    """Output files written to `path` become stored files with feather:files URLs."""
    if isinstance(value, list):
        return [_stored(st, v) for v in value]
    if not isinstance(value, dict):
        return value
    if isinstance(value.get("path"), str):
        stored = _store(st, Path(value["path"]).read_bytes(), value["name"], value["content_type"])
        return {**{k: v for k, v in value.items() if k != "path"}, "url": stored["url"]}
    return {k: _stored(st, v) for k, v in value.items()}


def _end_build(st: SimpleNamespace, record: dict[str, Any], version: dict[str, Any]) -> None:
    version["status"] = st.build
    version["error"] = "pip install failed" if st.build == "failed" else None
    record["status"] = st.build


def _public(record: dict[str, Any]) -> dict[str, Any]:
    clean = {k: v for k, v in record.items() if not k.startswith("_")}
    if "versions" in clean:
        clean["versions"] = [{k: v for k, v in x.items() if not k.startswith("_")}
                             for x in clean["versions"]]
    return clean
