"""One test body for the HTTP API, run against the gateway, the preview server and the SDK
tests' fake platform: the run life cycle, the multi-step rule and the refusals they share."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from api_targets import Api

WAIT = {"Prefer": "wait=30"}


async def create(api: Api, body: dict) -> dict:
    answer = await api.http.post(api.runs, json=body, headers=WAIT)
    assert answer.status_code == 201, (api.name, answer.status_code, answer.text)
    return answer.json()


def token_of(run: dict) -> str | None:
    """The read token a run made without an account is read with, where the API gives one."""
    return (parse_qs(urlsplit(run["urls"]["get"]).query).get("token") or [None])[0]


async def test_a_run_answers_its_outputs_and_reads_back_the_same(api: Api):
    run = await create(api, {"inputs": {"word": "abc", "times": 2}})
    assert run["status"] == "succeeded" and run["step"] == "split"
    assert run["outputs"]["word"] == "abcabc"
    assert run["outputs"]["letters"]["options"] == ["a", "b", "c"]
    again = await api.http.get(run["urls"]["get"])
    assert again.status_code == 200
    assert {k: again.json()[k] for k in ("id", "status", "step", "outputs")} == \
        {k: run[k] for k in ("id", "status", "step", "outputs")}


async def test_defaults_fill_inputs_left_out(api: Api):
    run = await create(api, {"inputs": {"word": "ab"}})
    assert run["outputs"]["word"] == "ab" and run["inputs"]["times"] == 1


async def test_the_next_step_merges_a_pick_and_carries_the_rest(api: Api):
    first = await create(api, {"inputs": {"word": "abc"}})
    picked = {"previous_run": first["id"], "previous_run_token": token_of(first),
              "inputs": {"letters": {"selected": [2, 0]}}}
    second = await create(api, picked)
    assert second["step"] == "spell"  # the step after the previous run's
    # the pick keeps the options the first step offered; the word is carried from its outputs
    assert second["inputs"]["letters"]["options"] == ["a", "b", "c"]
    assert second["outputs"] == {"spelled": "abc:ca"}
    replaced = await create(api, {**picked, "inputs": {"letters": {"selected": [1]}, "word": "new"}})
    assert replaced["outputs"] == {"spelled": "new:b"}  # what the caller sends replaces what was carried


async def test_wrong_inputs_are_refused_naming_the_field(api: Api):
    answer = await api.http.post(api.runs, json={"inputs": {"word": "abc", "times": "twice"}}, headers=WAIT)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "inputs", "times"]
    missing = await api.http.post(api.runs, json={"inputs": {"times": 2}}, headers=WAIT)
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "inputs", "word"]


async def test_an_unknown_step_is_refused_naming_the_field(api: Api):
    answer = await api.http.post(api.runs, json={"step": "nope", "inputs": {"word": "a"}}, headers=WAIT)
    assert answer.status_code == 422
    detail = answer.json()["detail"][0]
    assert detail["loc"] == ["body", "step"] and "split, spell" in detail["msg"]


async def test_an_unknown_run_is_not_found(api: Api):
    assert (await api.http.get("/v1/runs/no-such-run")).status_code == 404
