"""The portal's two speed targets: initial JavaScript size and time until a model page is usable.

    python bench/portal.py     # builds nothing: run `make portal` first; starts its own platform

Prints the gzipped size of what the first page loads (target: under 200 KB) and, over 10 loads
of /m/local/hello in headless Chromium, the time from navigation until the input can be typed
into and the Run button is enabled (target: under one second on loopback).
"""
from __future__ import annotations

import gzip
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

import feather  # noqa: E402
from services.local.platform import LocalPlatform  # noqa: E402

DIST = ROOT / "portal" / "dist"


def initial_js_kb() -> float:
    index = (DIST / "index.html").read_text()
    scripts = re.findall(r'src="/?(assets/[^"]+\.js)"', index) + re.findall(r'href="/?(assets/[^"]+\.js)"', index)
    return sum(len(gzip.compress((DIST / s).read_bytes(), 9)) for s in set(scripts)) / 1024


def main() -> None:
    print(f"initial JavaScript: {initial_js_kb():.1f} KB gzipped (target < 200 KB)")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with tempfile.TemporaryDirectory(prefix="feather-bench-") as tmp:
        platform = LocalPlatform.on_free_ports(Path(tmp), "ft_" + secrets.token_urlsafe(24))
        platform.start()
        try:
            with feather.Client(platform.gateway_url, token=platform.admin_token) as client:
                answer = client.publish(str(ROOT / "examples" / "hello" / "app.py"))
                client.wait_ready("local/hello", answer["version"], timeout=300)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=[
                    "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
                times = []
                for _ in range(10):
                    page = browser.new_page()
                    start = time.perf_counter()
                    page.goto(f"{platform.gateway_url}/m/local/hello")
                    page.get_by_label("Your name").fill("Ada")
                    page.get_by_role("button", name="Run").wait_for(state="visible")
                    times.append((time.perf_counter() - start) * 1000)
                    page.close()
                browser.close()
            print(f"model page usable after: median {statistics.median(times):.0f} ms, "
                  f"max {max(times):.0f} ms over 10 loads (target < 1000 ms)")
        finally:
            platform.stop()


if __name__ == "__main__":
    main()
