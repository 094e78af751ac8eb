"""Lua scripts, one way: read from `.lua` files, named arguments, EVALSHA, reloaded on NOSCRIPT.

A script is the file `relay_core/<capability>/lua/<name>.lua`, read once per process. Its
header declares what it reads, by name, in order:

    --! KEYS: run batch ...buckets
    --! ARGV: status now

The registry binds those names for the body (`KEY.run`, `ARG.status`; a last name written
`...name` is a list of whatever remains), checks that the body reads exactly what the header
declares, and orders a caller's dicts the same way, raising before anything is sent when a name
is missing or extra. `--!include <capability>/<name>` pastes a library file (local functions
shared by several scripts, no header) once. Constants come from the Python that owns them:
ARQ_JOB_EXPIRES_MS (relay_core.redis.queue) for every script that mentions it, others given by
name when a script is declared.

Scripts run by EVALSHA. Redis forgets its scripts when it restarts or fails over (NOSCRIPT):
a call then loads every script (one round trip) and runs once more, which is safe because a
NOSCRIPT command ran nothing. A pipeline (`pipelined`) runs once more whole, so whatever is
queued there must be safe to repeat. In MULTI/EXEC a NOSCRIPT would leave the transaction's
other commands applied, so there a script is loaded, if missing, before it is queued.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import NoScriptError

from relay_core.redis import queue

Value = str | bytes | int | float
Names = Mapping[str, Value | Sequence[Value]]
Constant = int | str | Mapping[str, int | str]

# Defined in every script whose text mentions them.
CONSTANTS: dict[str, Constant] = {"ARQ_JOB_EXPIRES_MS": queue.JOB_EXPIRES_MS}

_HEADER = re.compile(r"^--! (KEYS|ARGV):(.*)$", re.MULTILINE)
_INCLUDE = re.compile(r"^--!include (\S+)[ \t]*$", re.MULTILINE)
_NAME = re.compile(r"(\.\.\.)?([a-z][a-z0-9_]*)")
_LUA_WORDS = frozenset(
    {"and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if"}
    | {"in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while"}
)


class ScriptError(Exception):
    """A script file that cannot be loaded as declared (raised at import time)."""


class ScriptArgumentError(TypeError):
    """A call that does not pass exactly the names its script declares (nothing was sent)."""


class Script:
    """One script: its final text, sha and declared names. Call it, or queue it on a pipeline."""

    def __init__(self, name: str, source: str, keys: list[str], argv: list[str]) -> None:
        self.name = name
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 (Redis's script id)
        self.keys, self.key_tail = _split_tail(keys)
        self.argv, self.arg_tail = _split_tail(argv)
        self.key_names = frozenset(_plain(keys))
        self.arg_names = frozenset(_plain(argv))

    def __repr__(self) -> str:
        return f"Script({self.name!r})"

    async def __call__(self, redis: Redis, *, keys: Names, args: Names) -> Any:
        flat = self.flatten(keys, args)
        client: Any = redis
        try:
            return await client.evalsha(self.sha, *flat)
        except NoScriptError:
            await load_all(redis)
            return await client.evalsha(self.sha, *flat)

    async def queue(self, pipe: Pipeline, *, keys: Names, args: Names) -> None:
        """Add the script to `pipe`: run a plain pipeline through `pipelined`, which reloads."""
        flat = self.flatten(keys, args)
        buffered: Any = pipe  # redis-py's pipeline methods are untyped
        if pipe.is_transaction:
            # Inside MULTI/EXEC a NOSCRIPT would leave the other commands applied: load first.
            (known,) = await buffered.immediate_execute_command("SCRIPT EXISTS", self.sha)
            if not known:
                await buffered.immediate_execute_command("SCRIPT LOAD", self.source)
        await buffered.evalsha(self.sha, *flat)  # answers the pipeline itself: nothing sent yet

    def flatten(self, keys: Names, args: Names) -> list[Value]:
        """EVALSHA's arguments after the sha: the key count, the keys, the arguments."""
        flat_keys = self._ordered("KEYS", keys, self.keys, self.key_tail, self.key_names)
        flat_args = self._ordered("ARGV", args, self.argv, self.arg_tail, self.arg_names)
        return [len(flat_keys), *flat_keys, *flat_args]

    def _ordered(
        self,
        what: str,
        given: Names,
        names: tuple[str, ...],
        tail: str | None,
        expected: frozenset[str],
    ) -> list[Value]:
        if given.keys() != expected:
            missing, extra = sorted(expected - given.keys()), sorted(given.keys() - expected)
            raise ScriptArgumentError(f"{self.name} {what}: missing {missing}, unexpected {extra}")
        out: list[Value] = []
        for name in names:
            value = given[name]
            if not isinstance(value, str | bytes | int | float):
                raise ScriptArgumentError(f"{self.name} {what}: {name} is one value, not a list")
            out.append(value)
        if tail is not None:
            rest = given[tail]
            if not isinstance(rest, list | tuple):
                raise ScriptArgumentError(f"{self.name} {what}: ...{tail} must be a list")
            out.extend(rest)
        return out


_REGISTRY: dict[str, Script] = {}


def script(name: str, **constants: Constant) -> Script:
    """The script `<capability>/<name>`, read and checked once per process."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    text = _expanded(name, set())
    keys, argv = _declared(name, text, "KEYS"), _declared(name, text, "ARGV")
    _check_reads(name, text, "KEY", keys)
    _check_reads(name, text, "ARG", argv)
    unused = [c for c in constants if not _mentions(text, c)]
    if unused:
        raise ScriptError(f"{name}: constants given but never read: {unused}")
    defined = {**{c: v for c, v in CONSTANTS.items() if _mentions(text, c)}, **constants}
    prologue = [f"local {c} = {_lua_literal(v)}" for c, v in defined.items()]
    prologue += _binding("KEY", "KEYS", keys) + _binding("ARG", "ARGV", argv)
    source = "\n".join([f"-- {name} (relay_core.redis.luascript binds the names)", *prologue, text])
    _REGISTRY[name] = found = Script(name, source, keys, argv)
    return found


def registered() -> list[Script]:
    return list(_REGISTRY.values())


async def load_all(redis: Redis) -> None:
    """Load every script into Redis in one round trip (after a restart or failover)."""
    async with redis.pipeline(transaction=False) as pipe:
        for each in _REGISTRY.values():
            pipe.script_load(each.source)
        await pipe.execute()


async def pipelined(redis: Redis, fill: Callable[[Pipeline], Awaitable[None]]) -> list[Any]:
    """Run what `fill` queues in one pipeline (one connection, one round trip). After a
    NOSCRIPT the scripts are loaded and the whole pipeline runs again, so everything `fill`
    queues must be safe to run twice (a script that answered NOSCRIPT ran nothing)."""
    for attempt in range(2):
        async with redis.pipeline(transaction=False) as pipe:
            await fill(pipe)
            try:
                return list(await pipe.execute())
            except NoScriptError:
                if attempt:
                    raise
        await load_all(redis)
    raise AssertionError("unreachable")


def _read(name: str) -> str:
    capability, _, stem = name.partition("/")
    path = resources.files("relay_core").joinpath(capability, "lua", stem + ".lua")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScriptError(f"no Lua file for {name!r}") from None


def _expanded(name: str, included: set[str]) -> str:
    """The file's text with each library pasted where it is first included."""

    def paste(match: re.Match[str]) -> str:
        library = match.group(1)
        if library in included:
            return f"-- ({library}: included above)"
        included.add(library)
        text = _expanded(library, included)
        if _HEADER.search(text) or re.search(r"\b(KEY|ARG)\.", text):
            raise ScriptError(f"{library} is included, so it takes arguments, not KEYS/ARGV")
        return text

    return _INCLUDE.sub(paste, _read(name))


def _declared(name: str, text: str, which: str) -> list[str]:
    names = [n for m in _HEADER.finditer(text) if m.group(1) == which for n in m.group(2).split()]
    if not any(m.group(1) == which for m in _HEADER.finditer(text)):
        raise ScriptError(f"{name}: no `--! {which}:` header")
    for i, raw in enumerate(names):
        match = _NAME.fullmatch(raw)
        if match is None or match.group(2) in _LUA_WORDS:
            raise ScriptError(f"{name}: {which} name {raw!r} is not a plain lowercase name")
        if match.group(1) and i != len(names) - 1:
            raise ScriptError(f"{name}: only the last {which} name may be a list ({raw})")
    if len(set(_plain(names))) != len(names):
        raise ScriptError(f"{name}: a {which} name is declared twice")
    return names


def _check_reads(name: str, text: str, table: str, declared: list[str]) -> None:
    if re.search(r"\b(KEYS|ARGV)\s*\[", text):
        raise ScriptError(f"{name}: reads KEYS/ARGV by position; use the declared names")
    read = set(re.findall(rf"\b{table}\.([a-z0-9_]+)", text))
    wanted = set(_plain(declared))
    if read != wanted:
        raise ScriptError(
            f"{name}: {table} declared but not read {sorted(wanted - read)}, "
            f"read but not declared {sorted(read - wanted)}"
        )


def _plain(declared: Sequence[str]) -> list[str]:
    """Declared names without the `...` of a list."""
    return [n.removeprefix("...") for n in declared]


def _split_tail(declared: list[str]) -> tuple[tuple[str, ...], str | None]:
    if declared and declared[-1].startswith("..."):
        return tuple(declared[:-1]), declared[-1][3:]
    return tuple(declared), None


def _binding(table: str, source: str, declared: list[str]) -> list[str]:
    names, tail = _split_tail(declared)
    fields = [f"{n} = {source}[{i}]" for i, n in enumerate(names, 1)]
    if tail is None:
        return [f"local {table} = {{{', '.join(fields)}}}"]
    fields.append(f"{tail} = {{}}")
    first = len(names) + 1
    return [
        f"local {table} = {{{', '.join(fields)}}}",
        f"for i = {first}, #{source} do {table}.{tail}[i - {first - 1}] = {source}[i] end",
    ]


def _mentions(text: str, constant: str) -> bool:
    return re.search(rf"\b{re.escape(constant)}\b", text) is not None


def _lua_literal(value: Constant) -> str:
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _lua_string(value)
    return (
        "{" + ", ".join(f"[{_lua_string(k)}] = {_lua_literal(v)}" for k, v in value.items()) + "}"
    )


def _lua_string(value: str) -> str:
    if not re.fullmatch(r"[\w:.\- ]*", value):
        raise ScriptError(f"constant {value!r}: only plain text is supported")
    return f"'{value}'"
