"""`steps_from` and `[rules.eval]` in the rules file: parsed, and every mistake one line."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from relay_core.deploys.rules import ExtendDeploy, load_rules
from relay_core.settings import ConfigError, Settings

KEYS = {"EXTEND_API_KEY": "sk", "XPANDER_API_KEY": "xp"}
GOOD = '{"file": {"url": "https://files.test/a.pdf?x=1"}, "expected": {"x": 1}}\n'


def rules_file(tmp_path: Path, deploy: str, evaluation: str = "", golden: str = GOOD) -> Path:
    (tmp_path / "golden.jsonl").write_text(golden)
    text = f"""
[[rules]]
name = "r"
on = "batch.completed"
workflow = "workflow_s"
[rules.deploy]
{deploy}
{evaluation}
"""
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return path


EXTEND = 'provider = "extend"\nworkflow = "workflow_p"'
EVAL = '[rules.eval]\ngolden = "golden.jsonl"\nmin_accuracy = 0.9'


def load(path: Path, **env: str) -> object:
    return load_rules(Settings(**{**KEYS, **env, "RELAY_RULES": str(path)}))


def test_steps_from_and_eval_parse(tmp_path: Path) -> None:
    deploy = EXTEND + '\nsteps_from = { workflow = "workflow_s", version = "3" }'
    evaluation = EVAL + '\n[rules.eval.fields.x]\ncompare = "number"\ntolerance = 0.5'
    rules = load_rules(Settings(**KEYS, RELAY_RULES=str(rules_file(tmp_path, deploy, evaluation))))
    (rule,) = list(rules)
    assert isinstance(rule.deploy, ExtendDeploy)
    assert rule.deploy.steps_from is not None and rule.deploy.steps_from.version == "3"
    assert rule.eval is not None and rule.eval.candidate == "draft"
    assert rule.eval.golden == str((tmp_path / "golden.jsonl").resolve())  # next to the rules
    assert rule.eval.comparator("x").tolerance == 0.5
    assert rule.eval.comparator("other").compare == "exact"


@pytest.mark.parametrize(
    ("deploy", "evaluation", "golden", "message"),
    [
        (
            EXTEND + '\nsteps = [{name = "a", type = "PARSE"}]\nsteps_from = { workflow = "w" }',
            "",
            GOOD,
            'rule "r": deploy: give steps or steps_from, not both',
        ),
        (
            EXTEND + '\nsteps_from = { workflow = "w", version = "newest" }',
            "",
            GOOD,
            'rule "r": deploy.steps_from.version: String should match pattern',
        ),
        (EXTEND, EVAL, GOOD + '{"file": {}, "expected": {"x": 1}}\n', "line 2: file: each file"),
        (EXTEND, EVAL, GOOD + "not json\n", "line 2: not JSON"),
        (EXTEND, EVAL, "", "has no golden files"),
        (EXTEND, EVAL.replace("0.9", "1.5"), GOOD, "eval.min_accuracy: Input should be less"),
        (
            EXTEND,
            EVAL + '\n[rules.eval.fields.x]\ncompare = "exact"\ntolerance = 1',
            GOOD,
            "tolerance applies",
        ),
        (EXTEND, EVAL + '\ncandidate = "best"', GOOD, "eval.candidate: String should match"),
    ],
)
def test_mistakes_are_one_line(
    tmp_path: Path, deploy: str, evaluation: str, golden: str, message: str
) -> None:
    path = rules_file(tmp_path, deploy, evaluation, golden)
    tomllib.loads(path.read_text())  # the TOML itself is valid: the rule is what is wrong
    with pytest.raises(ConfigError) as exc:
        load(path)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_an_evaluation_needs_the_extend_key(tmp_path: Path) -> None:
    path = rules_file(tmp_path, 'provider = "xpander"\nworkflow = "x"', EVAL)
    with pytest.raises(ConfigError, match="EXTEND_API_KEY \\(the evaluation runs on Extend\\)"):
        load_rules(Settings(XPANDER_API_KEY="xp", RELAY_RULES=str(path)))
