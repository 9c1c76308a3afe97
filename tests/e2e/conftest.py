"""The platform as it runs for a user: Tansu and the five services as separate processes."""
from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright import sync_api as playwright_api

import feather
from services.local.platform import LocalPlatform
from package_index import build_index
from publishing import published

ROOT = Path(__file__).resolve().parents[2]
MODELS = Path(__file__).resolve().parent / "models"


# Every test calls from 127.0.0.1, most of them without an account: under the default limits the
# suite would throttle itself. The limiter still counts every call and answers its headers; its
# refusals are tested in tests/integration/test_gateway_limits.py.
GENEROUS_LIMITS = {f"FEATHER_RATE_{name}_PER_MIN": "1000000" for name in
                   ("ADDRESS", "ANONYMOUS", "ANONYMOUS_RUNS", "USER", "TOKEN", "RUNS")}


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    data_dir = tmp_path_factory.mktemp("feather-data")
    wheels = build_index(tmp_path_factory.mktemp("wheels"))
    # the sandbox must really be there: a missing bubblewrap fails the tests, not silently weakens them
    local = LocalPlatform.on_free_ports(data_dir, "ft_" + secrets.token_urlsafe(24),
                                        extra_env={"FEATHER_SANDBOX": "required", "FEATHER_WORKER_MEMORY_MB": "512",
                                                   "FEATHER_WORKER_RUN_CPU_S": "5",
                                                   "FEATHER_BUILD_FIND_LINKS": str(wheels),
                                                   # webhook retries the tests can wait for
                                                   "FEATHER_WEBHOOK_RETRY_S": "[0.3, 0.6, 1]",
                                                   **GENEROUS_LIMITS})
    try:
        local.start()
    except Exception:
        local.stop()
        raise
    sandbox = local.sandbox()
    if not sandbox.get("ready"):
        local.stop()
        raise RuntimeError(f"the executor's sandbox cannot run here: {sandbox.get('problem')}")
    print(f"\nplatform: Tansu broker + 5 service processes (workers sandboxed with bubblewrap as "
          f"{sandbox['isolation']}, uid {sandbox['worker_uid']}, limits by {sandbox['limits']['mechanism']}: "
          f"{', '.join(sandbox['limits']['enforced'])}), gateway {local.gateway_url}, data in {data_dir}")
    yield local
    local.stop()


@pytest.fixture(scope="session")
def client(platform: LocalPlatform) -> Iterator[feather.Client]:
    with feather.Client(platform.gateway_url, token=platform.admin_token) as c:
        yield c


@pytest.fixture(scope="session")
def http(platform: LocalPlatform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.gateway_url, timeout=60,
                      headers={"Authorization": f"Bearer {platform.admin_token}"}) as c:
        yield c


@pytest.fixture(scope="session")
def hello(client: feather.Client) -> str:
    return published(client, ROOT / "examples" / "hello" / "app.py")


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    from package_index import NOTES
    for note in NOTES:
        terminalreporter.write_line(note)


# --- the portal in headless Chromium (tests/e2e/test_portal*.py) -------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PORTAL_ARTIFACTS = ROOT / "test-artifacts" / "portal"


# one browser per module: Playwright's sync API keeps an event loop running while it is open,
# and the async tests that come after a portal module need the thread's loop to themselves
@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (apt-get install chromium); .ci/run installs it")
    if not (ROOT / "portal" / "dist" / "index.html").exists():
        pytest.fail("the portal is not built: make portal")
    print(f"\nbrowser: {CHROMIUM} (headless, via Playwright)")
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
            "--no-first-run", "--disable-component-update", "--disable-sync"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    tab = context.new_page()
    problems: list[str] = []
    # answers like a 401 for a wrong password are logged by Chromium as failed loads, not script errors
    tab.on("console", lambda m: problems.append(m.text)
           if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    tab.on("pageerror", lambda e: problems.append(str(e)))
    yield tab
    PORTAL_ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(PORTAL_ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert not problems, f"console errors: {problems}"
