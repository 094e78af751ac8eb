"""The documentation: the generated references are current, every setting is documented once
under the name the settings read, every path and module the pages name exists, the site builds
in strict mode, and the README stays a first day's read."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from scripts import gen_docs
from scripts.settings_doc import SECTIONS, section_variables, variables
from tests.support.procs import ROOT

DOCS = ROOT / "docs"
OTHERS = ("README.md", "deploy/README.md", "sandbox/README.md")
PAGES = [*sorted(DOCS.rglob("*.md")), *(ROOT / name for name in OTHERS)]
CODE_SPAN = re.compile(r"`([^`\n]+)`")
TOPS = "relay_core|ingest|worker|relay_cli|sandbox|bench|tests|scripts"
# `tests/test_x.py`, `relay_core/scheduler/`, `docs/dashboard.png`: a file or folder of the repo.
REPO_PATH = re.compile(rf"^(?:{TOPS}|docs|deploy)/[\w./-]*$")
# `relay_core.producer.Producer`: a module (and attribute) of the repo.
DOTTED = re.compile(rf"^(?:{TOPS})(?:\.\w+)+$")
MARK = "docs-test-mark-zz"


def test_generated_references_are_current() -> None:
    stale = [str(p.relative_to(ROOT)) for p in gen_docs.stale()]
    assert stale == [], "stale: run ./dev docs gen"


def test_every_variable_is_documented_once_with_a_meaning() -> None:
    text = (DOCS / "reference" / "settings.md").read_text()
    rows = re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", text, re.M)
    documented = [v for section in SECTIONS for v in section_variables(section)]
    every = {v.name for section in SECTIONS for v in variables(section.model)}
    assert sorted(rows) == sorted(v.name for v in documented)
    assert len(rows) == len(set(rows)), "a variable documented twice"
    assert set(rows) == every, "a variable of the models left out"
    assert [v.name for v in documented if not v.description.strip()] == []
    assert {"API_MAX_BODY_BYTES", "REDIS_URL", "WEB_CONCURRENCY"} <= set(rows)
    server, cli = text.split("\n## CLI\n", 1)
    assert "`RELAY_URL`" in cli and "`RELAY_API_KEY`" in cli
    assert "`RELAY_URL`" not in server and "`RELAY_API_KEYS`" in server


def test_secrets_show_no_default() -> None:
    text = (DOCS / "reference" / "settings.md").read_text()
    for name in ("EXTEND_WEBHOOK_SECRETS", "RELAY_API_KEYS", "EXTEND_API_KEY", "METRICS_TOKEN"):
        row = re.search(rf"^\| `{name}` \|[^|]*\| ([^|]*) \|", text, re.M)
        assert row is not None and row.group(1) == "— (secret)", name


def test_each_documented_name_is_the_one_the_settings_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Set each variable to a mark: the settings must either refuse it or hold it somewhere."""
    for section in SECTIONS:
        for var in section_variables(section):
            with monkeypatch.context() as env:
                env.setenv(var.name, MARK)
                try:
                    built = section.model()
                except ValidationError:
                    continue  # read, and refused: a number, a choice, a schedule
                assert MARK in _values(built), f"{var.name} is not read by {section.model}"


def test_capability_map_paths_exist() -> None:
    text = (DOCS / "architecture.md").read_text()
    table = text.split("## Capability map", 1)[1].split("\n## ", 1)[0]
    paths = [s for s in CODE_SPAN.findall(table) if "/" in s or s.endswith(".yml")]
    assert len(paths) > 80, "the map names fewer paths than expected: is the table still there?"
    missing = sorted({p for p in paths if not (ROOT / p).exists()})
    assert missing == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_paths_and_modules_a_page_names_exist(page: Path) -> None:
    spans = CODE_SPAN.findall(page.read_text())
    missing = [s for s in spans if REPO_PATH.match(s) and not (ROOT / s).exists()]
    unresolved = [s for s in spans if DOTTED.match(s) and not _resolves(s)]
    assert missing == [] and unresolved == []


def test_site_builds_in_strict_mode(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "reference" / "http-api" / "index.html").is_file()
    assert (tmp_path / "assets" / "javascripts" / "swagger-ui-bundle.js").is_file()


def test_readme_is_a_first_day_read() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    assert "./dev demo" in text and "./dev test" in text
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [link.split("#", 1)[0] for link in links if "://" not in link]
    assert len(local) > 10
    assert [link for link in local if not (ROOT / link).exists()] == []


def _values(model: BaseModel) -> str:
    """Every value of the settings as text, secrets revealed."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, SecretStr):
            out.append(value.get_secret_value())
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)
        else:
            out.append(str(value))

    walk(model)
    return "\n".join(out)


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(found, attr):
                return False
            found = getattr(found, attr)
        return True
    return False


class _Redis(BaseModel):
    """Redis and HTTP."""

    url: str = "redis://localhost/0"


class _Nested(BaseSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__", env_prefix="APP_")

    port: int = Field(8080, validation_alias="PORT", description="the port")
    redis: _Redis = Field(default_factory=_Redis)


def test_nested_models_become_sections_named_as_pydantic_settings_reads_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = [(v.group, v.name) for v in variables(_Nested)]
    assert found == [("", "PORT"), ("Redis and HTTP", "APP_REDIS__URL")]
    monkeypatch.setenv("APP_REDIS__URL", MARK)
    assert _Nested().redis.url == MARK
