"""The boundaries the design relies on, checked on the source (imports, Redis key strings, Lua,
the capability packages and module sizes)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("relay_core", "ingest", "worker", "relay_cli")

# The only modules of relay_core outside a capability package: what every capability uses.
CROSS_CUTTING = {"__init__", "keys", "settings", "errors", "logs", "params", "retry"}
MAX_LINES = 300
# Longer on purpose: the demo is one script a reader follows top to bottom.
LONG_MODULES = {"relay_cli/demo.py"}


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(package: str) -> set[tuple[str, str]]:
    found = set()
    for path in modules(package):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {(str(path.relative_to(ROOT)), a.name.split(".")[0]) for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add((str(path.relative_to(ROOT)), node.module.split(".")[0]))
    return found


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The modules of `known` a file imports, `from package import module` included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found & known


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
        for path in modules(package)
        if path != ROOT / "relay_core" / "keys.py" and pattern.search(path.read_text())
    ]
    assert offenders == []


def test_lua_builds_no_key_from_a_literal_prefix() -> None:
    """Lua gets its keys whole as KEYS, or (when a script picks a key itself) the shape from
    keys.py as an argument: no .lua file spells a relay key."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "relay_core").rglob("*.lua"))
        if "relay:" in path.read_text()
    ]
    assert offenders == []


def test_lua_lives_in_lua_files_run_by_the_registry() -> None:
    """No Lua in Python strings, and no other way of running it than relay_core.redis.scripts."""
    registry = ROOT / "relay_core" / "redis" / "luascript.py"
    lua_in_strings = re.compile(r"redis\.call\(|\b(KEYS|ARGV)\[")
    runs_lua = re.compile(r"\.(eval|evalsha|eval_ro|evalsha_ro|register_script|script_load)\(")
    offenders = [
        str(path.relative_to(ROOT))
        for package in PRODUCT
        for path in modules(package)
        if lua_in_strings.search(path.read_text())
        or (path != registry and runs_lua.search(path.read_text()))
    ]
    assert offenders == []


def test_relay_core_modules_live_in_capability_packages() -> None:
    loose = [
        path.name for path in (ROOT / "relay_core").glob("*.py") if path.stem not in CROSS_CUTTING
    ]
    assert loose == []


def test_capability_packages_say_what_they_hold() -> None:
    silent = [
        str(path.relative_to(ROOT))
        for package in PRODUCT
        for path in (ROOT / package).rglob("__init__.py")
        if path.parent != ROOT / package and ast.get_docstring(ast.parse(path.read_text())) is None
    ]
    assert silent == []


def test_no_module_is_longer_than_a_reader_can_hold() -> None:
    long = {
        str(path.relative_to(ROOT))
        for package in PRODUCT
        for path in modules(package)
        if len(path.read_text().splitlines()) > MAX_LINES
    }
    assert long <= LONG_MODULES, f"over {MAX_LINES} lines: {sorted(long - LONG_MODULES)}"


def test_every_relay_core_module_is_used_by_the_product() -> None:
    core = {module_name(path) for path in modules("relay_core") if path.name != "__init__.py"}
    used: set[str] = set()
    for package in PRODUCT:
        for path in modules(package):
            used |= imported_modules(path, core) - {module_name(path)}
    assert sorted(core - used) == []
