"""The ops side in headless Chromium against the running platform: a model in two versions with
runs of both and labelled feedback, then its dashboard, the owner's alert rules and drift reference
there, feedback after a run, the arena and the task's leaderboard, then deploying the older
version from My models and the dashboard's field profiles, each checked against what the API
answers. Screenshots in test-artifacts/portal/."""
from __future__ import annotations

import secrets
import textwrap
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import feather
import httpx
import pytest
from test_flow import eventually
from test_portal import shot

from services.local.platform import LocalPlatform
from publishing import published

pytestmark = pytest.mark.e2e
PASSWORD = "correct horse battery"
APP = '''
import feather as ft

model = ft.Model("{name}", description="Says whether a word is short or long.", task="{task}")


@model.step(inputs=[ft.Text("word", max_length=40)], outputs=[ft.Label("kind")])
def judge(word: str) -> str:
    """Short or long?"""
    return "short" if len(word) < {cut} else "long"
'''


def app(folder: Path, name: str, task: str, cut: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text(textwrap.dedent(APP).format(name=name, task=task, cut=cut))
    return folder / "app.py"


@pytest.fixture(scope="module")
def ops(platform: LocalPlatform, tmp_path_factory):
    """A user with two models of one task; the first in two versions, with runs and feedback."""
    tag = secrets.token_hex(3)
    user = "ops" + tag
    session = httpx.Client(base_url=platform.gateway_url, timeout=60)
    signed = session.post("/v1/auth/signup", json={"username": user, "password": PASSWORD})
    assert signed.status_code == 201, signed.text
    token = session.post("/v1/tokens", json={"name": "ops"},
                         headers={"X-CSRF-Token": signed.json()["csrf_token"]}).json()["token"]
    task, tmp = f"wordlen-{tag}", tmp_path_factory.mktemp("ops-apps")
    with feather.Client(platform.gateway_url, token=token) as client:
        first = published(client, app(tmp / "a", f"wordlen-{tag}", task, 5))
        published(client, app(tmp / "a", f"wordlen-{tag}", task, 6))  # version 2: another cut-off
        second = published(client, app(tmp / "b", f"wordlen-b-{tag}", task, 3))
        for version, words in ((1, ["tiny", "enormous", "abcde"]), (2, ["tiny", "enormous", "abcde", "xx"])):
            for word in words:
                run = client.run(first, version=version, word=word)
                client.feedback(run, rating="up", label="short" if len(word) <= 5 else "long")
    yield {"user": user, "token": token, "task": task, "first": first, "second": second,
           "cookies": session.cookies, "http": httpx.Client(base_url=platform.gateway_url, timeout=60,
                                                            headers={"Authorization": f"Bearer {token}"})}
    session.close()


def signed_in(page, platform: LocalPlatform, ops) -> None:
    host = urlsplit(platform.gateway_url).hostname
    page.context.add_cookies([{"name": c.name, "value": c.value, "domain": host, "path": "/"} for c in ops["cookies"].jar])


def test_the_dashboard_shows_what_the_api_answers(page, platform: LocalPlatform, ops):
    http, ref = ops["http"], ops["first"]
    metrics = eventually(lambda: http.get(f"/v1/models/{ref}/metrics").json(), lambda m: m["runs"] == 7)
    feedback = eventually(lambda: http.get(f"/v1/models/{ref}/feedback").json(), lambda f: f["labelled"] == 7)
    assert metrics["runs"] == 7 and feedback["labelled"] == 7
    signed_in(page, platform, ops)
    page.goto(f"{platform.gateway_url}/m/{ref}/dashboard")
    totals = page.get_by_role("region", name="Totals")
    totals.get_by_text("Runs").wait_for()
    assert totals.locator(".tile").nth(0).locator(".tile-value").inner_text() == str(metrics["runs"])
    assert page.get_by_test_id("accuracy").inner_text() == f"{feedback['accuracy'] * 100:.1f}%"
    versions = page.get_by_role("region", name="Versions")
    for v in (1, 2):
        per = http.get(f"/v1/models/{ref}/metrics", params={"version": v}).json()
        row = versions.get_by_role("row").filter(has=page.get_by_role("rowheader", name=str(v), exact=True))
        assert row.get_by_role("cell").first.inner_text() == str(per["runs"])
    page.get_by_role("region", name="Drift").get_by_text("Version 2", exact=False).wait_for()
    page.locator("canvas").first.wait_for()  # the charts are drawn
    shot(page, "dashboard")


def test_the_owner_sets_alert_rules_and_pins_the_drift_reference(page, platform: LocalPlatform, ops):
    http, ref = ops["http"], ops["first"]
    signed_in(page, platform, ops)
    page.goto(f"{platform.gateway_url}/m/{ref}/dashboard")
    alerts = page.get_by_role("region", name="Alerts")
    alerts.get_by_role("button", name="Edit rules").click()
    alerts.get_by_role("button", name="Add a rule").click()
    rule = alerts.get_by_role("group", name="Rule 1")
    rule.get_by_label("Name", exact=True).fill("slow answers")
    rule.get_by_label("Metric", exact=True).select_option("p95_ms")
    rule.get_by_label("Threshold", exact=True).fill("60000")
    rule.get_by_label("Window (min)", exact=True).fill("30")
    rule.get_by_label("Minimum runs", exact=True).fill("5")
    alerts.get_by_label("Webhook URL").fill("https://hooks.example.com/feather")
    shot(page, "dashboard-alert-editor")
    alerts.get_by_role("button", name="Save").click()
    alerts.get_by_role("status").get_by_text("Saved 1 rule", exact=False).wait_for()
    stored = http.get(f"/v1/models/{ref}/alerts").json()
    assert [{k: r[k] for k in ("name", "metric", "threshold", "window_min", "min_runs")} for r in stored["rules"]] == [
        {"name": "slow answers", "metric": "p95_ms", "threshold": 60000, "window_min": 30, "min_runs": 5}]
    assert stored["webhook"] == "https://hooks.example.com/feather"
    alerts.get_by_role("rowheader", name="slow answers").wait_for()
    assert page.get_by_test_id("webhook-secret").inner_text() == stored["secret"]
    shot(page, "dashboard-alert-rules")

    drift = page.get_by_role("region", name="Drift")
    assert "first 1,000 runs" in page.get_by_test_id("drift-reference").inner_text()
    drift.get_by_role("button", name="Pin reference").click()
    drift.get_by_role("status").get_by_text("is now compared", exact=False).wait_for()
    page.get_by_test_id("drift-reference").get_by_text("the pinned window", exact=False).wait_for()
    report = http.get(f"/v1/models/{ref}/drift").json()
    assert report["reference"]["pinned"] is True
    span = datetime.fromisoformat(report["reference"]["to"]) - datetime.fromisoformat(report["reference"]["from"])
    assert abs(span - timedelta(hours=24)) <= timedelta(seconds=1)  # the dashboard's window, to the second
    shot(page, "dashboard-pinned-reference")


def test_feedback_after_a_run_reaches_the_dashboard(page, platform: LocalPlatform, ops):
    http, ref = ops["http"], ops["first"]
    before = http.get(f"/v1/models/{ref}/feedback").json()["down"]
    signed_in(page, platform, ops)
    page.goto(f"{platform.gateway_url}/m/{ref}")
    page.get_by_label("Word").fill("medium")
    page.get_by_role("button", name="Run").click()
    page.get_by_role("button", name="Bad answer").click()
    page.get_by_role("status").get_by_text("Thanks, noted").wait_for()
    shot(page, "feedback-after-a-run")
    after = eventually(lambda: http.get(f"/v1/models/{ref}/feedback").json()["down"], lambda n: n == before + 1)
    assert after == before + 1


def test_the_arena_hides_the_models_until_the_vote_and_ranks_the_task(page, platform: LocalPlatform, ops):
    http, task = ops["http"], ops["task"]
    signed_in(page, platform, ops)
    page.goto(f"{platform.gateway_url}/tasks/{task}/arena")
    page.get_by_label("Word").fill("abcd")
    page.get_by_role("button", name="Run both").click()
    page.get_by_role("button", name="A is better").wait_for()
    for ref in (ops["first"], ops["second"]):
        assert page.get_by_text(ref, exact=True).count() == 0  # not named before the vote
    shot(page, "arena-before-the-vote")
    page.get_by_role("button", name="A is better").click()
    page.get_by_role("status").get_by_text("you voted", exact=False).wait_for()
    named = {ops["first"], ops["second"]}
    assert sum(page.get_by_text(ref, exact=True).count() for ref in named) == 2
    shot(page, "arena-after-the-vote")
    board = eventually(lambda: http.get(f"/v1/tasks/{task}/leaderboard").json(), lambda b: b["votes"] == 1)
    assert board["votes"] == 1
    page.goto(f"{platform.gateway_url}/tasks/{task}")
    page.get_by_role("region", name="Arena (1 votes)").wait_for()
    top = page.get_by_role("region", name="Arena (1 votes)").get_by_role("row").nth(1)
    assert board["arena"][0]["model"] in top.inner_text()
    shot(page, "leaderboard")


# last in the module: the tests above expect the newest version to serve
def test_the_owner_deploys_an_older_version_and_reads_the_field_profiles(page, platform: LocalPlatform, ops):
    http, ref = ops["http"], ops["first"]
    assert http.get(f"/v1/models/{ref}").json()["deployment"]["version"] == 2
    signed_in(page, platform, ops)
    page.goto(f"{platform.gateway_url}/me/models")
    control = page.get_by_role("group", name=f"Deployment of {ref}")
    control.get_by_text("Serving v2", exact=True).wait_for()
    control.get_by_label("Version to deploy").select_option("1")
    control.get_by_role("button", name="Deploy", exact=True).click()
    control.get_by_role("status").get_by_text("Deployed: v1", exact=False).wait_for()
    deployment = http.get(f"/v1/models/{ref}").json()["deployment"]
    assert (deployment["version"], deployment["deployed"], deployment["previous"]) == (1, 1, 2)
    control.get_by_text("Serving v1", exact=True).wait_for()
    control.get_by_role("button", name="Roll back to v2").wait_for()
    shot(page, "my-models-deployed")

    page.goto(f"{platform.gateway_url}/m/{ref}/dashboard")
    row = page.get_by_role("region", name="Fields").get_by_role("row").filter(
        has=page.get_by_role("rowheader", name="inputs.word.length", exact=True))
    row.wait_for()

    def both() -> tuple[int, str]:  # the API's count, then the page's (it refreshes every 5 s)
        fields = {f["field"]: f for f in http.get(f"/v1/models/{ref}/profiles").json()["fields"]}
        return fields["inputs.word.length"]["count"], row.get_by_role("cell").first.inner_text()

    counted, shown = eventually(both, lambda pair: pair[1] == f"{pair[0]:,}", timeout=30)
    assert shown == f"{counted:,}" and counted >= 7
    shot(page, "dashboard-fields")
