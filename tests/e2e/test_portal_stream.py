"""A streaming step in the portal, in headless Chromium against the running platform: the model
form and a running run's permalink page show the text growing word by word as the model yields it,
over the run's event stream (not polling), then the finished run. Screenshots in
test-artifacts/portal/."""
from __future__ import annotations

from pathlib import Path

import feather
import httpx
import pytest
from test_portal import shot

from services.local.platform import LocalPlatform
from publishing import published

pytestmark = pytest.mark.e2e
MODELS = Path(__file__).resolve().parent / "models"
WHOLE = " ".join(str(i) for i in range(1, 21))  # what the stream model writes for n=20, in about 3 s

# The text of the Words output while it is still being written (the streaming note shown),
# once it is longer than `after` characters; null otherwise.
PARTIAL = """([whole, after]) => {
  const block = document.querySelector('section.output[aria-label="Words"]');
  const text = block?.querySelector("pre")?.textContent.trim() ?? "";
  const streaming = Boolean(block?.querySelector(".streaming"));
  return streaming && text.startsWith("1 2") && text !== whole && text.length > after ? text : null;
}"""
FINISHED = """(whole) => {
  const block = document.querySelector('section.output[aria-label="Words"]');
  return block?.querySelector("pre")?.textContent === whole && !block.querySelector(".streaming");
}"""


@pytest.fixture(scope="module")
def streaming(client: feather.Client) -> str:
    return published(client, MODELS / "stream" / "app.py")


def requests_of(page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(f"{r.method} {r.url}"))
    return seen


def watch_words_grow(page, name: str) -> list[str]:
    """Two moments of the text being written, one longer than the other, then the whole text."""
    first = page.wait_for_function(PARTIAL, arg=[WHOLE, 0], timeout=30_000).json_value()
    shot(page, name)
    later = page.wait_for_function(PARTIAL, arg=[WHOLE, len(first)], timeout=30_000).json_value()
    page.wait_for_function(FINISHED, arg=WHOLE, timeout=30_000)
    assert WHOLE.startswith(first) and WHOLE.startswith(later) and len(first) < len(later) < len(WHOLE)
    return [first, later]


def test_the_model_form_shows_the_words_as_they_are_written(page, platform: LocalPlatform, streaming: str):
    seen = requests_of(page)
    page.goto(f"{platform.gateway_url}/m/{streaming}")
    page.get_by_role("textbox", name="N", exact=True).fill("20")
    page.get_by_role("button", name="Run").click()
    partials = watch_words_grow(page, "stream-form-partial")
    permalink = page.get_by_role("link", name="Permalink to this run")  # shown once the run ended
    run_id = permalink.get_attribute("href").split("/")[-1].split("?")[0]
    print(f"seen while streaming: {partials!r}")
    assert page.locator(".run-status .badge").inner_text() == "succeeded"
    assert any(r.startswith("GET ") and f"/v1/runs/{run_id}/stream" in r for r in seen)
    assert not any(r.startswith("GET ") and r.split("?")[0].endswith(f"/v1/runs/{run_id}") for r in seen), \
        "the form polled the run instead of following its stream"


def test_a_running_runs_permalink_page_follows_it(page, platform: LocalPlatform, streaming: str):
    seen = requests_of(page)
    # made without an account: its permalink carries the run's read token, and so does its stream
    run = httpx.post(f"{platform.gateway_url}/v1/models/{streaming}/runs", json={"inputs": {"n": 20}}, timeout=30)
    assert run.status_code == 202, run.text
    answer = run.json()
    token = answer["urls"]["get"].split("token=", 1)[1]
    page.goto(f"{platform.gateway_url}/runs/{answer['id']}?token={token}")
    watch_words_grow(page, "stream-permalink-partial")
    page.get_by_role("link", name="Permalink to this run").wait_for()
    assert page.locator(".run-status .badge").inner_text() == "succeeded"
    assert any(f"/v1/runs/{answer['id']}/stream?token=" in r for r in seen)
    final = httpx.get(f"{platform.gateway_url}{answer['urls']['get']}", timeout=30).json()
    assert final["status"] == "succeeded" and final["outputs"] == {"words": WHOLE}
