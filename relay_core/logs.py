"""Logging set-up: one line per event, text for people or JSON for log pipelines."""

from __future__ import annotations

import logging
import sys
from typing import Literal

import orjson


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a summary line's `key=value` words also become fields."""

    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        data: dict[str, object] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "msg": msg,
        }
        data.update(summary_fields(msg))
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(data).decode()


_RESERVED = frozenset({"ts", "level", "logger", "msg", "exc"})


def summary_fields(msg: str) -> dict[str, object]:
    """`apply_events group=g events=3 ms=1.5` -> {"event": "apply_events", "group": "g", ...}."""
    words = msg.split(" ")
    if not words or "=" in words[0] or len(words) < 2 or "=" not in words[1]:
        return {}
    fields: dict[str, object] = {"event": words[0]}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if sep and key.isidentifier() and key not in _RESERVED:
            fields[key] = _number(value)
    return fields


def _number(value: str) -> object:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value


def setup_logging(fmt: Literal["text", "json"] = "text", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
