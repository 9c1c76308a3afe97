"""An OpenAPI document for one model, generated from its manifest."""
from __future__ import annotations

from typing import Any

from services.gateway.domain import with_uri_strings

_RUN_STATUS = ["queued", "running", "succeeded", "failed", "canceled", "timed_out"]


def _outputs_schema(step: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {o["name"]: o.get("schema", {}) for o in step.get("outputs", [])}}


def _run_schema(manifest: dict[str, Any]) -> dict[str, Any]:
    steps = manifest.get("steps", [])
    return {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "model": {"type": "string"},
            "version": {"type": "integer"},
            "step": {"type": "string", "enum": [s["name"] for s in steps]},
            "status": {"type": "string", "enum": _RUN_STATUS},
            "inputs": {"type": "object"},
            "outputs": {"anyOf": [_outputs_schema(s) for s in steps] + [{"type": "null"}]},
            "error": {"type": ["string", "null"]},
            "metrics": {"type": "object", "properties": {k: {"type": ["number", "null"]}
                                                         for k in ("queue_ms", "predict_ms", "total_ms")}},
            "created_at": {"type": "string", "format": "date-time"},
            "completed_at": {"type": ["string", "null"], "format": "date-time"},
        },
        "required": ["id", "status"],
    }


def _request_schema(step: dict[str, Any], first: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "inputs": with_uri_strings(step["input_schema"]),
        "step": {"type": "string", "const": step["name"]},
        "version": {"type": "integer", "minimum": 1},
    }
    if not first:
        properties["previous_run"] = {"type": "string", "description": "fill inputs from this run's outputs"}
    return {"title": f"Run step {step['name']}", "type": "object", "properties": properties,
            "required": ["inputs"] if first else ["inputs", "step"]}


def model_openapi(model: dict[str, Any], *, server: str) -> dict[str, Any]:
    manifest = model["manifest"]
    steps = manifest.get("steps", [])
    ref = f"{model['owner']}/{model['name']}"
    run = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Run"}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": ref, "version": str(model.get("latest_version")),
                 "description": model.get("description", "")},
        "servers": [{"url": server}],
        "components": {
            "schemas": {"Run": _run_schema(manifest)},
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{}, {"token": []}],
        "paths": {
            f"/v1/models/{ref}/runs": {"post": {
                "operationId": "run",
                "summary": f"Run {ref}",
                "parameters": [{"name": "Prefer", "in": "header", "required": False,
                                "schema": {"type": "string", "example": "wait=60"},
                                "description": "hold the request until the run ends, up to N seconds"}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "oneOf": [_request_schema(s, i == 0) for i, s in enumerate(steps)]}}}},
                "responses": {"201": {"description": "the run finished within the wait", **run},
                              "202": {"description": "the run was accepted and is not finished", **run},
                              "404": {"description": "no such model"},
                              "409": {"description": "no ready version"},
                              "422": {"description": "invalid inputs; detail names each field"}},
            }},
            "/v1/runs/{id}": {"get": {
                "operationId": "getRun",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "the run", **run}, "404": {"description": "no such run"}},
            }},
        },
    }
