"""The evaluation gate end to end: golden batches through the fan-out, scored, then deployed
(or not), on both API versions; evaluation batches trigger no rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from relay_core import keys
from tests.batches.support import stack
from tests.conftest import API_KEY
from tests.deploy.test_deploy_api import _cli
from tests.evals.support import (
    FILES,
    PROD,
    STAGING,
    STEPS,
    golden_lines,
    sandbox_config,
    wait_deploy,
    write_rules,
)
from tests.support.wait import until

DIALECTS = ["2026-02-09", "2025-04-21"]


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_good_candidate_passes_and_is_promoted_on_batch_completion(
    redis_url: str, redis: Redis, tmp_path: Path, dialect: str
) -> None:
    rules = write_rules(tmp_path, max_regression=0.01)
    settings = {
        "RELAY_RULES": str(rules),
        "EXTEND_API_VERSION": dialect,
        "EXTEND_API_KEY": "sk_sandbox",
    }
    async with stack(redis_url, sandbox_config(), **settings) as st:
        st.start_worker()
        files = [{"url": f"https://files.example/ordinary-{i}.pdf"} for i in range(3)]
        status, body = await st.call(
            "POST",
            "/v1/batches",
            {"workflowId": STAGING, "files": files, "metadata": {"env": "staging"}},
        )
        assert status == 202, body
        did = f"promote:{body['batchId']}"
        deploy = await wait_deploy(st, did)
        assert deploy["status"] == "deployed", deploy
        assert deploy["verified"] is True and deploy["reason"] == "evaluation passed"
        assert deploy["evalId"] == did

        status, ev = await st.call("GET", f"/v1/evals/{did}")
        assert status == 200 and ev["state"] == "passed"
        assert ev["accuracy"] == 1.0 and ev["baselineAccuracy"] == 1.0
        assert ev["candidate"]["ref"] == "draft" and ev["candidate"]["workflow"] == STAGING
        assert ev["baseline"]["ref"] == "1" and ev["baseline"]["workflow"] == PROD
        report = ev["report"]["candidate"]
        assert report["perField"]["total"] == {"accuracy": 1.0, "matched": FILES, "total": FILES}
        assert report["files"] == [] and report["failedRuns"] == []
        status, listed = await st.call("GET", "/v1/evals")
        assert [e["id"] for e in listed["evals"]] == [did]

        # One deploy only: the two evaluation batches completed without triggering the rule.
        status, deploys = await st.call("GET", "/v1/deploys")
        assert [d["id"] for d in deploys["deploys"]] == [did]
        eval_batches = ev["batches"]
        assert set(eval_batches) == {"candidate", "baseline"}
        for batch_id in eval_batches.values():
            assert not await redis.exists(keys.deploys_by_subject(batch_id))
        runs = (await st.sandbox("GET", "/_sandbox/runs"))["runs"]
        golden_urls = {line["file"]["url"] for line in golden_lines()}
        per_workflow = {
            wf: sorted(
                f["url"]
                for r in runs
                if r["workflowId"] == wf
                for f in r["files"]
                if f["url"] in golden_urls
            )
            for wf in (STAGING, PROD)
        }
        assert per_workflow[STAGING] == sorted(golden_urls)  # each golden file once per role
        assert per_workflow[PROD] == sorted(golden_urls)
        latest = await st.sandbox("GET", "/_sandbox/deploys")
        assert [(d["workflowId"], d["version"]) for d in latest["deploys"]] == [(PROD, "2")]


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_worse_candidate_is_not_deployed_and_the_failed_gate_is_audited(
    redis_url: str, redis: Redis, tmp_path: Path, dialect: str
) -> None:
    rules = write_rules(tmp_path)
    settings = {
        "RELAY_RULES": str(rules),
        "EXTEND_API_VERSION": dialect,
        "EXTEND_API_KEY": "sk_sandbox",
    }
    async with stack(redis_url, sandbox_config(draft_share=0.5), **settings) as st:
        st.start_worker()
        status, body = await st.call("POST", "/v1/rules/promote/deploy", {"subject": "try1"})
        assert status == 202, body
        deploy = await wait_deploy(st, "promote:manual:try1")
        assert deploy["status"] == "skipped" and deploy["gate"] == "eval"
        assert "< min_accuracy 0.9" in deploy["reason"]
        assert deploy["attempts"][0]["outcome"] == "evaluating"
        assert deploy["attempts"][-1] == {
            **deploy["attempts"][-1],
            "outcome": "skipped",
            "gate": "eval",
        }
        status, ev = await st.call("GET", "/v1/evals/promote:manual:try1")
        assert ev["state"] == "failed" and ev["reason"] == deploy["reason"]
        assert ev["baseline"] is None  # no max_regression: the baseline is not run
        report = ev["report"]["candidate"]
        assert 0 < report["accuracy"] < 0.9
        worst = report["files"]
        assert worst and worst[0]["accuracy"] <= worst[-1]["accuracy"]
        diff = worst[0]["diffs"][0]
        assert diff["actual"] != diff["expected"]
        posts = await st.requests(f"/workflows/{PROD}/versions", "POST")
        assert posts == []
        if dialect == DIALECTS[0]:
            await _cli_shows(st.base_url, ev)


async def _cli_shows(base_url: str, ev: dict[str, Any]) -> None:
    env = {"RELAY_URL": base_url, "RELAY_API_KEY": API_KEY}
    code, out, err = await _cli(env, "evals", "show", ev["id"])
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"eval {ev['id']} (promote): failed — accuracy ")
    assert lines[1] == f"candidate {STAGING} draft: {ev['accuracy'] * 100:.1f}%"
    assert lines[3].split() == ["field", "accuracy", "matched", "baseline"]
    fields = [line.split()[0] for line in lines[4:7]]
    assert fields == ["date", "number", "total"]
    worst = lines.index("worst files:")
    assert lines[worst + 1].split()[:3] == ["file", "accuracy", "differences"]
    assert "!=" in lines[worst + 3]
    code, out, err = await _cli(env, "evals")
    assert code == 0, err
    assert out.splitlines()[1].split()[:2] == [ev["id"], "failed"]


async def test_a_regression_against_the_deployed_version_fails_the_gate(
    redis_url: str, redis: Redis, tmp_path: Path
) -> None:
    rules = write_rules(tmp_path, min_accuracy=0.3, max_regression=0.01)
    settings = {"RELAY_RULES": str(rules), "EXTEND_API_KEY": "sk_sandbox"}
    async with stack(redis_url, sandbox_config(draft_share=0.2), **settings) as st:
        st.start_worker()
        status, _ = await st.call("POST", "/v1/rules/promote/deploy", {"subject": "r1"})
        assert status == 202
        deploy = await wait_deploy(st, "promote:manual:r1")
        assert deploy["status"] == "skipped" and deploy["gate"] == "eval"
        assert "below the deployed version's 1.0000 (max_regression 0.01)" in deploy["reason"]
        _, ev = await st.call("GET", "/v1/evals/promote:manual:r1")
        assert ev["baselineAccuracy"] == 1.0 and 0.3 <= ev["accuracy"] < 0.99


async def test_a_candidate_edited_during_its_evaluation_fails(
    redis_url: str, redis: Redis, tmp_path: Path
) -> None:
    rules = write_rules(tmp_path)
    settings = {"RELAY_RULES": str(rules), "EXTEND_API_KEY": "sk_sandbox"}
    config = sandbox_config()
    config.processing.processing_seconds = 0.5  # due after the pause below, never before
    async with stack(redis_url, config, **settings) as st:
        # Simulated time stands still: the evaluation's runs cannot finish before the edit.
        await st.sandbox("POST", "/_sandbox/clock", {"paused": True})
        status, _ = await st.call("POST", "/v1/rules/promote/deploy", {"subject": "c1"})
        assert status == 202
        st.start_worker()

        async def evaluating() -> bool:
            status, ev = await st.call("GET", "/v1/evals/promote:manual:c1")
            return status == 200 and bool(ev["batches"])

        await until(evaluating)
        headers = {"Authorization": "Bearer sk_sandbox", "x-extend-api-version": "2026-02-09"}
        async with st.http.post(
            f"{st.sb.base_url}/workflows/{STAGING}",
            json={"steps": [*STEPS[:2], {**STEPS[2], "config": {"x": 1}}]},
            headers=headers,
        ) as r:
            assert r.status == 200
        _, ev = await st.call("GET", "/v1/evals/promote:manual:c1")
        assert ev["state"] == "running"
        await st.sandbox("POST", "/_sandbox/clock", {"paused": False})
        deploy = await wait_deploy(st, "promote:manual:c1")
        assert deploy["status"] == "skipped"
        assert deploy["reason"] == "the candidate (draft) changed while it was evaluated"


async def test_a_set_larger_than_one_job_reads_is_scored_over_several_runs(
    redis_url: str, redis: Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from worker.deploys import evals

    monkeypatch.setattr(evals, "READS_PER_JOB", 3)  # 10 golden files: four runs of the job
    rules = write_rules(tmp_path)
    settings = {"RELAY_RULES": str(rules), "EXTEND_API_KEY": "sk_sandbox"}
    async with stack(redis_url, sandbox_config(), **settings) as st:
        st.start_worker()
        status, _ = await st.call("POST", "/v1/rules/promote/deploy", {"subject": "big"})
        assert status == 202
        deploy = await wait_deploy(st, "promote:manual:big")
        assert deploy["status"] == "deployed", deploy
        _, ev = await st.call("GET", "/v1/evals/promote:manual:big")
        assert ev["accuracy"] == 1.0 and ev["report"]["candidate"]["filesScored"] == FILES
        log = await st.sandbox("GET", "/_sandbox/requests", method="GET")
        reads = [r for r in log["requests"] if r["path"].startswith("/workflow_runs/workflow_run_")]
        assert len(reads) == FILES  # each run read once, over four runs of the job


async def test_run_completion_evaluates_and_the_evaluation_runs_trigger_nothing(
    redis_url: str, redis: Redis, tmp_path: Path
) -> None:
    # No metadata filter: the evaluation's own runs (same workflow, completed) match the rule
    # by workflow, and only their marker keeps them from claiming deploys of their own.
    rules = write_rules(tmp_path, on="run.completed", metadata="{}")
    settings = {"RELAY_RULES": str(rules), "EXTEND_API_KEY": "sk_sandbox"}
    async with stack(redis_url, sandbox_config(), **settings) as st:
        st.start_worker()
        status, body = await st.call(
            "POST", "/v1/batches", {"workflowId": STAGING, "files": [{"url": "https://f.test/x"}]}
        )
        assert status == 202
        await st.wait_done(body["batchId"])
        _, runs = await st.call("GET", f"/v1/batches/{body['batchId']}/runs")
        did = f"promote:{runs['runs'][0]['runId']}"
        deploy = await wait_deploy(st, did)
        assert deploy["status"] == "deployed" and deploy["evalId"] == did
        await st.deliveries_idle()
        _, listed = await st.call("GET", "/v1/deploys")
        assert [d["id"] for d in listed["deploys"]] == [did]
        _, evals = await st.call("GET", "/v1/evals")
        assert [e["id"] for e in evals["evals"]] == [did]
