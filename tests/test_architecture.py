"""The boundaries the design relies on, checked on the source (imports and Redis key strings)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("relay_core", "ingest", "worker", "relay_cli")


def imports_of(package: str) -> set[tuple[str, str]]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {(str(path.relative_to(ROOT)), a.name.split(".")[0]) for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add((str(path.relative_to(ROOT)), node.module.split(".")[0]))
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("ingest", {"worker", "sandbox", "relay_cli"}),
        ("worker", {"ingest", "sandbox", "relay_cli"}),
        ("relay_core", {"ingest", "worker", "sandbox", "relay_cli"}),
        ("relay_cli", {"sandbox"}),
        ("sandbox", set(PRODUCT)),
    ],
)
def test_import_boundaries(package: str, forbidden: set[str]) -> None:
    bad = sorted((path, mod) for path, mod in imports_of(package) if mod in forbidden)
    assert bad == []


def test_redis_key_prefixes_are_defined_only_in_keys_module() -> None:
    pattern = re.compile(r"""["']relay:[a-z]""")
    offenders = [
        str(path.relative_to(ROOT))
        for package in PRODUCT
        for path in (ROOT / package).rglob("*.py")
        if path.name != "keys.py" and pattern.search(path.read_text())
    ]
    assert offenders == []
