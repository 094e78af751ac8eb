"""Deploy rules: the RELAY_RULES TOML file, validated once at start-up of both processes.

A rule says when (`on` + workflow, version and metadata filters), whether (its gates) and what
to deploy (`[rules.deploy]`, one shape per provider). Everything wrong with the file is reported
as one line naming the rule and the field, so an operator can fix it without reading a traceback.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from relay_core.evals.config import EvalConfig, check_golden, golden_path
from relay_core.settings import ConfigError, Settings

Trigger = Literal["run.completed", "review.completed", "batch.completed"]
Provider = Literal["extend", "eachlabs", "xpander"]
MetaValue = str | int | float | bool

# What a name or version id template may use; `next` only means something to Eachlabs.
PLACEHOLDERS = frozenset({"rule", "batch_id", "run_id", "workflow", "date", "subject"})
EACHLABS_PLACEHOLDERS = PLACEHOLDERS | {"next"}
DEFAULT_NAME = "relay {rule} {subject}"


class _Strict(BaseModel):
    # A misspelt key must fail at start-up, not silently keep a default.
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_template(template: str, allowed: frozenset[str]) -> str:
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise ValueError(f"invalid template {template!r}: {exc}") from None
    unknown = sorted(f for f in fields if f not in allowed)
    if unknown:
        names = ", ".join("{" + f + "}" for f in sorted(allowed))
        raise ValueError(f"unknown placeholder {{{unknown[0]}}}; use {names}")
    return template


VERSION_REF = r"^(draft|latest|[0-9]{1,9}|workflow_version_[A-Za-z0-9_-]{1,100})$"


class StepsFrom(_Strict):
    """Promote: deploy the steps of this version of another (or the same) Extend workflow."""

    workflow: str = Field(min_length=1)
    version: str = Field("latest", pattern=VERSION_REF)


class ExtendDeploy(_Strict):
    provider: Literal["extend"]
    workflow: str = Field(min_length=1)
    # Always set: a retry after an unknown outcome finds the version by this name.
    name: str = Field(DEFAULT_NAME, min_length=1, max_length=200)
    steps: list[dict[str, Any]] | None = None
    steps_from: StepsFrom | None = None

    @field_validator("name")
    @classmethod
    def _template(cls, value: str) -> str:
        return _check_template(value, PLACEHOLDERS)

    @model_validator(mode="after")
    def _one_source(self) -> ExtendDeploy:
        if self.steps is not None and self.steps_from is not None:
            raise ValueError("give steps or steps_from, not both")
        return self


class EachlabsDeploy(_Strict):
    provider: Literal["eachlabs"]
    workflow: str = Field(min_length=1)
    version_id: str = Field("v{next}", min_length=1, max_length=100)
    production: bool = False
    locked: bool = False
    allowed_to_share: bool = False
    definition: dict[str, Any] | None = None
    definition_from: Literal["latest"] | None = None

    @field_validator("version_id")
    @classmethod
    def _template(cls, value: str) -> str:
        return _check_template(value, EACHLABS_PLACEHOLDERS)

    @model_validator(mode="after")
    def _one_definition(self) -> EachlabsDeploy:
        if (self.definition is None) == (self.definition_from is None):
            raise ValueError('give exactly one of definition or definition_from = "latest"')
        return self


class XpanderDeploy(_Strict):
    provider: Literal["xpander"]
    workflow: str = Field(min_length=1)


DeployTarget = Annotated[
    ExtendDeploy | EachlabsDeploy | XpanderDeploy, Field(discriminator="provider")
]


class Rule(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    on: Trigger
    workflow: str = Field(min_length=1)
    version: str | None = None
    metadata: dict[str, MetaValue] = Field(default_factory=dict)
    max_failure_rate: float | None = Field(None, ge=0, le=1)
    min_processed: int | None = Field(None, ge=0)
    require_reviews_approved: bool = False
    dry_run: bool = False
    deploy: DeployTarget
    eval: EvalConfig | None = None

    @model_validator(mode="after")
    def _batch_gates(self) -> Rule:
        # These gates count a batch's runs; on a single run they would silently always pass.
        if self.on != "batch.completed":
            for gate in ("max_failure_rate", "min_processed"):
                if getattr(self, gate) is not None:
                    raise ValueError(f"{gate} is a batch.completed gate, not for {self.on}")
        return self

    def matches(self, workflow: str | None, version: str | None, meta: Mapping[str, Any]) -> bool:
        """Does a run or batch of this workflow/version/metadata fall under this rule?"""
        if workflow != self.workflow:
            return False
        if self.version is not None and version != self.version:
            return False
        return all(_same(meta.get(k), v) for k, v in self.metadata.items())


def _same(actual: object, wanted: MetaValue) -> bool:
    # Metadata arrives as JSON; compare numbers as numbers and everything else as text.
    if isinstance(wanted, bool) or isinstance(actual, bool):
        return actual is wanted
    if isinstance(wanted, int | float) and isinstance(actual, int | float):
        return actual == wanted
    return actual is not None and str(actual) == str(wanted)


class RulesFile(_Strict):
    rules: list[Rule] = Field(default_factory=list)


class RuleSet:
    """The validated rules, looked up by name and by trigger."""

    def __init__(self, rules: list[Rule]) -> None:
        self.by_name = {r.name: r for r in rules}

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.by_name.values())

    def __len__(self) -> int:
        return len(self.by_name)

    def get(self, name: str) -> Rule | None:
        return self.by_name.get(name)

    def matching(
        self, on: Trigger, workflow: str | None, version: str | None, meta: Mapping[str, Any]
    ) -> list[Rule]:
        return [r for r in self if r.on == on and r.matches(workflow, version, meta)]


def load_rules(settings: Settings) -> RuleSet:
    """The rules RELAY_RULES names (none when unset); raise ConfigError with one line if invalid."""
    if not settings.deploys.rules:
        return RuleSet([])
    path = Path(settings.deploys.rules)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"RELAY_RULES {path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"RELAY_RULES {path}: not valid TOML: {exc}") from None
    return parse_rules(data, settings, str(path), base=path.parent)


def parse_rules(
    data: dict[str, Any], settings: Settings, source: str = "rules", base: Path | None = None
) -> RuleSet:
    try:
        parsed = RulesFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"RELAY_RULES {source}: {_describe(exc, data)}") from None
    seen: set[str] = set()
    rules: list[Rule] = []
    for rule in parsed.rules:
        if rule.name in seen:
            raise ConfigError(f'RELAY_RULES {source}: rule "{rule.name}": name: used twice')
        seen.add(rule.name)
        if rule.eval is not None:
            problem = check_golden(rule.eval, base or Path.cwd())
            if problem:
                raise ConfigError(f'RELAY_RULES {source}: rule "{rule.name}": eval.{problem}')
            # Relative to the rules file; the worker reads it again when an evaluation starts.
            path = str(golden_path(rule.eval, base or Path.cwd()).resolve())
            rule = rule.model_copy(update={"eval": rule.eval.model_copy(update={"golden": path})})
        missing = _missing_key(rule, settings)
        if missing:
            raise ConfigError(
                f'RELAY_RULES {source}: rule "{rule.name}": deploy.provider: '
                f"{rule.deploy.provider} needs {missing}, which is not set"
            )
        rules.append(rule)
    return RuleSet(rules)


def _missing_key(rule: Rule, settings: Settings) -> str | None:
    provider = rule.deploy.provider
    key = {
        "extend": settings.platforms.extend.api_key,
        "eachlabs": settings.platforms.eachlabs.api_key,
        "xpander": settings.platforms.xpander.api_key,
    }[provider]
    if key is None or not key.get_secret_value():
        return f"{provider.upper()}_API_KEY"
    extend = settings.platforms.extend.api_key
    if rule.eval is not None and (extend is None or not extend.get_secret_value()):
        return "EXTEND_API_KEY (the evaluation runs on Extend)"
    return None


def _describe(exc: ValidationError, data: dict[str, Any]) -> str:
    """`rule "name": field.path: message` for the first error pydantic found."""
    error = exc.errors()[0]
    loc = list(error["loc"])
    where = ""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        where = _rule_label(data, loc[1])
        loc = loc[2:]
    # The discriminated union puts the provider's name in the path; it is not a field.
    fields = [str(p) for p in loc if p not in ("extend", "eachlabs", "xpander")]
    msg = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        fields.append("provider")
        given = error["input"].get("provider") if isinstance(error["input"], dict) else None
        msg = f"must be one of extend, eachlabs, xpander (got {given!r})"
    field = ".".join(fields) or "(rule)"
    return f"{where}{field}: {msg}"


def _rule_label(data: dict[str, Any], index: int) -> str:
    rules = data.get("rules")
    raw = rules[index] if isinstance(rules, list) and index < len(rules) else None
    name = raw.get("name") if isinstance(raw, dict) else None
    return f'rule "{name}": ' if isinstance(name, str) else f"rule #{index + 1}: "
