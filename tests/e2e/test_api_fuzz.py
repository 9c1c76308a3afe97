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
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, settings, strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

import feather
from services.local.platform import LocalPlatform

pytestmark = pytest.mark.e2e

CHECKS = [not_a_server_error, response_schema_conformance]
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
# Bounded for `make test`. Derandomized so a failure comes back on the next run; no shrinking,
# which would replay a failing request dozens of times against a live platform for a smaller body.
FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
# Calls that change a model go to this module's own model, never to one other tests share.
CHANGES_A_MODEL = {("PATCH", "/v1/models/{owner}/{name}"), ("DELETE", "/v1/models/{owner}/{name}")}

# two models of this module's own: one read and run (its runs, failing ones included, count in
# no other test's numbers), one changed and deleted
APP = '''import feather as ft

model = ft.Model("MODEL_NAME", description="Published by the API fuzz test.")


@model.step(inputs=[ft.Text("name", max_length=100)], outputs=[ft.Text("greeting")])
def greet(name: str) -> str:
    return f"Hello, {name}!"
'''


@dataclass(frozen=True)
class Targets:
    """Things that exist, so that generated requests get past the 404s some of the time."""

    shared: tuple[str, str]      # this module's model to read and run, never changed
    throwaway: tuple[str, str]   # this module's own model: the only one changed or deleted
    version: int
    runs: tuple[tuple[str, str | None], ...]  # (id, read token when made without an account)
    files: tuple[str, ...]
    token_id: str                # an admin token made for this module, free to revoke
    kept_tokens: frozenset[str]  # the admin's other tokens, which other tests go on using


@pytest.fixture(scope="module")
def gateway_api(platform: LocalPlatform) -> schemathesis.BaseSchema:
    # failure reports hide the admin's token but show the rest, run read tokens included
    hidden = ["authorization"]
    config = schemathesis.Config.from_dict({"output": {"sanitization": {"keys-to-sanitize": hidden,
                                                                        "sensitive-markers": hidden}}})
    return schemathesis.openapi.from_url(f"{platform.gateway_url}/openapi.json", config=config)


@pytest.fixture(scope="module")
def targets(platform: LocalPlatform, client: feather.Client, http: httpx.Client,
            tmp_path_factory: pytest.TempPathFactory) -> Targets:
    refs = []
    for name in ("fuzz-runs", "fuzz-target"):
        app = tmp_path_factory.mktemp(name) / "app.py"
        app.write_text(APP.replace("MODEL_NAME", name))
        published = client.publish(str(app))
        client.wait_ready(f"{published['owner']}/{published['name']}", published["version"], timeout=300)
        refs.append(published)
    shared, published = refs
    runs_on = f"{shared['owner']}/{shared['name']}"

    runs, files = [], []
    with httpx.Client(base_url=platform.gateway_url, timeout=60) as anonymous:
        for caller in (http, anonymous):
            run = caller.post(f"/v1/models/{runs_on}/runs", json={"inputs": {"name": "fuzz"}},
                              headers={"Prefer": "wait=60"})
            assert run.status_code in (201, 202), run.text
            token = parse_qs(urlsplit(run.json()["urls"]["get"]).query).get("token", [None])[0]
            runs.append((run.json()["id"], token))
            uploaded = caller.post("/v1/files", files={"file": ("fuzz.txt", b"fuzz", "text/plain")})
            assert uploaded.status_code == 201, uploaded.text
            files.append(uploaded.json()["url"].removeprefix("feather:files/"))
    kept = frozenset(t["id"] for t in http.get("/v1/tokens").json()["items"])
    token = http.post("/v1/tokens", json={"name": "fuzz"})
    assert token.status_code == 201, token.text

    owner, name = runs_on.split("/", 1)
    return Targets(shared=(owner, name), throwaway=(published["owner"], published["name"]),
                   version=http.get(f"/v1/models/{runs_on}").json()["latest_version"],
                   runs=tuple(runs), files=tuple(files), token_id=token.json()["id"],
                   kept_tokens=kept)


def _aimed(operation: schemathesis.APIOperation, targets: Targets,
           anonymous: bool) -> list[dict[str, Any]]:
    """Parts of a request that name real things for this operation, for ``as_strategy``."""
    method, path = operation.method.upper(), operation.path
    names = {p.name for p in operation.path_parameters}
    if "owner" in names:
        models = [targets.throwaway] if (method, path) in CHANGES_A_MODEL else [targets.shared, targets.throwaway]
        aimed = [{"path_parameters": {"owner": owner, "name": name}} for owner, name in models]
        if "version" in names:
            aimed = [{"path_parameters": {**a["path_parameters"], "version": targets.version}} for a in aimed]
        return aimed
    if "run_id" in names:
        # a run made without an account is read with its token
        return [{"path_parameters": {"run_id": run_id}, **({"query": {"token": token}} if token and anonymous else {})}
                for run_id, token in targets.runs]
    if "fid" in names:
        return [{"path_parameters": {"fid": fid}} for fid in targets.files] + \
            [{"path_parameters": {"fid": targets.files[0]}, "query": {"run": run_id}} for run_id, _ in targets.runs]
    if "token_id" in names:
        return [{"path_parameters": {"token_id": targets.token_id}}]
    if (method, path) == ("GET", "/v1/models"):
        return [{"query": {"owner": owner}} for owner in ("me", targets.shared[0])]
    if (method, path) == ("GET", "/v1/runs"):
        return [{"query": {"model": "/".join(targets.shared)}}]
    return []


def _bodies(operation: schemathesis.APIOperation, targets: Targets) -> st.SearchStrategy[dict[str, Any]] | None:
    """Bodies that get past the first checks where made-up ones seldom do: runs with inputs the
    shared model takes, replays that name records by any number."""
    call = (operation.method.upper(), operation.path)
    short = st.text(max_size=10)
    if call == ("POST", "/v1/models/{owner}/{name}/runs"):
        return st.fixed_dictionaries(
            {"inputs": st.fixed_dictionaries({"name": st.text(max_size=120)})},
            optional={"previous_run": st.sampled_from([run_id for run_id, _ in targets.runs]),
                      "previous_run_token": st.text(max_size=40), "chain": st.booleans(),
                      "step": st.sampled_from(["greet"]) | short,
                      "version": st.sampled_from([targets.version]) | st.integers(),
                      "choices": st.dictionaries(short, st.dictionaries(short, short), max_size=2),
                      "deadline_s": st.floats(min_value=0.001, max_value=900)})
    if call == ("POST", "/v1/admin/outbox/replay"):
        services = ["gateway", "registry", "builder", "executor", "telemetry"]
        # record numbers at and past the edges of the 64-bit integers the stores keep them in, too
        edges = st.sampled_from([0, -1, 2**63 - 1, 2**63, -2**63 - 1])
        return st.fixed_dictionaries({"service": st.sampled_from(services),
                                      "seqs": st.lists(edges | st.integers(), min_size=1, max_size=5)})
    return None


def _harmless(case: schemathesis.Case, targets: Targets) -> bool:
    """Whether the case leaves alone what other tests use, whatever the generator came up with."""
    call, path = (case.method.upper(), case.operation.path), case.path_parameters or {}
    if call in CHANGES_A_MODEL and (path.get("owner"), path.get("name")) == targets.shared:
        return False
    return not (call == ("DELETE", "/v1/tokens/{token_id}") and path.get("token_id") in targets.kept_tokens)


def _without_credentials(case: schemathesis.Case) -> schemathesis.Case:
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    return case


def _cases(operation: schemathesis.APIOperation, targets: Targets, token: str | None) -> st.SearchStrategy:
    """Valid and invalid requests, made up entirely or aimed at real things; with the admin's
    token, or without credentials but for some made-up (never valid) ones."""
    headers = {"authorization": f"Bearer {token}"} if token else None
    # aimed first: Hypothesis draws the earlier alternatives of one_of more often
    variants = [operation.as_strategy(mode, headers=headers, **aimed)
                for aimed in _aimed(operation, targets, anonymous=token is None) for mode in MODES]
    if (bodies := _bodies(operation, targets)) is not None:
        shared = {"owner": targets.shared[0], "name": targets.shared[1]} if operation.path_parameters else None
        variants.append(bodies.flatmap(
            lambda body: operation.as_strategy(headers=headers, path_parameters=shared, body=body)))
    variants += [operation.as_strategy(mode, headers=headers) for mode in MODES]
    if token is None:
        # the generator's Authorization values are refused before anything else is looked at:
        # most cases go without, a few keep them
        variants = [v.map(_without_credentials) for v in variants] + [operation.as_strategy()]
    return st.one_of(*variants)


class _FromAddress(requests.adapters.HTTPAdapter):
    """Connects from one loopback address of its own."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, source_address=(self.address, 0), **kwargs)


def _fuzz(schema: schemathesis.BaseSchema, subtests: pytest.Subtests, base_url: str, targets: Targets,
          token: str | None) -> None:
    # One subtest per operation rather than schemathesis.pytest.from_fixture, whose runner sets
    # Node._nodeid, which pytest 9.2 no longer has; this way the schema still comes from the
    # running gateway and every operation's failures are reported on their own.
    for index, result in enumerate(schema.get_all_operations(), start=1):
        operation = result.ok()
        # The gateway's rate limits count per client address: each operation is fuzzed from an
        # address of its own, so that neither the other tests' counts nor the earlier operations'
        # decide what it answers, and the fuzzer leaves the other tests' address alone.
        session = requests.Session()
        session.mount("http://", _FromAddress(f"127.77.{0 if token is None else 1}.{index}"))

        @FUZZ
        @given(case=_cases(operation, targets, token))
        def run(case: schemathesis.Case) -> None:
            assume(_harmless(case, targets))
            session.cookies.clear()  # a sign-up's session cookie is no credential for the next case
            case.call_and_validate(base_url=base_url, session=session, checks=CHECKS, timeout=60)

        with subtests.test(msg=operation.label), session:
            run()


def test_anonymous_requests(gateway_api: schemathesis.BaseSchema, subtests: pytest.Subtests,
                            platform: LocalPlatform, targets: Targets):
    _fuzz(gateway_api, subtests, platform.gateway_url, targets, token=None)


def test_admin_requests(gateway_api: schemathesis.BaseSchema, subtests: pytest.Subtests,
                        platform: LocalPlatform, targets: Targets):
    _fuzz(gateway_api, subtests, platform.gateway_url, targets, token=platform.admin_token)
