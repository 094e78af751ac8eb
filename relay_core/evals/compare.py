"""Comparators and scoring: pure functions, no I/O.

A file's accuracy is the share of its expected fields that match; the set's accuracy is the
mean over fields of all files (every expected field of every file weighs the same). A file
whose run failed, or has no values, counts every expected field as a miss.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from relay_core.evals.config import EvalConfig, FieldCompare

_SPACES = re.compile(r"\s+")
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%d.%m.%Y",
    "%m/%d/%Y",
    "%d %B %Y",
    "%B %d, %Y",
    "%d %b %Y",
)


def normalize(value: Any) -> str:
    """Case, accents, surrounding and repeated whitespace and edge punctuation do not count."""
    text = unicodedata.normalize("NFKD", str(value))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return _SPACES.sub(" ", text).strip().strip(".,;:").strip().casefold()


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        # "1,234.50", "$ 12", "12 %": currency signs, spaces and thousands separators go.
        cleaned = re.sub(r"[^0-9eE+\-.]", "", value.replace(",", ""))
        try:
            return float(cleaned) if cleaned else None
        except ValueError:
            return None
    return None


def as_date(value: Any) -> date | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def matches(expected: Any, actual: Any, how: FieldCompare) -> bool:
    if actual is None:
        return expected is None
    if how.compare == "number":
        e, a = as_number(expected), as_number(actual)
        return e is not None and a is not None and abs(e - a) <= (how.tolerance or 0.0) + 1e-12
    if how.compare == "date":
        ed, ad = as_date(expected), as_date(actual)
        return ed is not None and ed == ad
    if how.compare == "normalized":
        return normalize(expected) == normalize(actual)
    if how.compare == "similarity":
        ratio = difflib.SequenceMatcher(None, normalize(expected), normalize(actual)).ratio()
        return ratio >= (how.min_ratio if how.min_ratio is not None else 0.9)
    return bool(expected == actual)


@dataclass(slots=True)
class FileScore:
    index: int
    hits: dict[str, bool] = field(default_factory=dict)  # expected field -> matched
    diffs: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def matched(self) -> int:
        return sum(self.hits.values())

    @property
    def accuracy(self) -> float:
        return self.matched / len(self.hits) if self.hits else 1.0


def score_file(
    index: int,
    expected: dict[str, Any],
    actual: dict[str, Any] | None,
    cfg: EvalConfig,
    error: str | None = None,
) -> FileScore:
    result = FileScore(index, error=error)
    for name, want in expected.items():
        got = None if actual is None else actual.get(name)
        hit = actual is not None and matches(want, got, cfg.comparator(name))
        result.hits[name] = hit
        if not hit:
            result.diffs.append({"field": name, "expected": want, "actual": got})
    return result


def summarize(files: list[FileScore]) -> dict[str, Any]:
    """Overall accuracy (mean over every expected field of every file) and per field."""
    per_field: dict[str, list[int]] = {}
    for f in files:
        for name, hit in f.hits.items():
            counts = per_field.setdefault(name, [0, 0])
            counts[0] += int(hit)
            counts[1] += 1
    matched = sum(c[0] for c in per_field.values())
    total = sum(c[1] for c in per_field.values())
    return {
        "accuracy": matched / total if total else 1.0,
        "matched": matched,
        "fields": total,
        "perField": {
            name: {"accuracy": c[0] / c[1], "matched": c[0], "total": c[1]}
            for name, c in sorted(per_field.items())
        },
    }


@dataclass(slots=True, frozen=True)
class Verdict:
    passed: bool
    reason: str


def verdict(cfg: EvalConfig, candidate: float, baseline: float | None) -> Verdict:
    """The gate: min_accuracy, then max_regression against the baseline when there is one."""
    if candidate < cfg.min_accuracy:
        return Verdict(False, f"accuracy {candidate:.4f} < min_accuracy {cfg.min_accuracy:g}")
    if cfg.max_regression is not None and baseline is not None:
        drop = baseline - candidate
        if drop > cfg.max_regression + 1e-12:
            return Verdict(
                False,
                f"accuracy {candidate:.4f} is {drop:.4f} below the deployed version's "
                f"{baseline:.4f} (max_regression {cfg.max_regression:g})",
            )
    return Verdict(True, f"accuracy {candidate:.4f} >= min_accuracy {cfg.min_accuracy:g}")
