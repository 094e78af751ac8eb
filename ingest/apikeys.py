"""Producer identity: RELAY_API_KEYS entries are `key`, `name:key` or `name:key:scope+scope`.

A key without scopes keeps every scope (the entries of earlier releases). A key without a name
is named after a hash of itself, so two such producers still share the limit as two. Keys are
compared in constant time and never logged; only names appear in batches, logs and metrics.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Literal

from relay_core.settings import ConfigError

Scope = Literal["read", "submit", "deploy", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "submit", "deploy", "admin")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str
    secret: bytes
    scopes: frozenset[str]

    def allows(self, scope: Scope) -> bool:
        return scope in self.scopes


def parse_entry(entry: str) -> ApiKey:
    parts = entry.split(":")
    if len(parts) == 1:
        key, name, scopes = parts[0], "", "+".join(SCOPES)
    elif len(parts) == 2:
        (name, key), scopes = parts, "+".join(SCOPES)
    elif len(parts) == 3:
        name, key, scopes = parts
    else:
        raise ConfigError("RELAY_API_KEYS: an entry is key, name:key or name:key:scope+scope")
    if not key:
        raise ConfigError("RELAY_API_KEYS: an entry has an empty key")
    if name and not _NAME.match(name):
        raise ConfigError("RELAY_API_KEYS: a name is 1-64 letters, digits, '_', '.' or '-'")
    wanted = frozenset(s for s in scopes.split("+") if s)
    unknown = sorted(wanted - set(SCOPES))
    if unknown or not wanted:
        raise ConfigError(
            f"RELAY_API_KEYS: unknown scope {', '.join(unknown) or '(none)'}; "
            f"scopes are {', '.join(SCOPES)}"
        )
    named = name or "key-" + hashlib.sha256(key.encode()).hexdigest()[:8]
    return ApiKey(named, key.encode(), wanted)


def parse_keys(entries: list[str]) -> tuple[ApiKey, ...]:
    return tuple(parse_entry(e) for e in entries)


def match(keys: tuple[ApiKey, ...], presented: str) -> ApiKey | None:
    """The key presented, compared with every configured key in constant time."""
    raw = presented.encode()
    found: ApiKey | None = None
    for key in keys:
        if hmac.compare_digest(raw, key.secret):
            found = key
    return found
