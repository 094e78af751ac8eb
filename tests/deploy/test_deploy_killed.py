"""A real `relay worker` SIGKILLed after the platform applied the deploy, before the record."""

from __future__ import annotations

from arq.constants import in_progress_key_prefix
from redis.asyncio import Redis

from relay_core import keys
from relay_core.deploys.store import Subject, deploy_id
from relay_core.redis import queue
from sandbox import Sandbox
from tests.conftest import run_worker_burst
from tests.deploy.conftest import MakeRelay
from tests.deploy.support import (
    EXTEND_DEPLOY,
    EXTEND_TARGET,
    all_deploys,
    complete_run,
    requests_to,
    rule_toml,
    sandbox_get,
    sandbox_post,
)
from tests.support.procs import RelayProcess
from tests.support.wait import until


async def test_killed_worker_after_commit_does_not_deploy_twice(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    settings, client = await relay(
        rule_toml("promote", "run.completed", EXTEND_DEPLOY), DEPLOY_TIMEOUT_SECONDS="60"
    )
    # The platform applies the POST, then holds its answer: the worker is waiting for it.
    faults = {
        "p_commit_then_fail": 1.0,
        "commit_then_fail": "delay",
        "commit_delay_seconds": 30,
        "only_methods": ["POST"],
    }
    await sandbox_post(sb, "/_sandbox/config", {"faults": faults})
    env = {k: v for k, v in sb.env().items() if k != "EXTEND_WEBHOOK_SECRETS"}
    env.update(
        REDIS_URL=settings.redis.url,
        RELAY_RULES=str(settings.deploys.rules),
        DEPLOY_TIMEOUT_SECONDS="60",
    )
    worker = RelayProcess(["worker"], env).start()
    try:
        await complete_run(client, "run_1")

        async def committed() -> bool:
            return len((await sandbox_get(sb, "/_sandbox/deploys"))["deploys"]) == 1

        await until(committed, within=20)
    finally:
        worker.kill()

    did = deploy_id("promote", Subject("run.completed", "run_1"))
    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "calling"
    # Fast-forward the two TTLs a killed worker leaves behind (arq's in-progress key, our
    # lease) instead of waiting minutes for them; everything else is as the crash left it.
    await redis.pexpire(in_progress_key_prefix + queue.deploy_job_id(did), 1)
    await redis.pexpire(keys.deploy_lease(did), 1)
    await sandbox_post(sb, "/_sandbox/config", {"faults": {"p_commit_then_fail": 0.0}})
    await until(lambda: _gone(redis, did))
    await run_worker_burst(settings)

    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "deployed", deploy
    assert [a["outcome"] for a in deploy["attempts"]] == ["calling", "found"]
    assert deploy["version"]["number"] == "2"
    posts = await requests_to(sb, f"/workflows/{EXTEND_TARGET}/versions", "POST")
    assert len(posts) == 1
    assert len((await sandbox_get(sb, "/_sandbox/deploys"))["deploys"]) == 1


async def _gone(redis: Redis, did: str) -> bool:
    in_progress = in_progress_key_prefix + queue.deploy_job_id(did)
    return not await redis.exists(in_progress, keys.deploy_lease(did))
