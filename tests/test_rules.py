"""The rules file: the documented shape parses; every mistake is one line naming rule and field."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from relay_core.deploys.rules import EachlabsDeploy, ExtendDeploy, load_rules, parse_rules
from relay_core.settings import ConfigError, Settings

KEYS = {"EXTEND_API_KEY": "sk", "EACHLABS_API_KEY": "el", "XPANDER_API_KEY": "xp"}

# The rules file's documented shape (every key, with its comment), accepted verbatim.
EXAMPLE = """
[[rules]]
name = "promote-draft"             # unique
on = "batch.completed"             # "run.completed" | "review.completed" | "batch.completed"
workflow = "workflow_abc"          # runs/batches of this workflow
version = "draft"                  # optional: only runs on this workflow version
metadata = { env = "staging" }     # optional: every pair must match the run's or batch's metadata
max_failure_rate = 0.05            # optional, batch.completed: (FAILED+REJECTED+CANCELLED)/files
min_processed = 1                  # optional, batch.completed: at least this many PROCESSED
require_reviews_approved = true    # optional: no REJECTED run in the batch
dry_run = false                    # record what would be deployed, call nothing

[rules.deploy]
provider = "extend"                # "extend" | "eachlabs" | "xpander"
workflow = "workflow_abc"          # the target on that platform
name = "auto {rule} {batch_id}"    # extend: version name; placeholders {rule} {batch_id} {run_id} {workflow} {date}

[[rules]]
name = "each"
on = "run.completed"
workflow = "workflow_abc"
[rules.deploy]
provider = "eachlabs"
workflow = "wf_1"
version_id = "v{next}"
production = true
definition_from = "latest"

[[rules]]
name = "xp"
on = "review.completed"
workflow = "workflow_abc"
require_reviews_approved = true
[rules.deploy]
provider = "xpander"
workflow = "11111111-1111-4111-8111-111111111111"
"""


def settings(**env: str) -> Settings:
    return Settings(**{**KEYS, **env})


def test_the_documented_example_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(EXAMPLE)
    rules = load_rules(settings(RELAY_RULES=str(path)))
    assert [r.name for r in rules] == ["promote-draft", "each", "xp"]
    promote = rules.get("promote-draft")
    assert promote is not None
    assert promote.max_failure_rate == 0.05
    assert isinstance(promote.deploy, ExtendDeploy)
    assert promote.deploy.name == "auto {rule} {batch_id}"
    each = rules.get("each")
    assert each is not None
    assert isinstance(each.deploy, EachlabsDeploy)
    assert each.deploy.definition_from == "latest"


def test_no_rules_file_means_no_rules() -> None:
    assert len(load_rules(Settings())) == 0


def test_matching_by_workflow_version_and_metadata() -> None:
    rules = parse_rules(tomllib.loads(EXAMPLE), settings())
    meta = {"env": "staging", "other": 1}
    assert [r.name for r in rules.matching("batch.completed", "workflow_abc", "draft", meta)] == [
        "promote-draft"
    ]
    assert rules.matching("batch.completed", "workflow_abc", "3", meta) == []
    assert rules.matching("batch.completed", "workflow_abc", "draft", {"env": "prod"}) == []
    assert rules.matching("batch.completed", "workflow_x", "draft", meta) == []


def _first(**changes: Any) -> dict[str, Any]:
    data = tomllib.loads(EXAMPLE)
    rule = data["rules"][0]
    for key, value in changes.items():
        if key.startswith("deploy_"):
            rule["deploy"][key.removeprefix("deploy_")] = value
        else:
            rule[key] = value
    return data


INVALID = {
    "unknown trigger": (_first(on="run.finished"), "on"),
    "unknown provider": (_first(deploy_provider="jenkins"), "deploy.provider"),
    "failure rate above 1": (_first(max_failure_rate=1.5), "max_failure_rate"),
    "negative min_processed": (_first(min_processed=-1), "min_processed"),
    "misspelt key": (_first(dryrun=True), "dryrun"),
    "unknown placeholder": (_first(deploy_name="v {build}"), "deploy.name"),
    "empty target": (_first(deploy_workflow=""), "deploy.workflow"),
    "metadata not a table": (_first(metadata="env=staging"), "metadata"),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_rule_names_the_rule_and_the_field(case: str) -> None:
    data, field = INVALID[case]
    with pytest.raises(ConfigError) as info:
        parse_rules(data, settings())
    message = str(info.value)
    assert 'rule "promote-draft": ' + field + ":" in message, message
    assert "\n" not in message


def test_batch_gate_on_a_run_rule_is_refused() -> None:
    data = tomllib.loads(EXAMPLE)
    data["rules"][2]["min_processed"] = 1
    with pytest.raises(ConfigError, match=r'rule "xp": \(rule\): min_processed is a batch'):
        parse_rules(data, settings())


def test_eachlabs_needs_exactly_one_definition_source() -> None:
    data = tomllib.loads(EXAMPLE)
    data["rules"][1]["deploy"]["definition"] = {"steps": []}
    with pytest.raises(ConfigError, match=r'rule "each": deploy: .*exactly one of definition'):
        parse_rules(data, settings())


def test_duplicate_names_are_refused() -> None:
    data = tomllib.loads(EXAMPLE)
    data["rules"][1]["name"] = "promote-draft"
    with pytest.raises(ConfigError, match='rule "promote-draft": name: used twice'):
        parse_rules(data, settings())


@pytest.mark.parametrize(
    ("rule", "key"), [("promote-draft", "EXTEND"), ("each", "EACHLABS"), ("xp", "XPANDER")]
)
def test_a_provider_without_a_key_is_refused(rule: str, key: str) -> None:
    env = {k: v for k, v in KEYS.items() if not k.startswith(key)}
    with pytest.raises(ConfigError) as info:
        parse_rules(tomllib.loads(EXAMPLE), Settings(**env))
    assert f'rule "{rule}": deploy.provider:' in str(info.value)
    assert f"{key}_API_KEY" in str(info.value)


def _relay(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [sys.executable, "-m", "relay_cli.main", *args],
        env={**base, **KEYS, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", [["worker"], ["web", "--host", "127.0.0.1", "--port", "9"]])
def test_an_invalid_rules_file_stops_the_process_with_one_line(
    tmp_path: Path, command: list[str]
) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(EXAMPLE.replace("max_failure_rate = 0.05", "max_failure_rate = 5"))
    env = {
        "RELAY_RULES": str(path),
        "EXTEND_WEBHOOK_SECRETS": "wss_x",
        "RELAY_API_KEYS": "k",
        # Nothing listens here: the process must stop before it tries Redis at all.
        "REDIS_URL": "redis://127.0.0.1:9/0",
    }
    result = _relay(*command, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert 'rule "promote-draft": max_failure_rate:' in lines[0]
    assert str(path) in lines[0]


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_rules(settings(RELAY_RULES=str(tmp_path / "missing.toml")))
    bad = tmp_path / "bad.toml"
    bad.write_text("[[rules]\nname =")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_rules(settings(RELAY_RULES=str(bad)))


def test_the_guide_worked_example_is_valid() -> None:
    guide = Path(__file__).resolve().parents[1] / "docs" / "guides" / "deploy-rules.md"
    section = guide.read_text().split("## Worked example", 1)[1]
    block = section.split("```toml\n", 1)[1].split("```", 1)[0]
    rules = parse_rules(tomllib.loads(block), settings())
    assert [r.name for r in rules] == [
        "promote-invoices",
        "promote-images",
        "reviewed-flow",
        "try-me",
    ]
