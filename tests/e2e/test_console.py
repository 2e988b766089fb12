"""The console in a real browser: headless Chromium (Debian's `chromium`) driven by Playwright.

A client signs in with its key and sees a thumbnail for each of its outputs and none of another client's;
a generation's detail shows its images at full size, each loaded (200, image/*). The admin sees every
client's, the queue and the budget. Screenshots are kept in the test's directory and in
`.cache/artifacts/`."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Response, sync_playwright

from emulator.seed import ROUTER_MODEL_ID
from tests.stack import ADMIN_KEY, Stack, running_stack, wait_terminal

pytestmark = pytest.mark.e2e
CHROMIUM = Path("/usr/bin/chromium")  # `apt-get install -y chromium` (make test does it when missing)
ARTIFACTS = Path(__file__).resolve().parents[2] / ".cache" / "artifacts"


def generate(stack: Stack, key: str, prompt: str, variations: int) -> dict[str, Any]:
    body = {"prompt": prompt, "customModelId": ROUTER_MODEL_ID, "numVariations": variations}
    with stack.client(key=key) as client:
        created = client.post("/v1/generations", json=body)
        assert created.status_code == 202, created.text
        done = wait_terminal(client, created.json()["id"])
    assert done["status"] == "succeeded", done
    return done


def sign_in(page: Page, url: str, key: str) -> None:
    page.goto(f"{url}/console")
    page.fill("#key", key)
    page.click("#sign-in button[type=submit]")
    page.wait_for_selector("#app:not([hidden])")


def loaded_images(page: Page, selector: str, count: int) -> None:
    """Wait until `count` images match and every one has decoded (a broken one never does)."""
    page.wait_for_function(
        "([sel, n]) => { const all = [...document.querySelectorAll(sel)];"
        " return all.length === n && all.every(i => i.complete && i.naturalWidth > 0); }",
        arg=[selector, count],
        timeout=20_000,
    )


def keep(page: Page, workdir: Path, name: str) -> Path:
    shot = workdir / name
    page.screenshot(path=str(shot), full_page=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, ARTIFACTS / name)
    return shot


def test_console_gallery_detail_and_isolation(workdir: Path) -> None:
    assert CHROMIUM.exists(), "install Debian's chromium: apt-get update && apt-get install -y chromium"
    with running_stack(workdir, workers=1, FFGATE_UPSTREAM_RPM="600") as stack:
        _, mine = stack.create_client(name="design-team")
        other_id, theirs = stack.create_client(name="other-team")
        own = [generate(stack, mine, "a red router on a glacier", 2), generate(stack, mine, "a router", 1)]
        other = generate(stack, theirs, "someone else's router", 1)
        url = stack.gateways["gateway"]
        own_outputs = sum(len(g["outputs"]) for g in own)

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                images: list[Response] = []
                page.on(
                    "response", lambda r: images.append(r) if r.request.resource_type == "image" else None
                )
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))

                sign_in(page, url, mine)
                loaded_images(page, "#gallery img.thumb", own_outputs)
                shown = set(page.eval_on_selector_all("#gallery .card", "cs => cs.map(c => c.dataset.id)"))
                assert shown == {g["id"] for g in own}  # its own only
                assert other["id"] not in page.content()
                assert page.is_hidden("#ops")  # no queue or budget for a client key
                assert page.evaluate("Object.keys(sessionStorage)") == ["ffgate.console.key"]
                assert page.evaluate("localStorage.length") == 0 and page.context.cookies() == []

                page.click(f"#gallery .card[data-id='{own[0]['id']}']")
                page.wait_for_selector("#detail:not([hidden])")
                loaded_images(page, "#detail-images img", len(own[0]["outputs"]))
                detail = page.inner_text("#detail")
                assert "a red router on a glacier" in detail
                for output in own[0]["outputs"]:
                    assert str(output["seed"]) in detail
                keep(page, workdir, "console.png")

                assert len(images) >= own_outputs
                for response in images:
                    assert response.status == 200, response.url
                    assert response.headers["content-type"].startswith("image/"), response.url

                page.click("#sign-out")
                sign_in(page, url, ADMIN_KEY)
                loaded_images(page, "#gallery img.thumb", own_outputs + len(other["outputs"]))
                page.wait_for_selector("#budget .budget-window[data-window=minute]")
                assert "3 of 600 used" in page.inner_text("#budget")
                bar = page.eval_on_selector("#budget [data-window=minute] .gauge > div", "b => b.style.width")
                assert bar == "0.5%"  # 3 of 600
                assert "Nothing is waiting." in page.inner_text("#queue")
                page.select_option("#f-client", other_id)
                page.click("#filters button[type=submit]")
                loaded_images(page, "#gallery img.thumb", len(other["outputs"]))
                keep(page, workdir, "console-admin.png")
                assert errors == []
            finally:
                browser.close()
