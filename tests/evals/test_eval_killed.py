"""Exactly once under worker kills: a real `relay worker` SIGKILLed while the evaluation's batch
runs, another one SIGKILLed after the platform applied the deploy, then a third finishes."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.asyncio import Redis

from relay_core import keys
from tests.batches.support import Stack, jobs_in_progress, stack
from tests.evals.support import (
    PROD,
    STAGING,
    golden_lines,
    sandbox_config,
    wait_deploy,
    write_rules,
)
from tests.support.procs import RelayProcess
from tests.support.wait import until

DID = "promote:manual:k1"


def worker_env(st: Stack, rules: Path, dialect: str) -> dict[str, str]:
    env = {k: v for k, v in st.sb.env().items() if k != "EXTEND_WEBHOOK_SECRETS"}
    env.update(
        REDIS_URL=st.settings.redis.url,
        RELAY_RULES=str(rules),
        EXTEND_API_VERSION=dialect,
        DEPLOY_TIMEOUT_SECONDS="60",
        EXTEND_RUN_RPS="1000",
        EXTEND_GET_RPS="1000",
        EXTEND_WRITE_RPS="1000",
        EXTEND_FILES_PER_MINUTE="1000000",
        # One file per chunk: the kill lands between chunks of the evaluation's batch.
        BATCH_CHUNK_SIZE="1",
    )
    return env


async def release_killed_jobs(redis: Redis) -> None:
    """Fast-forward the TTLs a killed worker leaves (arq's in-progress keys, the deploy lease)."""
    for key in await jobs_in_progress(redis):
        await redis.pexpire(key, 1)
    await redis.pexpire(keys.deploy_lease(DID), 1)

    async def gone() -> bool:
        return not await jobs_in_progress(redis) and not await redis.exists(keys.deploy_lease(DID))

    await until(gone)


@pytest.mark.parametrize("dialect", ["2026-02-09", "2025-04-21"])
async def test_eval_and_deploy_survive_killed_workers(
    redis_url: str, redis: Redis, tmp_path: Path, dialect: str
) -> None:
    rules = write_rules(tmp_path)
    config = sandbox_config().model_copy(deep=True)
    config.processing.processing_seconds = 0.3  # runs stay PROCESSING for a while
    settings = {
        "RELAY_RULES": str(rules),
        "EXTEND_API_KEY": "sk_sandbox",
        "BATCH_CHUNK_SIZE": 1,
        "EXTEND_API_VERSION": dialect,
    }
    async with stack(redis_url, config, **settings) as st:
        env = worker_env(st, rules, dialect)
        status, _ = await st.call("POST", "/v1/rules/promote/deploy", {"subject": "k1"})
        assert status == 202

        first = RelayProcess(["worker"], env).start()
        try:

            async def runs_started() -> bool:
                runs = (await st.sandbox("GET", "/_sandbox/runs", workflowId=STAGING))["runs"]
                return len(runs) >= 3

            await until(runs_started)
        finally:
            first.kill()
        status, ev = await st.call("GET", f"/v1/evals/{DID}")
        assert ev["state"] == "running"
        await release_killed_jobs(redis)

        faults = {
            "p_commit_then_fail": 1.0,
            "commit_then_fail": "delay",
            "commit_delay_seconds": 30,
            "only_methods": ["POST"],
            "only_paths": [f"/workflows/{PROD}/versions"],
        }
        await st.sandbox("POST", "/_sandbox/config", {"faults": faults})
        second = RelayProcess(["worker"], env).start()
        try:

            async def committed() -> bool:
                return len((await st.sandbox("GET", "/_sandbox/deploys"))["deploys"]) == 1

            await until(committed, within=60)
        finally:
            second.kill()
        _, deploy = await st.call("GET", f"/v1/deploys/{DID}")
        assert deploy["status"] == "calling"
        await st.sandbox("POST", "/_sandbox/config", {"faults": {"p_commit_then_fail": 0.0}})
        await release_killed_jobs(redis)

        st.start_worker()
        deploy = await wait_deploy(st, DID)
        assert deploy["status"] == "deployed", deploy
        assert deploy["attempts"][-1]["outcome"] == "found"
        assert deploy["verified"] is True
        assert len(await st.requests(f"/workflows/{PROD}/versions")) == 1
        _, ev = await st.call("GET", f"/v1/evals/{DID}")
        assert ev["state"] == "passed" and ev["accuracy"] == 1.0
        runs = (await st.sandbox("GET", "/_sandbox/runs", workflowId=STAGING))["runs"]
        urls = sorted(f["url"] for r in runs for f in r["files"])
        assert urls == sorted(line["file"]["url"] for line in golden_lines())  # each once
        _, listed = await st.call("GET", "/v1/deploys")
        assert [d["id"] for d in listed["deploys"]] == [DID]
