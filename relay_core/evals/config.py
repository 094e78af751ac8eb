"""`[rules.eval]`: the golden set, the candidate, the thresholds and a comparator per field.

A golden file is JSON lines, one `{"file": {"url"} | {"id"} | {"text", "name"?}, "expected":
{field: value}}` per line. It is read and checked when the rules are loaded, so a broken line
stops the processes at start-up with the line number, not in the middle of a deploy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from relay_core.batches.models import BatchFile

Comparator = Literal["exact", "number", "date", "normalized", "similarity"]
VERSION_REF = r"^(draft|latest|[0-9]{1,9}|workflow_version_[A-Za-z0-9_-]{1,100})$"
MAX_GOLDEN_FILES = 5000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldCompare(_Strict):
    compare: Comparator = "exact"
    tolerance: float | None = Field(None, ge=0)
    min_ratio: float | None = Field(None, ge=0, le=1)

    @model_validator(mode="after")
    def _options(self) -> FieldCompare:
        # An option another comparator would silently ignore is a mistake worth reporting.
        if self.tolerance is not None and self.compare != "number":
            raise ValueError('tolerance applies to compare = "number" only')
        if self.min_ratio is not None and self.compare != "similarity":
            raise ValueError('min_ratio applies to compare = "similarity" only')
        return self


class EvalConfig(_Strict):
    golden: str = Field(min_length=1)
    candidate: str = Field("draft", pattern=VERSION_REF)
    min_accuracy: float = Field(ge=0, le=1)
    max_regression: float | None = Field(None, ge=0, le=1)
    fields: dict[str, FieldCompare] = Field(default_factory=dict)

    def comparator(self, name: str) -> FieldCompare:
        return self.fields.get(name) or FieldCompare()


class GoldenItem(_Strict):
    file: BatchFile
    expected: dict[str, Any] = Field(min_length=1)


def golden_path(cfg: EvalConfig, base: Path) -> Path:
    path = Path(cfg.golden)
    return path if path.is_absolute() else base / path


def load_golden(path: Path) -> list[GoldenItem]:
    """Every line of a golden file; ValueError names the first bad line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    items: list[GoldenItem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(GoldenItem.model_validate(orjson.loads(line)))
        except orjson.JSONDecodeError:
            raise ValueError(f"{path} line {number}: not JSON") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            msg = str(first["msg"]).removeprefix("Value error, ")
            raise ValueError(f"{path} line {number}: {where}: {msg}") from None
    if not items:
        raise ValueError(f"{path} has no golden files")
    if len(items) > MAX_GOLDEN_FILES:
        raise ValueError(f"{path} has more than {MAX_GOLDEN_FILES} golden files")
    return items


def check_golden(cfg: EvalConfig, base: Path) -> str | None:
    """None when the golden file loads, else `golden: <why>` for the start-up error line."""
    try:
        load_golden(golden_path(cfg, base))
    except ValueError as exc:
        return f"golden: {exc}"
    return None


def golden_json(items: list[GoldenItem]) -> list[dict[str, Any]]:
    return [{"file": i.file.stored(), "expected": i.expected} for i in items]
