"""Run webhooks through the platform to a receiver on this machine: signatures checked with the
Standard Webhooks reference library and the SDK, events in order, progress throttled, and
`completed` retried until the receiver accepts it (it refuses twice)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feather
import feather.webhooks
import httpx
import pytest
from standardwebhooks.webhooks import Webhook
from publishing import published

MODELS = Path(__file__).resolve().parent / "models"


class Receiver:
    """Records every delivery; answers `completed` with 500 the first `refusals` times."""

    def __init__(self, refusals: int = 2) -> None:
        self.deliveries: list[dict] = []
        self.refusals = refusals
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers["content-length"]))
                event = json.loads(body)
                receiver.deliveries.append({"headers": dict(self.headers), "body": body, "event": event,
                                            "at": time.monotonic()})
                refuse = event["type"] == "run.completed" and receiver.refusals > 0
                receiver.refusals -= refuse
                self.send_response(500 if refuse else 204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.close()


def eventually(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (found := check()):
            return found
        time.sleep(0.2)
    return None


def test_a_runs_events_arrive_signed_in_order_and_completed_is_retried(client: feather.Client, http: httpx.Client,
                                                                       receiver: Receiver):
    ref = published(client, MODELS / "progress" / "app.py")
    secret = http.get("/v1/webhooks/default/secret").json()["key"]
    assert secret.startswith("whsec_")

    run = http.post(f"/v1/models/{ref}/runs", json={"inputs": {"steps": 6}, "webhook": receiver.url}).json()
    done = eventually(lambda: [d for d in receiver.deliveries if d["event"]["type"] == "run.completed"
                               and d["event"]["data"]["status"] == "succeeded"][2:])
    assert done, [d["event"]["type"] for d in receiver.deliveries]

    kinds = [d["event"]["type"] for d in receiver.deliveries]
    print(f"\nwebhook deliveries: {kinds}")
    assert kinds[0] == "run.start" and kinds[-3:] == ["run.completed"] * 3  # refused twice, then taken
    assert "run.logs" in kinds and kinds.index("run.output") < kinds.index("run.completed")
    assert all(d["event"]["data"]["id"] == run["id"] for d in receiver.deliveries)
    assert receiver.deliveries[-1]["event"]["data"]["outputs"] == {"done": "did 6 steps"}

    for d in receiver.deliveries:  # the reference library and the SDK both accept every message
        Webhook(secret).verify(d["body"], d["headers"])
        assert feather.webhooks.verify(d["headers"], d["body"], secret)["type"] == d["event"]["type"]
    completed = receiver.deliveries[-3:]
    assert len({d["headers"]["webhook-id"] for d in completed}) == 1  # one message, three attempts
    assert len({d["headers"]["webhook-id"] for d in receiver.deliveries}) == len(kinds) - 2
    logs = [d["at"] for d in receiver.deliveries if d["event"]["type"] == "run.logs"]
    assert all(b - a >= 0.45 for a, b in zip(logs, logs[1:])), logs  # at most every 500 ms
    assert len(logs) < 6  # six progress reports, coalesced

    tampered = dict(receiver.deliveries[-1]["headers"])
    with pytest.raises(feather.webhooks.WebhookVerificationError):
        feather.webhooks.verify(tampered, receiver.deliveries[-1]["body"] + b" ", secret)

    attempts = eventually(lambda: (found := http.get(f"/v1/runs/{run['id']}/webhooks").json()["items"])
                          and len(found) == len(kinds) and found)
    assert attempts and [a["status_code"] for a in attempts[-3:]] == [500, 500, 204]
    assert [a["attempt"] for a in attempts[-3:]] == [1, 2, 3]


def test_a_filter_a_rotation_and_a_410(client: feather.Client, http: httpx.Client, hello: str, receiver: Receiver):
    old = http.get("/v1/webhooks/default/secret").json()["key"]
    rotated = http.post("/v1/webhooks/default/secret/rotate").json()
    assert rotated["key"] != old and rotated["previous_valid_until"]
    receiver.refusals = 0
    run = http.post(f"/v1/models/{hello}/runs", json={"inputs": {"name": "hook"}, "webhook": receiver.url,
                                                       "webhook_events_filter": ["completed"]}).json()
    delivered = eventually(lambda: receiver.deliveries)
    assert delivered and [d["event"]["type"] for d in delivered] == ["run.completed"]
    for key in (old, rotated["key"]):  # signed by both while the old one is still valid
        assert feather.webhooks.verify(delivered[0]["headers"], delivered[0]["body"], key)["data"]["id"] == run["id"]
    assert len(delivered[0]["headers"]["webhook-signature"].split()) == 2


@pytest.mark.parametrize("body, message", [
    ({"webhook": "ftp://example.org/hook"}, "URL"),
    ({"webhook": "http://example.org/hook"}, "https"),
    ({"webhook": "https://example.org/hook", "webhook_events_filter": ["finished"]}, "start"),
])
def test_a_webhook_the_platform_would_not_deliver_is_refused(http: httpx.Client, hello: str, body, message):
    answer = http.post(f"/v1/models/{hello}/runs", json={"inputs": {"name": "x"}, **body})
    assert answer.status_code == 422 and message in answer.text
    assert answer.json()["detail"][0]["loc"][:2] in (["body", "webhook"], ["body", "webhook_events_filter"])


def test_an_anonymous_caller_cannot_ask_for_a_webhook(platform, hello: str, receiver: Receiver):
    answer = httpx.post(f"{platform.gateway_url}/v1/models/{hello}/runs",
                        json={"inputs": {"name": "x"}, "webhook": receiver.url})
    assert answer.status_code == 422 and "sign in" in answer.text
