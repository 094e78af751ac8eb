"""GET /: the operator dashboard in a real headless Chromium, against a running `relay demo`.

It asserts on what a person sees (the demo's batch id and its counts, a deploy row, the review
list), saves docs/dashboard.png, then stops the demo with Ctrl-C and checks nothing is left.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.batches.support import files, sandbox_config, stack
from tests.conftest import API_KEY
from tests.support.demo import KeptDemo, demo_processes, start_kept_demo
from tests.support.procs import ROOT

CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = ROOT / "docs" / "dashboard.png"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and os.environ.get("CI") != "true",
    reason="Debian's chromium is not installed (apt-get install chromium); CI always runs this",
)


@pytest.fixture
def demo() -> Iterator[KeptDemo]:
    running = start_kept_demo(files=60)
    try:
        yield running
    finally:
        code = running.stop()
        assert code in (0, 130), "".join(running.output)
        assert demo_processes() == [], "Ctrl-C left demo processes behind"


@pytest.mark.timeout(240)
async def test_dashboard_shows_the_demo(demo: KeptDemo) -> None:
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 800})
            await page.goto(demo.web_url + "/")
            await page.fill("#key", demo.api_key)
            await page.click("button[type=submit]")
            batch_row = page.locator("#batches tbody tr").filter(has_text=demo.batch_id)
            await batch_row.wait_for(timeout=15_000)
            row_text = await batch_row.inner_text()
            assert "completed" in row_text
            assert "60" in row_text  # files
            assert "processed" in row_text.lower()
            deploy = page.locator("#deploys tbody tr").filter(has_text=demo.batch_id)
            await deploy.wait_for(timeout=15_000)
            deploy_text = await deploy.inner_text()
            assert "promote-draft" in deploy_text
            assert "deployed" in deploy_text
            # Each section loads on its own fetch: wait for each (expect retries until it holds).
            await expect(page.locator("#reviews-count")).to_have_text("0")  # all reviewed
            await expect(page.locator("#dead-letters-count")).to_have_text("0")
            await expect(page.locator("#dead-letters")).to_contain_text("No dead letters.")
            # The key is kept: a reload goes straight to the board.
            await page.reload()
            await page.locator("#batches tbody tr").filter(has_text=demo.batch_id).wait_for()
            assert await page.is_hidden("#login")
            SCREENSHOT.parent.mkdir(exist_ok=True)
            await page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            await browser.close()


@pytest.mark.timeout(120)
async def test_dashboard_shows_the_send_queue(redis_url: str, redis: Redis) -> None:
    """No worker runs: the batches stay queued, in send order, as the page shows them."""
    from playwright.async_api import async_playwright

    async with stack(redis_url, sandbox_config(), EXTEND_FILES_PER_MINUTE=600) as st:
        backfill = await st.submit(files(2000, "backfill"))
        urgent = await st.submit(files(10, "urgent"), priority=1)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1200, "height": 700})
                await page.goto(st.base_url + "/")
                await page.fill("#key", API_KEY)
                await page.click("button[type=submit]")
                rows = page.locator("#queue tbody tr")
                await rows.filter(has_text=backfill).wait_for(timeout=15_000)
                first, second = await rows.nth(0).inner_text(), await rows.nth(1).inner_text()
                assert urgent in first and "100%" in first and "10" in first
                assert backfill in second and "0%" in second and "2000" in second
                assert await page.inner_text("#queue-count") == "2"
                await page.screenshot(path=str(ROOT / "docs" / "dashboard-queue.png"))
            finally:
                await browser.close()
