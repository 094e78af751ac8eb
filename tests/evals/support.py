"""The evaluation tests' world: a staging workflow whose draft is the candidate, a production
workflow the rule promotes onto, a golden set whose expected values the sandbox derives from
each file's URL, and a rules file with `[rules.eval]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from sandbox import SandboxConfig
from tests.batches.support import Stack
from tests.support.signing import SECRET
from tests.support.wait import until

STAGING = "workflow_staging"
PROD = "workflow_prod"
EXTRACT = {"name": "extract", "type": "EXTRACT", "config": {"extractor": {"id": "ex_1"}}}
STEPS = [
    {"name": "trigger", "type": "TRIGGER", "next": [{"step": "parse"}]},
    {"name": "parse", "type": "PARSE", "next": [{"step": "extract"}]},
    EXTRACT,
]
FILES = 10


def worse_steps(share: float) -> list[dict[str, Any]]:
    spoiled = {**EXTRACT, "config": {**EXTRACT["config"], "sandbox": {"wrong_share": share}}}
    return [*STEPS[:2], spoiled]


def sandbox_config(draft_share: float = 0.0) -> SandboxConfig:
    draft = worse_steps(draft_share) if draft_share else STEPS
    return SandboxConfig.model_validate(
        {
            "seed": 3,
            "webhook_secret": SECRET,
            "processing": {"pending_seconds": 0, "processing_seconds": 0},
            "workflows": {
                "extend": [
                    # Published v1 is the good one; the draft is what the candidate will be.
                    {
                        "id": STAGING,
                        "name": "Staging",
                        "steps": draft,
                        "versions": [{"steps": STEPS}],
                    },
                    {
                        "id": PROD,
                        "name": "Production",
                        "steps": STEPS,
                        "versions": [{"name": "v1"}],
                    },
                ]
            },
        }
    )


def golden_lines(n: int = FILES) -> list[dict[str, Any]]:
    lines = []
    for i in range(n):
        total = round(10.5 * (i + 1), 2)
        date = f"2024-03-{i + 1:02d}"
        url = f"https://files.example/inv-{i}.pdf?number=INV-{i}&total={total}&date={date}"
        # The golden date is written another way: the date comparator reads both.
        expected = {"number": f"INV-{i}", "total": total + 0.004, "date": f"{i + 1:02d}.03.2024"}
        lines.append({"file": {"url": url}, "expected": expected})
    return lines


def write_rules(
    tmp_path: Path,
    *,
    on: str = "batch.completed",
    metadata: str = '{ env = "staging" }',
    **eval_fields: Any,
) -> Path:
    golden = tmp_path / "golden.jsonl"
    golden.write_text("\n".join(orjson.dumps(line).decode() for line in golden_lines()) + "\n")
    fields = {"min_accuracy": 0.9, **eval_fields}
    lines = [
        "[[rules]]",
        'name = "promote"',
        f'on = "{on}"',
        f'workflow = "{STAGING}"',
        f"metadata = {metadata}",
        "[rules.deploy]",
        'provider = "extend"',
        f'workflow = "{PROD}"',
        'name = "promote {subject}"',
        f'steps_from = {{ workflow = "{STAGING}", version = "draft" }}',
        "[rules.eval]",
        'golden = "golden.jsonl"',
        'candidate = "draft"',
        *(f"{k} = {v}" for k, v in fields.items()),
        "[rules.eval.fields.total]",
        'compare = "number"',
        "tolerance = 0.01",
        "[rules.eval.fields.date]",
        'compare = "date"',
    ]
    path = tmp_path / "rules.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def wait_deploy(st: Stack, did: str, timeout: float = 60.0) -> dict[str, Any]:
    _, body = await until(
        lambda: st.call("GET", f"/v1/deploys/{did}"),
        within=timeout,
        what=f"deploy {did} final",
        accept=lambda got: got[0] == 200 and got[1]["status"] in ("deployed", "failed", "skipped"),
    )
    return dict(body)
