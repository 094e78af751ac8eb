"""``python -m sandbox`` announces itself, serves, and exits 0 on SIGINT."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import aiohttp


async def read_line(stream: asyncio.StreamReader) -> str:
    return (await asyncio.wait_for(stream.readline(), 15)).decode().rstrip("\n")


async def test_cli_announces_and_stops_cleanly(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    config = tmp_path / "sandbox.toml"
    config.write_text("[processing]\np_failed = 0.25\n")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "sandbox", "--port", "0", "--config", str(config), "--seed", "5"),
        *("--webhook-secret", "wss_cli", "--api-key", "sk_cli"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    try:
        first = await read_line(proc.stdout)
        assert first.startswith("SANDBOX_READY ")
        ready = json.loads(first.removeprefix("SANDBOX_READY "))
        assert ready["webhook_secret"] == "wss_cli"
        assert not ready["base_url"].endswith(":0")
        env: dict[str, str] = {}
        while len(env) < 7:
            line = await read_line(proc.stdout)
            if "=" in line and not line.startswith("#"):
                name, value = line.split("=", 1)
                env[name] = value
        assert env["EXTEND_BASE_URL"] == ready["base_url"]
        assert env["EXTEND_API_KEY"] == "sk_cli"
        assert env["EXTEND_WEBHOOK_SECRETS"] == "wss_cli"
        assert env["EACHLABS_BASE_URL"] == ready["base_url"] + "/eachlabs/v1"
        assert env["XPANDER_BASE_URL"] == ready["base_url"] + "/xpander"
        assert {"EACHLABS_API_KEY", "XPANDER_API_KEY"} <= set(env)
        async with http.get(ready["base_url"] + "/_sandbox/config") as resp:
            effective = await resp.json()
        assert effective["seed"] == 5
        assert effective["processing"]["p_failed"] == 0.25
    finally:
        proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(proc.wait(), 15)
    assert code == 0
