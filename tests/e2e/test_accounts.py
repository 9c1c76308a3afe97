"""Accounts, sessions with CSRF protection, API tokens, and model visibility enforced by the API."""
from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest

import feather
from services.local.platform import LocalPlatform

pytestmark = pytest.mark.e2e
ECHO = Path(__file__).resolve().parents[2] / "examples" / "echo" / "app.py"


def signup(platform: LocalPlatform) -> tuple[httpx.Client, str, str]:
    browser = httpx.Client(base_url=platform.gateway_url, timeout=60)
    name = "u" + secrets.token_hex(4)
    answer = browser.post("/v1/auth/signup", json={"username": name, "password": "correct horse"})
    assert answer.status_code == 201, answer.text
    return browser, name, answer.json()["csrf_token"]


def test_signup_login_sessions_and_csrf(platform: LocalPlatform):
    browser, name, csrf = signup(platform)
    cookie = next(h for h in browser.cookies.jar if h.name == "feather_session")
    raw = [v for k, v in browser.post("/v1/auth/login", json={"username": name, "password": "correct horse"})
           .headers.multi_items() if k == "set-cookie"]
    session_header = next(v for v in raw if v.startswith("feather_session="))
    assert "httponly" in session_header.lower() and "samesite=lax" in session_header.lower()
    assert cookie.value
    assert browser.get("/v1/me").json() == {"username": name}

    assert browser.post("/v1/tokens", json={"name": "x"}).status_code == 403  # no CSRF header
    csrf = browser.cookies.get("feather_csrf")
    made = browser.post("/v1/tokens", json={"name": "laptop"}, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201 and made.json()["token"].startswith("ft_")

    wrong = httpx.post(f"{platform.gateway_url}/v1/auth/login", json={"username": name, "password": "nope nope"})
    assert wrong.status_code == 401
    taken = httpx.post(f"{platform.gateway_url}/v1/auth/signup", json={"username": name, "password": "whatever1"})
    assert taken.status_code == 422 and taken.json()["detail"][0]["loc"] == ["body", "username"]
    short = httpx.post(f"{platform.gateway_url}/v1/auth/signup", json={"username": "fine-name", "password": "short"})
    assert short.status_code == 422 and short.json()["detail"][0]["loc"] == ["body", "password"]

    assert browser.post("/v1/auth/logout").status_code == 403  # another site could post this form
    assert browser.post("/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert browser.get("/v1/me").status_code == 401


def test_tokens_publish_visibility_and_revocation(platform: LocalPlatform):
    browser, name, _ = signup(platform)
    csrf = browser.cookies.get("feather_csrf")
    token = browser.post("/v1/tokens", json={"name": "ci"}, headers={"X-CSRF-Token": csrf}).json()
    listed = browser.get("/v1/tokens").json()["items"]
    assert [t["name"] for t in listed] == ["ci"] and "token" not in listed[0]

    with feather.Client(platform.gateway_url, token=token["token"]) as client:
        published = client.publish(str(ECHO))
        ref = f"{name}/echo"
        assert published["owner"] == name
        client.wait_ready(ref, published["version"], timeout=300)

    owner = httpx.Client(base_url=platform.gateway_url, headers={"Authorization": f"Bearer {token['token']}"})
    anonymous = httpx.Client(base_url=platform.gateway_url)
    run = anonymous.post(f"/v1/models/{ref}/runs", json={"inputs": {"text": "hi"}}, headers={"Prefer": "wait"}).json()
    assert run["status"] == "succeeded"

    changed = owner.patch(f"/v1/models/{ref}", json={"visibility": "private", "description": "mine only"})
    assert changed.status_code == 200 and changed.json()["visibility"] == "private"
    assert anonymous.get(f"/v1/models/{ref}").status_code == 404
    assert anonymous.post(f"/v1/models/{ref}/runs", json={"inputs": {"text": "hi"}}).status_code == 404
    assert anonymous.get(f"/v1/runs/{run['id']}").status_code == 404
    assert ref not in [m["id"] for m in anonymous.get("/v1/models").json()["items"]]
    assert owner.get(f"/v1/models/{ref}").status_code == 200
    mine = owner.get("/v1/models", params={"owner": "me"}).json()["items"]
    assert [m["id"] for m in mine] == [ref] and mine[0]["description"] == "mine only"
    assert anonymous.patch(f"/v1/models/{ref}", json={"visibility": "public"}).status_code == 401
    assert owner.patch(f"/v1/models/{ref}", json={"visibility": "secret"}).status_code == 422

    owner.patch(f"/v1/models/{ref}", json={"visibility": "unlisted"})
    assert anonymous.get(f"/v1/models/{ref}").status_code == 200
    assert ref not in [m["id"] for m in anonymous.get("/v1/models").json()["items"]]

    assert browser.delete(f"/v1/tokens/{token['id']}", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert owner.get("/v1/me").status_code == 401


def test_catalogue_search_and_popularity(platform: LocalPlatform, hello: str, http: httpx.Client):
    found = http.get("/v1/models", params={"q": "greets"}).json()["items"]
    assert hello in [m["id"] for m in found]
    assert http.get("/v1/models", params={"q": "no-such-words-anywhere"}).json()["items"] == []
    popular = http.get("/v1/models", params={"sort": "popular"}).json()["items"]
    runs = [m["runs"] for m in popular]
    assert runs == sorted(runs, reverse=True)
    assert http.get("/v1/models", params={"sort": "weird"}).status_code == 422


def test_the_gateway_serves_the_portal_for_unknown_pages(platform: LocalPlatform):
    page = httpx.get(f"{platform.gateway_url}/m/local/hello")
    assert page.status_code == 200 and "feather" in page.text.lower()
    assert httpx.get(f"{platform.gateway_url}/v1/nothing-here").status_code == 404
