"""The step diff behind `relay deploys diff`: pure, by step name."""

from __future__ import annotations

from relay_core.deploys.versions import step_diff

A = {"name": "a", "type": "PARSE", "next": [{"step": "b"}]}
B = {"name": "b", "type": "EXTRACT", "config": {"extractor": {"id": "1"}, "schema": {"x": 1}}}


def test_added_removed_changed_and_same() -> None:
    source = [
        A,
        {**B, "config": {"extractor": {"id": "2"}, "fields": []}},
        {"name": "c", "type": "CLASSIFY"},
    ]
    target = [A, B, {"name": "old", "type": "SPLIT"}]
    assert step_diff(source, target) == [
        {
            "step": "b",
            "change": "changed",
            "type": "EXTRACT",
            "keys": ["config.extractor", "config.fields", "config.schema"],
        },
        {"step": "c", "change": "added", "type": "CLASSIFY", "keys": []},
        {"step": "old", "change": "removed", "type": "SPLIT", "keys": []},
    ]


def test_attributes_other_than_config_are_named_whole() -> None:
    changed = {**A, "type": "FILE_CONVERSION", "next": []}
    assert step_diff([changed], [A])[0]["keys"] == ["next", "type"]
    assert step_diff([{**B, "config": None}], [B])[0]["keys"] == ["config"]
    assert step_diff([A, B], [A, B]) == []
