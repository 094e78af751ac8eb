"""Simulated extraction: the values an EXTRACT step "finds" are derived from the run's input.

- a raw text that is a JSON object: its fields; any other text: its `key: value` lines;
- a file URL: its query parameters (`https://files.test/inv.pdf?total=12.5&number=INV-1`);
- an uploaded text file (POST /files/upload): its content, read as a raw text is;
- any other file id: nothing is known of its content, so no values.

Numbers stay numbers. A step's `config.sandbox.wrong_share` (0-1) makes that share of the
values wrong, so a worse version can be simulated; which values go wrong is a pure function of
the file and the field (the same on every run), not of the RNG or the order of runs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sandbox.extend.models import RunFile

Json = dict[str, Any]


def derive(f: RunFile) -> Json:
    if f.text is not None:
        return _from_text(f.text)
    if f.url is not None:
        return {k: _scalar(v) for k, v in parse_qsl(urlsplit(f.url).query)}
    if f.content is not None:
        return _from_text(f.content)
    return {}


def _from_text(text: str) -> Json:
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return parsed
    out: Json = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            out[key.strip()] = _scalar(value.strip())
    return out


def _scalar(value: str) -> Any:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value


def wrong_share(step: Json) -> float:
    config = step.get("config")
    sandbox = config.get("sandbox") if isinstance(config, dict) else None
    share = sandbox.get("wrong_share") if isinstance(sandbox, dict) else None
    return float(share) if isinstance(share, int | float) and not isinstance(share, bool) else 0.0


def extracted(f: RunFile, step: Json) -> Json:
    """The values one EXTRACT step returns for one file, spoiled at the step's wrong share."""
    share = wrong_share(step)
    values = derive(f)
    return {k: _spoil(v) if _unlucky(f, k, share) else v for k, v in values.items()}


def _unlucky(f: RunFile, field: str, share: float) -> bool:
    if share <= 0:
        return False
    source = f.text if f.text is not None else f.url or f.file_id or f.name
    digest = hashlib.sha256(f"{source}\0{field}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def _spoil(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value * 2 + 1
    return f"wrong {value}"
