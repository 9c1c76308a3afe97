"""Who may do what: every gateway route, called as anonymous, another user and the owner against a
public, an unlisted and a private model, answers as the matrix in docs/security.md says.

The matrix is read from the docs, not repeated here, so the docs cannot drift from the API; a
route in the gateway's OpenAPI without a row fails, so a new route gets its rules written down.
"""
from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

import feather
from feather._bundle import pack
from services.local.platform import LocalPlatform

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"
SECTION = "## Who may do what"
APP = Path(__file__).resolve().parent / "models" / "access" / "app.py"
SUBJECTS = ("anonymous", "other", "owner")
VISIBILITIES = ("public", "unlisted", "private")
COLUMNS = {"Anonymous": "anonymous", "Another user": "other", "Owner": "owner"}
METHODS = ("get", "post", "put", "patch", "delete")
PASSWORD = "correct horse battery"
NAP_S = 60  # runs that must still be going when the cancel checks reach them
STATUS = re.compile(r"^(\d{3}|[1-5]xx)$")


# --- the matrix, as the docs write it ---------------------------------------------------------

@dataclass(frozen=True)
class Row:
    method: str
    path: str
    case: str  # without backticks, as the handlers below name it
    body: Any  # a JSON object the Case gives, else None
    cells: dict[str, tuple[str, ...]]  # subject -> one status, or one per visibility
    line: int

    def expected(self, subject: str, visibility: str | None) -> str:
        codes = self.cells[subject]
        return codes[0] if len(codes) == 1 else codes[VISIBILITIES.index(visibility or "public")]


def read_matrix() -> list[Row]:
    lines = DOC.read_text().splitlines()
    try:
        start = lines.index(SECTION)
    except ValueError:
        pytest.fail(f"{DOC} has no section {SECTION!r}")
    rows: list[Row] = []
    header: list[str] | None = None
    for number, line in enumerate(lines[start + 1:], start + 2):
        if line.startswith("## "):
            break
        if not line.startswith("|"):
            if header is not None:
                break  # the first table of the section is the matrix
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
            assert header[:3] == ["Method", "Path", "Case"] and set(header[3:]) == set(COLUMNS), \
                f"{DOC}:{number}: the matrix needs the columns Method, Path, Case, {', '.join(COLUMNS)}"
            continue
        if all(set(c) <= set("-: ") for c in cells):
            continue
        assert len(cells) == len(header), f"{DOC}:{number}: {len(cells)} cells, the header has {len(header)}"
        raw_case = cells[2]
        body = None
        if (found := re.search(r"`(\{.*\})`", raw_case)) is not None:
            body = json.loads(found.group(1))
        by_subject = {}
        for title, cell in zip(header[3:], cells[3:]):
            codes = tuple(c.strip() for c in cell.replace("`", "").split("/"))
            assert len(codes) in (1, 3) and all(STATUS.match(c) for c in codes), \
                f"{DOC}:{number}: {title} {cell!r} is not one status or three (public / unlisted / private)"
            by_subject[COLUMNS[title]] = codes
        rows.append(Row(cells[0].strip("`").upper(), cells[1].strip("`"), raw_case.replace("`", ""), body,
                        by_subject, number))
    assert rows, f"{DOC}: the section {SECTION!r} has no table"
    return rows


def api_routes(platform: LocalPlatform) -> set[tuple[str, str]]:
    doc = httpx.get(f"{platform.gateway_url}/openapi.json", timeout=30).json()
    return {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops if m in METHODS}


def matches(expected: str, status: int) -> bool:
    return str(status) == expected or (expected.endswith("xx") and str(status)[0] == expected[0])


def test_every_route_has_a_row_and_every_row_a_route(platform: LocalPlatform):
    rows = read_matrix()
    documented = {(r.method, r.path) for r in rows}
    served = api_routes(platform)
    missing = sorted(served - documented)
    gone = sorted(documented - served)
    assert not missing and not gone, (
        "docs/security.md's matrix and the gateway's OpenAPI differ:\n"
        + "".join(f"  no row for {m} {p} (add its rules to the matrix)\n" for m, p in missing)
        + "".join(f"  a row for {m} {p}, which the API no longer has\n" for m, p in gone))


# --- what the checks are made against ---------------------------------------------------------

@dataclass
class World:
    clients: dict[str, httpx.Client]
    base: str
    tmp: Path  # where app folders under new names go
    tag: str
    other_name: str
    folders: dict[str, Path]  # a model's reference -> the app folder it was published from
    models: dict[str, str]  # visibility -> owner/name
    doomed: dict[str, str]  # visibility -> owner/name, to be deleted by the DELETE checks
    versions: dict[str, int]
    uploads: dict[str, dict[str, Any]]  # subject -> the answer to their upload
    runs: dict[str, dict[str, dict[str, Any]]]  # visibility -> creator -> a finished run's answer
    going: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)  # still running


def fid_of(value: dict[str, Any]) -> str:
    return value["url"].removeprefix("feather:files/")


def token_of(run: dict[str, Any]) -> str | None:
    return (parse_qs(urlsplit(run["urls"]["get"]).query).get("token") or [None])[0]


def app_named(tmp: Path, name: str) -> Path:
    """The access test model under another name: the SDK takes a model's name from its code."""
    folder = tmp / name
    folder.mkdir()
    source = APP.read_text()
    assert 'ft.Model("access"' in source
    (folder / "app.py").write_text(source.replace('ft.Model("access"', f'ft.Model("{name}"'))
    return folder / "app.py"


def finished(client: httpx.Client, answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code in (201, 202), answer.text
    run = answer.json()
    deadline = time.monotonic() + 120
    while run["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        run = client.get(run["urls"]["get"]).json()
    assert run["status"] == "succeeded", run
    return run


@pytest.fixture(scope="module")
def world(platform: LocalPlatform, client: feather.Client, http: httpx.Client,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("access-apps")
    tag = secrets.token_hex(3)
    base = platform.gateway_url
    folders: dict[str, Path] = {}

    def publish(name: str) -> tuple[str, int]:
        path = app_named(tmp, name)
        answer = client.publish(str(path))
        ref = f"{answer['owner']}/{answer['name']}"
        folders[ref] = path
        return ref, answer["version"]

    published = {v: publish(f"acc-{v}-{tag}") for v in VISIBILITIES}
    for ref, version in published.values():
        client.wait_ready(ref, version, timeout=300)
    # only deleted, never run: built or not makes no difference to who may delete them
    doomed = {v: publish(f"acc-gone-{v}-{tag}")[0] for v in VISIBILITIES}

    browser = httpx.Client(base_url=base, timeout=30)
    other_name = "mx" + tag
    signed = browser.post("/v1/auth/signup", json={"username": other_name, "password": PASSWORD})
    assert signed.status_code == 201, signed.text
    made = browser.post("/v1/tokens", json={"name": "matrix"}, headers={"X-CSRF-Token": signed.json()["csrf_token"]})
    assert made.status_code == 201, made.text
    browser.close()
    clients = {"anonymous": httpx.Client(base_url=base, timeout=30),
               "other": httpx.Client(base_url=base, timeout=30,
                                     headers={"Authorization": f"Bearer {made.json()['token']}"}),
               "owner": http}

    uploads = {}
    for subject, c in clients.items():
        answer = c.post("/v1/files", files={"file": (f"by-{subject}.txt", f"from {subject}".encode(), "text/plain")})
        assert answer.status_code == 201, answer.text
        uploads[subject] = answer.json()

    def inputs(subject: str, seconds: float = 0) -> dict[str, Any]:
        return {"inputs": {"doc": {"url": uploads[subject]["url"]}, "seconds": seconds}}

    # every run is made while its model is public: nobody but the owner could make one later
    def runs_of(visibility: str) -> dict[str, dict[str, Any]]:
        ref = published[visibility][0]
        return {creator: finished(c, c.post(f"/v1/models/{ref}/runs", json=inputs(creator),
                                            headers={"Prefer": "wait"}))
                for creator, c in clients.items()}

    with ThreadPoolExecutor(len(VISIBILITIES)) as pool:
        runs = dict(zip(VISIBILITIES, pool.map(runs_of, VISIBILITIES)))
    w = World(clients, base, tmp, tag, other_name, folders, {v: r for v, (r, _) in published.items()}, doomed,
              {r: n for r, n in published.values()}, uploads, runs)
    # a cancel that is allowed ends its run, so each cancel check gets a run of its own
    for visibility in VISIBILITIES:
        ref = w.models[visibility]
        for kind, creator in RUN_KINDS.items():
            for subject in SUBJECTS:
                answer = clients[creator].post(f"/v1/models/{ref}/runs", json=inputs(creator, NAP_S))
                assert answer.status_code == 202, answer.text
                w.going[visibility, kind, subject] = answer.json()
    for visibility in ("unlisted", "private"):
        for ref in (w.models[visibility], w.doomed[visibility]):
            changed = http.patch(f"/v1/models/{ref}", json={"visibility": visibility})
            assert changed.status_code == 200 and changed.json()["visibility"] == visibility, changed.text
    yield w
    for run in w.going.values():  # free the workers for whatever runs next
        http.post(f"/v1/runs/{run['id']}/cancel")
    for subject in ("anonymous", "other"):
        clients[subject].close()


# --- how each row of the matrix is called -----------------------------------------------------

@dataclass
class Request:
    method: str
    url: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    client: httpx.Client | None = None  # another than the subject's own, e.g. with a session


Handler = Callable[[World, str, "str | None", str], Request]
HANDLERS: dict[tuple[str, str, str], tuple[Handler, bool]] = {}
RUN_KINDS = {"the owner's run": "owner", "another user's run": "other",
             "an anonymous run, with ?token=": "anonymous", "an anonymous run, id only": "anonymous"}


def handles(method: str, path: str, *cases: str, per_visibility: bool = True):
    """Registers how to call ``method path`` for the given Case texts (backticks dropped)."""
    def register(fn: Handler) -> Handler:
        for case in cases:
            HANDLERS[method, path, case] = (fn, per_visibility)
        return fn
    return register


def filled(path: str, w: World, visibility: str | None, **given: str) -> str:
    """``path`` with its parameters taken from the setup; an unknown one fails the row."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        model = w.models[visibility or "public"]
        known = {"owner": model.split("/")[0], "name": model.split("/")[1], "version": str(w.versions[model]),
                 "run_id": w.runs[visibility or "public"]["owner"]["id"],
                 "fid": fid_of(w.uploads["owner"]), "task": "no-model-names-this", "battle_id": "no-such-battle", "side": "a",
                 **given}
        if name not in known:
            raise LookupError(f"no value for the path parameter {{{name}}}: teach the matrix test one")
        return known[name]
    return re.sub(r"\{(\w+)\}", value, path)


def generic(row: Row, w: World, visibility: str | None) -> Request:
    kwargs: dict[str, Any] = {}
    if row.body is not None:
        kwargs["json"] = row.body
    elif row.method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {}
    return Request(row.method, filled(row.path, w, visibility), kwargs)


def generic_per_visibility(row: Row) -> bool:
    return "{owner}" in row.path or "{run_id}" in row.path


@handles("GET", "/v1/models", "the public catalogue", "?owner=me", per_visibility=False)
def _catalogue(w: World, subject: str, visibility: str | None, kind: str) -> Request:
    return Request("GET", "/v1/models", {"params": {"owner": "me"}} if kind == "?owner=me" else {})


@handles("POST", "/v1/models", "a bundle", per_visibility=False)
def _publish(w: World, subject: str, visibility: str | None, kind: str) -> Request:
    if subject == "owner":  # the public model's own bundle again: no new build
        path = w.folders[w.models["public"]]
    else:
        name = f"acc-by-{subject}-{w.tag}"
        path = app_named(w.tmp, name)
    return Request("POST", "/v1/models", {"files": {"bundle": ("bundle.tar.gz", pack(path), "application/gzip")}})


@handles("PATCH", "/v1/models/{owner}/{name}", "a new description")
def _describe(w: World, subject: str, visibility: str | None, kind: str) -> Request:
    return Request("PATCH", f"/v1/models/{w.models[visibility]}", {"json": {"description": f"set by {subject}"}})


@handles("DELETE", "/v1/models/{owner}/{name}", "a model made for the call")
def _delete(w: World, subject: str, visibility: str | None, kind: str) -> Request:
    # subjects come in the order anonymous, other, owner: only the last may delete it
    return Request("DELETE", f"/v1/models/{w.doomed[visibility]}")


@handles("POST", "/v1/models/{owner}/{name}/runs", "a run of one step")
def _run(w: World, subject: str, visibility: str | None, kind: str) -> Request:
    return Request("POST", f"/v1/models/{w.models[visibility]}/runs",
                   {"json": {"inputs": {"doc": {"url": w.uploads[subject]["url"]}, "seconds": 0}}})


def _run_params(kind: str, run: dict[str, Any]) -> dict[str, Any]:
    return {"params": {"token": token_of(run)}} if kind.endswith("?token=") else {}


@handles("GET", "/v1/runs/{run_id}", *RUN_KINDS)
def _read_run(w: World, subject: str, visibility: str | None, kind: str) -> Request:
    run = w.runs[visibility][RUN_KINDS[kind]]
    return Request("GET", f"/v1/runs/{run['id']}", _run_params(kind, run))


@handles("GET", "/v1/runs/{run_id}/stream", *RUN_KINDS)
def _run_stream(w: World, subject: str, visibility: str | None, kind: str) -> Request:
    run = w.runs[visibility][RUN_KINDS[kind]]
    return Request("GET", f"/v1/runs/{run['id']}/stream", _run_params(kind, run))


@handles("GET", "/v1/runs/{run_id}/webhooks", *RUN_KINDS)
def _run_webhooks(w: World, subject: str, visibility: str | None, kind: str) -> Request:
    run = w.runs[visibility][RUN_KINDS[kind]]
    return Request("GET", f"/v1/runs/{run['id']}/webhooks", _run_params(kind, run))


@handles("POST", "/v1/runs/{run_id}/feedback", *RUN_KINDS)
def _feedback(w: World, subject: str, visibility: str | None, kind: str) -> Request:
    run = w.runs[visibility][RUN_KINDS[kind]]
    params = _run_params(kind, run)
    return Request("POST", f"/v1/runs/{run['id']}/feedback", {**params, "json": {"rating": "up"}})


GOING = {"the owner's run, still going": "the owner's run",
         "another user's run, still going": "another user's run",
         "an anonymous run, still going, with ?token=": "an anonymous run, with ?token=",
         "an anonymous run, still going, id only": "an anonymous run, id only"}


@handles("POST", "/v1/runs/{run_id}/cancel", *GOING)
def _cancel(w: World, subject: str, visibility: str | None, kind: str) -> Request:
    run = w.going[visibility, GOING[kind], subject]
    return Request("POST", f"/v1/runs/{run['id']}/cancel", _run_params(GOING[kind], run))


@handles("POST", "/v1/files", "a file", per_visibility=False)
def _upload(w: World, subject: str, visibility: str | None, kind: str) -> Request:
    return Request("POST", "/v1/files", {"files": {"file": ("check.txt", b"checked", "text/plain")}})


UPLOADS = {"the owner's upload": "owner", "another user's upload": "other", "an anonymous upload": "anonymous"}


@handles("GET", "/v1/files/{fid}", *UPLOADS, per_visibility=False)
def _download(w: World, subject: str, visibility: str | None, kind: str) -> Request:
    return Request("GET", "/v1/files/" + fid_of(w.uploads[UPLOADS[kind]]))


def _strip_token(href: str) -> str:
    return re.sub(r"&token=[^&]*", "", href)


THROUGH_RUNS: dict[str, Callable[[dict[str, dict[str, Any]]], str]] = {
    "a run's output, id only": lambda r: "/v1/files/" + fid_of(r["owner"]["outputs"]["copy"]),
    "the owner's run's output, ?run=": lambda r: r["owner"]["outputs"]["copy"]["href"],
    "another user's run's output, ?run=": lambda r: r["other"]["outputs"]["copy"]["href"],
    "another user's upload, ?run= of their run": lambda r: r["other"]["inputs"]["doc"]["href"],
    "an anonymous run's output, ?run=&token=": lambda r: r["anonymous"]["outputs"]["copy"]["href"],
    "an anonymous run's output, ?run= only": lambda r: _strip_token(r["anonymous"]["outputs"]["copy"]["href"]),
}


@handles("GET", "/v1/files/{fid}", *THROUGH_RUNS)
def _download_through_run(w: World, subject: str, visibility: str | None, kind: str) -> Request:
    return Request("GET", THROUGH_RUNS[kind](w.runs[visibility]))


def _spare_token(w: World, holder: str) -> str:
    made = w.clients[holder].post("/v1/tokens", json={"name": "spare"})
    assert made.status_code == 201, made.text
    return made.json()["id"]


@handles("DELETE", "/v1/tokens/{token_id}", "the caller's own token, made for the call", per_visibility=False)
def _revoke_own(w: World, subject: str, visibility: str | None, kind: str) -> Request:
    holder = "owner" if subject == "anonymous" else subject  # anonymous has none: the owner's stands in
    return Request("DELETE", f"/v1/tokens/{_spare_token(w, holder)}")


@handles("DELETE", "/v1/tokens/{token_id}", "someone else's token, made for the call", per_visibility=False)
def _revoke_theirs(w: World, subject: str, visibility: str | None, kind: str) -> Request:
    holder = "owner" if subject == "other" else "other"
    return Request("DELETE", f"/v1/tokens/{_spare_token(w, holder)}")


@handles("POST", "/v1/tokens", "a new token", per_visibility=False)
def _new_token(w: World, subject: str, visibility: str | None, kind: str) -> Request:
    return Request("POST", "/v1/tokens", {"json": {"name": "matrix check"}})


@handles("POST", "/v1/auth/signup", "a new name", per_visibility=False)
def _signup(w: World, subject: str, visibility: str | None, kind: str) -> Request:
    name = f"mx{w.tag}-{subject}"
    return Request("POST", "/v1/auth/signup", {"json": {"username": name, "password": PASSWORD}})


@handles("POST", "/v1/auth/login", "the right password", "a wrong password", per_visibility=False)
def _login(w: World, subject: str, visibility: str | None, kind: str) -> Request:
    password = PASSWORD if kind == "the right password" else PASSWORD + "?"
    return Request("POST", "/v1/auth/login", {"json": {"username": w.other_name, "password": password}})


@handles("POST", "/v1/auth/logout", "the caller's session", per_visibility=False)
def _logout(w: World, subject: str, visibility: str | None, kind: str) -> Request:
    if subject != "other":  # anonymous has no session, and the owner signs in with a token only
        return Request("POST", "/v1/auth/logout")
    browser = httpx.Client(base_url=w.base, timeout=30)  # a session of its own, so logging out costs nothing
    assert browser.post("/v1/auth/login", json={"username": w.other_name, "password": PASSWORD}).status_code == 200
    return Request("POST", "/v1/auth/logout", {"headers": {"X-CSRF-Token": browser.cookies.get("feather_csrf")}},
                   client=browser)


def request_for(row: Row, w: World, subject: str, visibility: str | None) -> Request:
    found = HANDLERS.get((row.method, row.path, row.case))
    if found is None:
        return generic(row, w, visibility)
    return found[0](w, subject, visibility, row.case)


def per_visibility(row: Row) -> bool:
    found = HANDLERS.get((row.method, row.path, row.case))
    return found[1] if found is not None else generic_per_visibility(row)


# --- the walk ---------------------------------------------------------------------------------

@dataclass
class Outcome:
    checks: int = 0
    wrong: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str) -> None:
        self.checks += 1
        if not ok:
            self.wrong.append(what)


def send(w: World, subject: str, req: Request) -> httpx.Response:
    c = req.client or w.clients[subject]
    try:
        return c.request(req.method, req.url, **req.kwargs)
    finally:
        c.cookies.clear()  # an answer's cookies (signup, login) must not change who the next call is
        if req.client is not None:
            req.client.close()


def walk(rows: list[Row], w: World, served: set[tuple[str, str]], outcome: Outcome) -> None:
    for row in rows:
        if (row.method, row.path) not in served:
            continue  # the coverage test reports it
        visibilities: tuple[str | None, ...] = VISIBILITIES if per_visibility(row) else (None,)
        if not per_visibility(row) and any(len(c) == 3 for c in row.cells.values()):
            outcome.check(False, f"{DOC.name}:{row.line} {row.method} {row.path} [{row.case}]: three statuses "
                                 "for a call that is about no model")
            continue
        for subject in SUBJECTS:
            for visibility in visibilities:
                where = f"{row.method} {row.path} [{row.case}] as {subject}"
                where += f" on {visibility}" if visibility else ""
                try:
                    req = request_for(row, w, subject, visibility)
                except LookupError as exc:
                    outcome.check(False, f"{where}: {exc}")
                    continue
                answer = send(w, subject, req)
                expected = row.expected(subject, visibility)
                outcome.check(matches(expected, answer.status_code),
                              f"{where}: expected {expected}, got {answer.status_code} {answer.text[:120]}")


def listings(w: World, outcome: Outcome) -> None:
    """What a 200 may contain: lists and answers that show nothing they should not."""
    mine = {v: w.models[v] for v in VISIBILITIES}
    for subject, c in w.clients.items():
        shown = {m["id"] for m in c.get("/v1/models", params={"q": w.tag, "limit": 200}).json()["items"]}
        outcome.check(shown & set(mine.values()) == {mine["public"]},
                      f"GET /v1/models as {subject}: the catalogue shows {sorted(shown)}, only the public model may")
    theirs = {m["id"] for m in w.clients["other"].get("/v1/models", params={"owner": "me"}).json()["items"]}
    outcome.check(not theirs & set(mine.values()), f"GET /v1/models?owner=me as other shows {sorted(theirs)}")
    own = {m["id"] for m in w.clients["owner"].get("/v1/models", params={"owner": "me", "limit": 200}).json()["items"]}
    outcome.check(set(mine.values()) <= own, "GET /v1/models?owner=me as owner lacks the owner's models")

    def runs_listed(subject: str) -> set[str]:
        return {r["id"] for r in w.clients[subject].get("/v1/runs", params={"limit": 200}).json()["items"]}

    listed = runs_listed("other")
    for visibility in VISIBILITIES:
        other_run, owner_run = w.runs[visibility]["other"]["id"], w.runs[visibility]["owner"]["id"]
        should = visibility != "private"  # a private model's runs answer 404 to all but its owner
        outcome.check((other_run in listed) == should,
                      f"GET /v1/runs as other on {visibility}: " + ("their own run is missing" if should else
                      "lists their run of a private model, inputs and outputs included"))
        outcome.check(owner_run not in listed and w.runs[visibility]["anonymous"]["id"] not in listed,
                      f"GET /v1/runs as other on {visibility}: lists runs someone else made")
        outcome.check(other_run not in runs_listed("owner"), f"GET /v1/runs as owner on {visibility}: "
                                                             "lists a run another user made")
    owner_tokens = {t["id"] for t in w.clients["owner"].get("/v1/tokens").json()["items"]}
    other_tokens = {t["id"] for t in w.clients["other"].get("/v1/tokens").json()["items"]}
    outcome.check(bool(other_tokens) and not owner_tokens & other_tokens,
                  "GET /v1/tokens: a token listed to both users")
    run = w.runs["public"]["other"]
    as_creator = w.clients["other"].get(f"/v1/runs/{run['id']}").json()
    as_owner = w.clients["owner"].get(f"/v1/runs/{run['id']}").json()
    outcome.check(as_creator["logs"] is None and as_creator["traceback"] is None,
                  "GET /v1/runs/{run_id} as other: logs or traceback shown to someone not the owner")
    outcome.check(as_owner["logs"] is not None, "GET /v1/runs/{run_id} as owner: no logs")
    for creator, made in w.runs["public"].items():
        token = token_of(made)
        outcome.check((token is not None) == (creator == "anonymous"),
                      f"POST /v1/models/{{owner}}/{{name}}/runs as {creator}: "
                      f"{'no' if token is None else 'a'} read token in urls.get")
        href = made["outputs"]["copy"]["href"]
        outcome.check(f"?run={made['id']}" in href and (f"&token={token}" in href) == (token is not None),
                      f"a file value in {creator}'s run answer links {href}")


def test_every_route_answers_as_the_matrix_says(platform: LocalPlatform, world: World):
    began = time.monotonic()
    rows = read_matrix()
    # a route the handlers know with a Case they do not is most likely a typo in the docs; a
    # route they do not know at all (a new one) is called with its parameters filled in
    known_routes = {(m, p) for m, p, _ in HANDLERS}
    unknown = [f"{DOC.name}:{r.line}: {r.method} {r.path} [{r.case}]: a Case the test has no call for"
               for r in rows if (r.method, r.path) in known_routes and (r.method, r.path, r.case) not in HANDLERS]
    served = api_routes(platform)
    outcome = Outcome()
    # publishing starts a build, which only slows the other checks: it goes last
    last = [r for r in rows if (r.method, r.path) == ("POST", "/v1/models")]
    walk([r for r in rows if r not in last], world, served, outcome)
    before = outcome.checks
    listings(world, outcome)
    listed = outcome.checks - before
    walk(last, world, served, outcome)
    print(f"\naccess matrix: {len(rows)} rows, {outcome.checks - listed} statuses and {listed} listings checked "
          f"in {time.monotonic() - began:.1f}s; {len(outcome.wrong)} disagree")
    problems = unknown + outcome.wrong
    assert not problems, f"{len(problems)} answers or rows differ from {DOC.name}'s matrix:\n  " \
                         + "\n  ".join(problems)
