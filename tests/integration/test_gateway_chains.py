"""The gateway fills a later step from a previous run by the SDK's rule (feather.runtime.fill_inputs):
only pick lists and regions are completed by what the caller sends; anything else it sends replaces
the earlier value whole."""
from __future__ import annotations

import json

from services.contracts.events import RunRequested
from test_gateway_limits import gateway

TWO_STEPS = {"name": "tune", "steps": [
    {"name": "propose", "inputs": [], "outputs": [{"name": "cfg", "kind": "json"}],
     "input_schema": {"type": "object", "properties": {}, "additionalProperties": False}},
    {"name": "apply", "inputs": [{"name": "cfg", "kind": "json"}], "outputs": [],
     "input_schema": {"type": "object", "properties": {"cfg": {"type": "object"}}, "additionalProperties": False}}]}


async def test_a_json_object_sent_for_a_later_step_replaces_the_earlier_one_whole(tmp_path):
    async with gateway(tmp_path) as (http, gw):
        ctx = gw.ctx
        await ctx.store.apply("models", "local/tune", {"owner": "local", "name": "tune", "visibility": "public",
                                                      "latest_version": 1, "deleted": False}, event_id="m")
        await ctx.store.apply("versions", "local/tune@1", {"model_id": "local/tune", "version": 1,
                                                          "status": "ready", "manifest": TWO_STEPS}, event_id="v")
        await ctx.store.save("runs", "r1", {"model_id": "local/tune", "version": 1, "step": "propose",
                                            "status": "succeeded", "created_by": "local", "inputs": {},
                                            "outputs": {"cfg": {"a": 1, "b": 2}}}, expected_version=None)
        answer = await http.post("/v1/models/local/tune/runs", headers={"Authorization": "Bearer ft_admin"},
                                 json={"previous_run": "r1", "inputs": {"cfg": {"b": 3}}})
        assert answer.status_code == 202, answer.text
        assert answer.json()["step"] == "apply"  # the step after the previous run's
        sent = [json.loads(r.body) for r in await ctx.store.outbox_pending(100)
                if r.headers.get("ce_type") == RunRequested.ce_type()]
    assert [s["inputs"] for s in sent if s["run_id"] == answer.json()["id"]] == [{"cfg": {"b": 3}}]
