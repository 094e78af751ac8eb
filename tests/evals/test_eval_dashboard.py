"""The dashboard lists recent evaluations (real headless Chromium against the web app)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.batches.support import stack
from tests.conftest import API_KEY
from tests.evals.support import STAGING, sandbox_config, wait_deploy, write_rules
from tests.test_dashboard import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and os.environ.get("CI") != "true",
    reason="Debian's chromium is not installed (apt-get install chromium); CI always runs this",
)


@pytest.mark.timeout(120)
async def test_dashboard_shows_recent_evaluations(
    redis_url: str, redis: Redis, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    rules = write_rules(tmp_path)
    settings = {"RELAY_RULES": str(rules), "EXTEND_API_KEY": "sk_sandbox"}
    async with stack(redis_url, sandbox_config(draft_share=0.5), **settings) as st:
        st.start_worker()
        await st.call("POST", "/v1/rules/promote/deploy", {"subject": "d1"})
        await wait_deploy(st, "promote:manual:d1")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page()
                await page.goto(st.base_url + "/")
                await page.fill("#key", API_KEY)
                await page.click("button[type=submit]")
                found = page.locator("#evals tbody tr").filter(has_text="promote:manual:d1")
                await found.wait_for(timeout=15_000)
                text = await found.inner_text()
            finally:
                await browser.close()
    assert f"{STAGING} draft" in text
    assert "failed" in text
    assert "30.0%" in text and "10" in text
