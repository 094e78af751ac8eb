"""GET /: the dashboard in a real headless Chromium, on data made through the real paths."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from ingest.app import create_app
from tests.conftest import API_KEY, make_settings, run_worker_burst
from tests.support.procs import ROOT
from tests.support.signing import event, extend_headers, run_payload

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
RULES = """
[[rules]]
name = "promote-invoices"
on = "run.completed"
workflow = "workflow_invoices"
dry_run = true
[rules.deploy]
provider = "extend"
workflow = "workflow_invoices"
"""

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and os.environ.get("CI") != "true",
    reason="Debian's chromium is not installed (apt-get install chromium); CI always runs this",
)


@pytest.fixture
async def web(tmp_path: Path, redis_url: str, redis: Redis) -> AsyncIterator[TestClient[Any, Any]]:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    settings = make_settings(redis_url, RELAY_RULES=str(rules), EXTEND_API_KEY="sk_dashboard")
    server = TestServer(create_app(settings), host="127.0.0.1")
    async with TestClient(server) as client:
        for n, status in enumerate(["PROCESSED", "PROCESSED", "NEEDS_REVIEW", "NEEDS_REVIEW"]):
            kind = (
                "workflow_run.completed" if status == "PROCESSED" else "workflow_run.needs_review"
            )
            payload = run_payload(f"workflow_run_{n}", status, workflow_id="workflow_invoices")
            body = event(f"evt_{n}", kind, payload)
            resp = await client.post("/webhooks/extend", data=body, headers=extend_headers(body))
            assert resp.status == 200
        # Applies the events, claims the rule's deploys and runs them (dry runs): the real path.
        await run_worker_burst(settings)
        yield client


async def test_dashboard_shows_reviews_and_deploys(web: TestClient[Any, Any]) -> None:
    from playwright.async_api import async_playwright

    url = str(web.make_url("/"))
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 800})
            await page.goto(url)
            await page.fill("#key", API_KEY)
            await page.click("button[type=submit]")
            deploys = page.locator("#deploys tbody tr")
            await deploys.filter(has_text="workflow_run_1").wait_for(timeout=15_000)
            assert await deploys.count() == 2
            row = await deploys.filter(has_text="workflow_run_0").inner_text()
            assert "promote-invoices" in row and "dry_run" in row
            assert await page.inner_text("#reviews-count") == "2"
            reviews = await page.inner_text("#reviews tbody")
            assert "workflow_run_2" in reviews and "workflow_run_3" in reviews
            await _batches_shown(page)
            # The key is kept: a reload goes straight to the board.
            await page.reload()
            await page.locator("#deploys tbody tr").filter(has_text="dry_run").first.wait_for()
            assert await page.is_hidden("#login")
            SCREENSHOT.parent.mkdir(exist_ok=True)
            await page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            await browser.close()


async def _batches_shown(page: Any) -> None:
    note = await page.inner_text("#batches-note")
    rows = await page.inner_text("#batches tbody")
    # Until the batch API is served, the page says so instead of showing an empty table.
    assert note == "This server has no batch API." or "No batches yet." not in rows
