"""GET /openapi.json: generated from the route registry; schemathesis against the live app."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from tests.conftest import API_KEY
from tests.support.procs import ROOT, RelayProcess
from tests.support.signing import SECRET, event, extend_headers, run_payload

BIN = Path(sys.executable).parent


async def test_document_lists_every_api_route(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    assert doc["openapi"] == "3.1.0"
    served = {
        (r.method.lower(), r.resource.canonical)
        for r in client.app.router.routes()
        if r.resource is not None
        and r.resource.canonical.startswith(("/v1/", "/webhooks/"))
        and r.method != "HEAD"
    }
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert served <= documented
    run = doc["paths"]["/v1/runs/{run_id}"]["get"]
    assert run["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RunView"
    }
    assert set(run["responses"]) == {"200", "401", "403", "404"}
    assert run["security"] == [{"bearer": []}]
    assert "RunView" in doc["components"]["schemas"]
    webhook = doc["paths"]["/webhooks/extend"]["post"]
    assert webhook["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/WebhookEnvelope"
    )


RULES = """
[[rules]]
name = "contract-dry-run"
on = "run.completed"
workflow = "workflow_test"
dry_run = true
[rules.deploy]
provider = "extend"
workflow = "workflow_test"
"""


@pytest.fixture
def live_web(tmp_path: Path, redis_url: str, redis: Redis) -> Any:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    port = _free_port()
    env = {
        "REDIS_URL": redis_url,
        "PORT": str(port),
        "EXTEND_WEBHOOK_SECRETS": SECRET,
        "RELAY_API_KEYS": API_KEY,
        "RELAY_RULES": str(rules),
        "EXTEND_API_KEY": "sk_contract_test",
        "EXTEND_BASE_URL": "http://127.0.0.1:9",
        "LOG_LEVEL": "WARNING",
    }
    web = RelayProcess(["web", "--host", "127.0.0.1"], env, port=port).start()
    yield f"http://127.0.0.1:{port}"
    web.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_schemathesis_finds_no_5xx_and_no_schema_break(live_web: str, tmp_path: Path) -> None:
    body = event("evt_contract", "workflow_run.completed", run_payload("run_contract", "PROCESSED"))
    resp = httpx.post(live_web + "/webhooks/extend", content=body, headers=extend_headers(body))
    assert resp.status_code == 200
    done = subprocess.run(
        [
            str(BIN / "schemathesis"),
            "run",
            live_web + "/openapi.json",
            "--header",
            f"Authorization: Bearer {API_KEY}",
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance",
            "--max-examples",
            "25",
            "--seed",
            "1",
            "--request-timeout",
            "10",
            "--report-dir",
            str(tmp_path),
            "--no-color",
        ],
        cwd=ROOT,
        env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    # The failures come first, the summary last: keep both ends of a long report.
    report = done.stdout
    assert done.returncode == 0, report[:6000] + "\n...\n" + report[-3000:] + done.stderr[-2000:]
