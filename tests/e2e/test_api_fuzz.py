"""The gateway's public API, fuzzed from its own OpenAPI document against the running platform.

Every operation gets a bounded number of generated requests, anonymously and with the admin's
token. Whatever is sent, the gateway must not answer 5xx, and an answer with a status the
document declares must match the schema declared for it. Undeclared statuses (401, 403, 404,
409, 413, ...) are not checked against anything: FastAPI only declares 200 and 422 by default.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

import feather
from services.local.platform import LocalPlatform

pytestmark = pytest.mark.e2e

CHECKS = [not_a_server_error, response_schema_conformance]
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
# Bounded for `make test`. Derandomized so a failure comes back on the next run; no shrinking,
# which would replay a failing request dozens of times against a live platform for a smaller body.
FUZZ = settings(max_examples=20, deadline=None, derandomize=True, database=None,
                phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
# Calls that change a model go to this module's own model, never to one other tests share.
CHANGES_A_MODEL = {("PATCH", "/v1/models/{owner}/{name}"), ("DELETE", "/v1/models/{owner}/{name}")}

THROWAWAY = '''import feather as ft

model = ft.Model("fuzz-target", description="Published by the API fuzz test, to be changed and deleted.")


@model.step(inputs=[ft.Text("name", max_length=100)], outputs=[ft.Text("greeting")])
def greet(name: str) -> str:
    return f"Hello, {name}!"
'''


@dataclass(frozen=True)
class Targets:
    """Things that exist, so that generated requests get past the 404s some of the time."""

    shared: tuple[str, str]      # a model other tests use: read and run, never changed
    throwaway: tuple[str, str]   # this module's own model: the only one changed or deleted
    version: int
    runs: tuple[tuple[str, str | None], ...]  # (id, read token when made without an account)
    files: tuple[str, ...]
    token_id: str                # an admin token made for this module, free to revoke


@pytest.fixture(scope="module")
def gateway_api(platform: LocalPlatform) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{platform.gateway_url}/openapi.json")


@pytest.fixture(scope="module")
def targets(platform: LocalPlatform, client: feather.Client, http: httpx.Client, hello: str,
            tmp_path_factory: pytest.TempPathFactory) -> Targets:
    app = tmp_path_factory.mktemp("fuzz-target") / "app.py"
    app.write_text(THROWAWAY)
    published = client.publish(str(app))
    client.wait_ready(f"{published['owner']}/{published['name']}", published["version"], timeout=300)

    runs, files = [], []
    with httpx.Client(base_url=platform.gateway_url, timeout=60) as anonymous:
        for caller in (http, anonymous):
            run = caller.post(f"/v1/models/{hello}/runs", json={"inputs": {"name": "fuzz"}},
                              headers={"Prefer": "wait=60"})
            assert run.status_code in (201, 202), run.text
            token = parse_qs(urlsplit(run.json()["urls"]["get"]).query).get("token", [None])[0]
            runs.append((run.json()["id"], token))
            uploaded = caller.post("/v1/files", files={"file": ("fuzz.txt", b"fuzz", "text/plain")})
            assert uploaded.status_code == 201, uploaded.text
            files.append(uploaded.json()["url"].removeprefix("feather:files/"))
    token = http.post("/v1/tokens", json={"name": "fuzz"})
    assert token.status_code == 201, token.text

    owner, name = hello.split("/", 1)
    return Targets(shared=(owner, name), throwaway=(published["owner"], published["name"]),
                   version=http.get(f"/v1/models/{hello}").json()["latest_version"],
                   runs=tuple(runs), files=tuple(files), token_id=token.json()["id"])


def _aimed(operation: schemathesis.APIOperation, targets: Targets,
           anonymous: bool) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(path parameters, query) that name real things for this operation; none if it has no
    path parameters to aim."""
    names = {p.name for p in operation.path_parameters}
    if not names:
        return []
    if "owner" in names:
        changes = (operation.method.upper(), operation.path) in CHANGES_A_MODEL
        models = [targets.throwaway] if changes else [targets.shared, targets.throwaway]
        aimed = [({"owner": owner, "name": name}, {}) for owner, name in models]
    elif "run_id" in names:
        # a run made without an account is read with its token
        aimed = [({"run_id": run_id}, {"token": token} if token and anonymous else {})
                 for run_id, token in targets.runs]
    elif "fid" in names:
        aimed = [({"fid": fid}, {}) for fid in targets.files]
    elif "token_id" in names:
        aimed = [({"token_id": targets.token_id}, {})]
    else:
        return []
    if "version" in names:
        aimed = [({**path, "version": targets.version}, query) for path, query in aimed]
    return aimed


def _cases(operation: schemathesis.APIOperation, targets: Targets, token: str | None) -> st.SearchStrategy:
    """Valid and invalid requests, made up entirely or aimed at real things; with the admin's
    token or, anonymously, with whatever (never valid) credentials the generator makes."""
    headers = {"authorization": f"Bearer {token}"} if token else None
    made_up = [operation.as_strategy(mode, headers=headers) for mode in MODES]
    aimed = [operation.as_strategy(mode, headers=headers, path_parameters=path, query=query or None)
             for path, query in _aimed(operation, targets, anonymous=token is None) for mode in MODES]
    return st.one_of(*made_up, *aimed)


def _fuzz(schema: schemathesis.BaseSchema, subtests: pytest.Subtests, base_url: str, targets: Targets,
          token: str | None) -> None:
    # One subtest per operation rather than schemathesis.pytest.from_fixture, whose runner sets
    # Node._nodeid, which pytest 9.2 no longer has; this way the schema still comes from the
    # running gateway and every operation's failures are reported on their own.
    for result in schema.get_all_operations():
        operation = result.ok()

        @FUZZ
        @given(case=_cases(operation, targets, token))
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=60)

        with subtests.test(msg=operation.label):
            run()


def test_anonymous_requests(gateway_api: schemathesis.BaseSchema, subtests: pytest.Subtests,
                            platform: LocalPlatform, targets: Targets):
    _fuzz(gateway_api, subtests, platform.gateway_url, targets, token=None)


def test_admin_requests(gateway_api: schemathesis.BaseSchema, subtests: pytest.Subtests,
                        platform: LocalPlatform, targets: Targets):
    _fuzz(gateway_api, subtests, platform.gateway_url, targets, token=platform.admin_token)
