"""`feather dev app.py`: one model running in this process, on the portal's own model page.

The page reloads the model when app.py (or a file beside it) is saved, and offers a Publish
button that sends it to the platform the CLI is logged in to. No broker, no store: the moment a
Gradio user gets from ``launch()``.
"""
from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

import feather
from feather import runtime
from feather.rules import fill_inputs, next_step
from services.contracts.files import SCHEME, content_type_of, files_in, new_file_id
from services.contracts.requests import RequestError, check_inputs, pick_step
from services.kit.body_limit import BodyLimit
from services.kit.portal import mount_portal


class DevModel:
    def __init__(self, app_path: Path) -> None:
        self.app_path = app_path.resolve()
        self.loaded: runtime.LoadedModel | None = None
        self.error: str | None = None
        self.revision = 0
        self.stamp: tuple[float, ...] = ()
        self.name = self.app_path.parent.name

    def _stamp(self) -> tuple[float, ...]:
        return tuple(sorted(p.stat().st_mtime for p in self.app_path.parent.glob("*") if p.is_file()))

    def reload_if_changed(self) -> bool:
        stamp = self._stamp()
        if stamp == self.stamp:
            return False
        self.stamp = stamp
        try:
            self.loaded = runtime.load(self.app_path)
            self.name, self.error = self.loaded.model.name, None
        except Exception as exc:  # show the mistake on the page; keep serving the last good model
            self.error = f"{type(exc).__name__}: {exc}"
        self.revision += 1
        return True


class RunBody(BaseModel):
    inputs: dict[str, Any] = Field(default_factory=dict)
    step: str | None = None
    previous_run: str | None = None


DEV_BODY_LIMIT = 64 * 2**20


def is_loopback_host(host: str | None) -> bool:
    name = urlsplit("//" + (host or "")).hostname or ""
    return name in ("localhost", "::1") or name.startswith("127.")


def is_loopback_origin(origin: str) -> bool:
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and is_loopback_host(parts.netloc)


def create_dev_app(app_path: Path) -> FastAPI:
    model = DevModel(app_path)
    model.reload_if_changed()
    scratch = Path(tempfile.mkdtemp(prefix="feather-dev-"))
    files: dict[str, tuple[bytes, str]] = {}
    runs: dict[str, dict[str, Any]] = {}

    async def watch() -> None:
        while True:
            await asyncio.sleep(0.3)
            await asyncio.to_thread(model.reload_if_changed)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        watcher = asyncio.get_running_loop().create_task(watch())
        yield
        watcher.cancel()

    app = FastAPI(title="feather dev", lifespan=lifespan)
    app.add_middleware(BodyLimit, limit_for=lambda path: DEV_BODY_LIMIT)

    @app.middleware("http")
    async def only_this_machine(request: Request, call_next):
        # the preview server acts for whoever runs it (publishing with their token): a page of
        # another site must not drive it, neither by a form post nor through a rebound name
        if not is_loopback_host(request.headers.get("host")):
            return JSONResponse({"detail": "the preview server answers only to localhost"}, status_code=421)
        origin = request.headers.get("origin")
        if request.method not in ("GET", "HEAD", "OPTIONS") and origin is not None and not is_loopback_origin(origin):
            return JSONResponse({"detail": f"requests from {origin} are not accepted"}, status_code=403)
        return await call_next(request)

    def manifest() -> dict[str, Any]:
        if model.loaded is None:
            raise HTTPException(409, detail=model.error or "the model did not load")
        return model.loaded.model.manifest()

    def view() -> dict[str, Any]:
        return {"id": f"dev/{model.name}", "owner": "dev", "name": model.name, "visibility": "public",
                "description": model.loaded.model.description if model.loaded else "", "latest_version": 1,
                "status": "ready" if model.loaded else "failed", "runs": len(runs),
                "manifest": manifest() if model.loaded else None, "error": model.error,
                "versions": [{"version": 1, "status": "ready" if model.loaded else "failed", "error": model.error}]}

    @app.get("/v1/dev")
    async def dev_state() -> dict:
        return {"model": f"dev/{model.name}", "revision": model.revision, "error": model.error,
                "app": str(model.app_path)}

    @app.get("/v1/me")
    async def me() -> dict:
        return {"username": "dev"}

    @app.get("/v1/models")
    async def models() -> dict:
        return {"items": [view()], "next_cursor": None}

    @app.get("/v1/models/dev/{name}")
    async def get_model(name: str) -> dict:
        return view()

    @app.post("/v1/files", status_code=201)
    async def upload(file: UploadFile) -> dict:
        data = await file.read()
        fid = new_file_id(file.filename)
        files[fid] = (data, file.content_type or content_type_of(fid))
        return {"url": SCHEME + fid, "name": fid.split("/", 1)[1], "content_type": files[fid][1], "size": len(data)}

    @app.get("/v1/files/{fid:path}")
    async def download(fid: str) -> Response:
        if fid not in files:
            raise HTTPException(404, detail="no such file")
        data, content_type = files[fid]
        return Response(data, media_type=content_type)

    @app.post("/v1/models/dev/{name}/runs", status_code=201)
    async def run(name: str, body: RunBody) -> dict:
        steps = manifest()["steps"]
        given = dict(body.inputs)
        if body.previous_run in runs:
            before = runs[body.previous_run]
            step = pick_step({"steps": steps}, body.step or next_step({"steps": steps}, before["step"]))
            given = fill_inputs(step, {**before["inputs"], **(before["outputs"] or {})}, given)
        else:
            step = pick_step({"steps": steps}, body.step)
        inputs = check_inputs(step, given)
        run_id = new_file_id("run").split("/")[0]
        record = {"id": run_id, "model": f"dev/{model.name}", "version": 1, "step": step["name"], "inputs": inputs,
                  "status": "running", "outputs": None, "error": None, "traceback": None, "logs": "",
                  "created_at": time.time(), "urls": {"get": f"/v1/runs/{run_id}"}}
        runs[run_id] = record
        started = time.perf_counter()
        try:
            outputs = await asyncio.to_thread(_run_step, model, step["name"], inputs, files, scratch)
            record.update(status="succeeded", outputs=outputs)
        except Exception as exc:
            record.update(status="failed", error=str(exc) if isinstance(exc, runtime.StepError) else
                          f"{type(exc).__name__}: {exc}", traceback=getattr(exc, "traceback", traceback.format_exc()))
        total = (time.perf_counter() - started) * 1000
        record["metrics"] = {"queue_ms": 0.0, "predict_ms": round(total, 3), "total_ms": round(total, 3)}
        return record

    @app.get("/v1/runs/{run_id}")
    async def get_run(run_id: str) -> dict:
        if run_id not in runs:
            raise HTTPException(404, detail=f"no run {run_id}")
        return runs[run_id]

    @app.post("/v1/dev/publish")
    async def publish() -> dict:
        try:
            with feather.Client() as client:
                answer = await asyncio.to_thread(client.publish, str(model.app_path))
        except feather.FeatherError as exc:
            raise HTTPException(502, detail=f"publishing failed: {exc}") from None
        return answer

    @app.exception_handler(RequestError)
    async def refused(_: Any, exc: RequestError) -> Any:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    mount_portal(app)
    return app


def _run_step(model: DevModel, step: str, inputs: dict[str, Any], files: dict[str, tuple[bytes, str]],
              scratch: Path) -> dict[str, Any]:
    if model.loaded is None:
        raise RuntimeError(model.error or "the model did not load")
    for value in files_in(inputs):  # uploaded files become local paths, as the executor does
        value.pop("path", None)
        fid = value["url"].removeprefix(SCHEME)
        if fid in files:
            local = scratch / fid.replace("/", "-")
            local.write_bytes(files[fid][0])
            value["path"] = str(local)
    out = scratch / "out" / str(time.monotonic_ns())
    out.mkdir(parents=True)
    outputs = model.loaded.run(step, inputs, output_dir=str(out))
    for value in files_in(outputs, produced=True):
        path = value.pop("path", None)
        if path:
            fid = new_file_id(value.get("name") or Path(path).name)
            files[fid] = (Path(path).read_bytes(), value.get("content_type") or content_type_of(fid))
            value["url"] = SCHEME + fid
    return outputs




def main() -> None:
    import typer
    import uvicorn

    def dev(app_path: Path = typer.Argument(..., exists=True, dir_okay=True, help="app.py or its folder"),
            port: int = typer.Option(7860, help="where the page is served"),
            host: str = typer.Option("127.0.0.1")) -> None:
        """Serve one model's page from this process, reloading it when its files change."""
        path = app_path / "app.py" if app_path.is_dir() else app_path
        typer.echo(f"feather dev: http://{host}:{port}/m/dev/{path.parent.name}  (Ctrl-C to stop)")
        uvicorn.run(create_dev_app(path), host=host, port=port, log_level="warning")

    typer.run(dev)


if __name__ == "__main__":
    main()
