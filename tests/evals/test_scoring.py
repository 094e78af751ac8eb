"""The scoring module: comparators, per-file and per-field accuracy, the gate, run outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from relay_core.evals.compare import matches, score_file, summarize, verdict
from relay_core.evals.config import EvalConfig, FieldCompare, load_golden
from relay_core.evals.outputs import extracted_values


def cfg(**fields: Any) -> EvalConfig:
    return EvalConfig.model_validate({"golden": "g.jsonl", "min_accuracy": 0.9, **fields})


@pytest.mark.parametrize(
    ("how", "expected", "actual", "hit"),
    [
        ({}, "INV-1", "INV-1", True),
        ({}, "INV-1", "inv-1", False),
        ({}, 12, 12.0, True),
        ({}, "x", None, False),
        ({"compare": "number", "tolerance": 0.01}, 100.0, "100.009", True),
        ({"compare": "number", "tolerance": 0.01}, 100.0, 100.02, False),
        ({"compare": "number"}, "1,234.50", "$1234.5", True),
        ({"compare": "number"}, 1, "one", False),
        ({"compare": "number"}, 1, True, False),
        ({"compare": "date"}, "2024-03-01", "01.03.2024", True),
        ({"compare": "date"}, "2024-03-01", "March 1, 2024", True),
        ({"compare": "date"}, "2024-03-01", "2024-03-01T10:00:00Z", True),
        ({"compare": "date"}, "2024-03-01", "2024-03-02", False),
        ({"compare": "date"}, "2024-03-01", "soon", False),
        ({"compare": "normalized"}, "ACME  GmbH.", " acme gmbh", True),
        ({"compare": "normalized"}, "Café", "cafe", True),
        ({"compare": "normalized"}, "ACME", "ACNE", False),
        ({"compare": "similarity", "min_ratio": 0.8}, "Acme Corporation", "Acme Corporatoin", True),
        ({"compare": "similarity", "min_ratio": 0.8}, "Acme Corporation", "Globex", False),
    ],
)
def test_comparators(how: dict[str, Any], expected: Any, actual: Any, hit: bool) -> None:
    assert matches(expected, actual, FieldCompare.model_validate(how)) is hit


def test_option_of_another_comparator_is_refused() -> None:
    with pytest.raises(ValueError, match="tolerance applies"):
        FieldCompare.model_validate({"compare": "exact", "tolerance": 0.1})
    with pytest.raises(ValueError, match="min_ratio applies"):
        FieldCompare.model_validate({"compare": "number", "min_ratio": 0.1})


def test_set_accuracy_is_the_mean_over_fields_of_all_files() -> None:
    c = cfg(fields={"total": {"compare": "number", "tolerance": 0.01}})
    files = [
        score_file(0, {"id": "a", "total": 10}, {"id": "a", "total": "10.001"}, c),
        score_file(1, {"id": "b", "total": 5, "date": "x"}, {"id": "b", "total": 6}, c),
        score_file(2, {"id": "c"}, None, c, error="FAILED"),
    ]
    assert [f.accuracy for f in files] == [1.0, pytest.approx(1 / 3), 0.0]
    report = summarize(files)
    # 3 of 6 fields, not the mean of the file accuracies (0.444).
    assert report["accuracy"] == 0.5
    assert report["perField"] == {
        "date": {"accuracy": 0.0, "matched": 0, "total": 1},
        "id": {"accuracy": pytest.approx(2 / 3), "matched": 2, "total": 3},
        "total": {"accuracy": 0.5, "matched": 1, "total": 2},
    }
    assert files[1].diffs == [
        {"field": "total", "expected": 5, "actual": 6},
        {"field": "date", "expected": "x", "actual": None},
    ]


def test_gate_min_accuracy_and_regression() -> None:
    c = cfg(min_accuracy=0.8, max_regression=0.05)
    assert verdict(c, 0.9, 0.92).passed
    assert verdict(c, 0.9, None).passed
    failed = verdict(c, 0.79, None)
    assert not failed.passed and "min_accuracy 0.8" in failed.reason
    regressed = verdict(c, 0.85, 0.95)
    assert not regressed.passed and "below the deployed version's 0.9500" in regressed.reason


def test_values_from_both_dialects() -> None:
    run_2026 = {
        "stepRuns": [
            {"stepType": "PARSE", "result": None},
            {"stepType": "EXTRACT", "result": {"extractRun": {"output": {"value": {"a": 1}}}}},
            {"stepType": "EXTRACT", "result": {"extractRun": {"output": {"value": {"b": 2}}}}},
        ]
    }
    assert extracted_values(run_2026) == {"a": 1, "b": 2}
    run_2025 = {"outputs": [{"type": "EXTRACT", "output": {"value": {"a": 3}}}], "stepRuns": []}
    assert extracted_values(run_2025) == {"a": 3}
    assert extracted_values({"stepRuns": [], "outputs": []}) is None


def test_golden_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    path.write_text('{"file": {"url": "https://x.test/a"}, "expected": {"a": 1}}\n\n{"file": {}}\n')
    with pytest.raises(ValueError, match="line 3: file: each file needs exactly one"):
        load_golden(path)
    path.write_text('{"file": {"text": "a: 1"}, "expected": {"a": "1"}}\n')
    (item,) = load_golden(path)
    assert item.file.text == "a: 1"
