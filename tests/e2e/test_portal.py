"""The portal in headless Chromium (Debian's, driven by Playwright) against the running platform.

Screenshots of each flow are kept in test-artifacts/portal/.
"""
from __future__ import annotations

import secrets
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

import feather
from services.local.platform import LocalPlatform, free_port
from publishing import published

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "portal"
DIGITS = load_digits()



def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def drawn(index: int) -> Image.Image:
    gray = (255 - DIGITS.images[index] * 255 / 16).round().astype(np.uint8)
    return Image.fromarray(gray).resize((64, 64), Image.Resampling.NEAREST)


def save_png(image: Image.Image, path: Path) -> Path:
    image.save(path, format="PNG")
    return path



def test_browse_and_search(page, platform: LocalPlatform, hello: str):
    page.goto(platform.gateway_url + "/")
    page.get_by_label("Search models").fill("greets")
    page.get_by_role("link", name="hello").first.wait_for()
    shot(page, "catalogue-search")
    page.get_by_label("Search models").fill("words that match nothing at all")
    page.get_by_text("No public model matches", exact=False).first.wait_for()


def test_run_hello(page, platform: LocalPlatform, hello: str):
    start = time.monotonic()
    page.goto(f"{platform.gateway_url}/m/{hello}")
    page.get_by_label("Your name").fill("Ada")
    interactive_s = time.monotonic() - start
    page.get_by_role("button", name="Run").click()
    page.get_by_text("Hello, Ada!").wait_for()
    print(f"model page interactive after {interactive_s * 1000:.0f} ms")
    # an example from the manifest fills the form with one click
    page.get_by_role("button", name="Ada Lovelace").click()
    assert page.get_by_label("Your name").input_value() == "Ada Lovelace"
    # a required field left empty is reported next to it, and nothing is sent
    page.get_by_label("Your name").fill("")
    page.get_by_role("button", name="Run").click()
    page.get_by_text("required", exact=False).first.wait_for()


def test_digits_from_an_uploaded_image(page, platform: LocalPlatform, client: feather.Client, tmp_path: Path):
    ref = published(client, ROOT / "examples" / "digits" / "app.py", timeout=600)
    picture = save_png(drawn(7), tmp_path / "seven.png")
    page.goto(f"{platform.gateway_url}/m/{ref}")
    page.locator("input[type=file]").first.set_input_files(str(picture))
    page.get_by_role("button", name="Run").click()
    label = page.get_by_role("region", name="Digit")
    label.get_by_text(str(DIGITS.target[7])).first.wait_for()


def test_pick_digit_with_a_step_back(page, platform: LocalPlatform, client: feather.Client, tmp_path: Path):
    ref = published(client, ROOT / "examples" / "pick-digit" / "app.py", timeout=600)
    indexes = [3, 14, 25]
    canvas = Image.new("L", (24 + 80 * len(indexes), 100), 255)
    for slot, index in enumerate(indexes):
        canvas.paste(drawn(index), (24 + 80 * slot, 18))
    picture = save_png(canvas, tmp_path / "three.png")
    page.goto(f"{platform.gateway_url}/m/{ref}")
    page.locator("input[type=file]").first.set_input_files(str(picture))
    page.get_by_role("button", name="Run and continue").click()
    page.get_by_label("digit 1").wait_for()
    shot(page, "pick-digit-choose")
    page.get_by_role("button", name="← Back").click()
    page.get_by_role("button", name="Run and continue").wait_for()  # back on step 1, picture kept
    page.get_by_role("button", name="Continue →").click()
    page.get_by_label("digit 1").check()
    page.get_by_label("digit 3").check()
    page.get_by_role("button", name="Run", exact=True).click()
    expected = f"{DIGITS.target[3]}{DIGITS.target[25]}"
    page.get_by_role("region", name="Number").get_by_text(expected).wait_for()


def test_account_token_publish_and_private_models(page, platform: LocalPlatform):
    name = "p" + secrets.token_hex(4)
    page.goto(platform.gateway_url + "/signup")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Sign up").click()
    page.get_by_text("at least 8", exact=False).first.wait_for()  # the error sits by the field
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign up").click()
    page.get_by_text(name).first.wait_for()

    page.goto(platform.gateway_url + "/tokens")
    page.get_by_label("Name", exact=False).first.fill("laptop")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_role("region", name="Your new token").get_by_text("ft_", exact=False).first.inner_text().strip()
    shot(page, "token-created")
    with feather.Client(platform.gateway_url, token=token) as client:
        ref = published(client, ROOT / "examples" / "echo" / "app.py", timeout=600)
    assert ref == f"{name}/echo"

    page.goto(f"{platform.gateway_url}/m/{ref}")
    page.get_by_role("tab", name="Use via API").click()
    page.get_by_role("button", name="Fill in a new token").click()
    page.get_by_text("Bearer ft_", exact=False).first.wait_for()
    shot(page, "api-snippets-with-token")

    page.goto(platform.gateway_url + "/me/models")
    page.get_by_label("Visibility").first.select_option("private")
    page.get_by_text("Saving", exact=False).first.wait_for(state="detached")
    shot(page, "my-models-private")
    page.get_by_role("button", name="Log out").click()
    page.goto(f"{platform.gateway_url}/m/{ref}")
    page.get_by_text("There is no such model, or it is private.").wait_for()


def test_local_preview_updates_after_saving(page, tmp_path: Path):
    app = tmp_path / "greeter" / "app.py"
    app.parent.mkdir()
    source = ("import feather as ft\n\nmodel = ft.Model('greeter', description='WORD preview')\n\n\n"
              "@model.step(inputs=[ft.Text('name')], outputs=[ft.Text('greeting')])\n"
              "def greet(name: str) -> str:\n    return 'WORD, ' + name\n")
    app.write_text(source.replace("WORD", "Hello"))
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "feather._cli", "dev", str(app), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/m/dev/greeter"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                page.goto(url)
                break
            except Exception:
                time.sleep(0.3)
        page.get_by_text("Hello preview").wait_for()
        app.write_text(source.replace("WORD", "Howdy"))
        page.get_by_text("Howdy preview").wait_for(timeout=15000)
        page.get_by_label("Name").fill("Ada")
        page.get_by_role("button", name="Run").click()
        page.get_by_text("Howdy, Ada").wait_for()
        page.get_by_role("button", name="Publish").wait_for()
    finally:
        server.terminate()
        server.wait(10)
