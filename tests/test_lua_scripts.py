"""The Lua script registry: every call site passes exactly what its script declares (read from
the source), every script runs on the real Redis, and a Redis that forgot its scripts
(NOSCRIPT: a restart or failover) gets them back, for a plain call, a pipeline and a MULTI."""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from relay_core.redis import scripts
from relay_core.redis.durability import check_server
from relay_core.redis.luascript import Script, registered
from tests.support.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("relay_core", "ingest", "worker", "relay_cli")
HANDLES: dict[str, Script] = {n: s for n, s in vars(scripts).items() if isinstance(s, Script)}


@dataclass(frozen=True)
class CallSite:
    where: str
    handle: str
    keys: set[str]
    args: set[str]


def _scopes(tree: ast.Module) -> Iterator[tuple[ast.AST, list[ast.AST]]]:
    """Every node with the functions around it (innermost last)."""
    stack: list[tuple[ast.AST, list[ast.AST]]] = [(tree, [tree])]
    while stack:
        node, around = stack.pop()
        yield node, around
        for child in ast.iter_child_nodes(node):
            inner = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            stack.append((child, [*around, child] if inner else around))


def _dict_names(value: ast.expr, around: list[ast.AST], where: str) -> set[str]:
    """The literal names of a `keys=`/`args=` dict, or of the one dict a name was bound to in
    an enclosing function (a closure filling a pipeline uses its caller's dicts)."""
    if isinstance(value, ast.Name):
        for scope in reversed(around):
            bound = [
                node.value
                for node in ast.walk(scope)
                if isinstance(node, ast.Assign | ast.AnnAssign)
                and node.value is not None
                and any(
                    isinstance(t, ast.Name) and t.id == value.id
                    for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                )
            ]
            if bound:
                assert len(bound) == 1, f"{where}: {value.id} is bound more than once"
                value = bound[0]
                break
    assert isinstance(value, ast.Dict), f"{where}: pass names as a dict literal"
    names = set()
    for key in value.keys:
        assert isinstance(key, ast.Constant) and isinstance(key.value, str), (
            f"{where}: every name is a literal string (no ** spread)"
        )
        names.add(key.value)
    return names


def call_sites() -> list[CallSite]:
    found = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for node, around in _scopes(tree):
                handle = _handle_called(node)
                if handle is None:
                    continue
                assert isinstance(node, ast.Call)
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                named = {k.arg: k.value for k in node.keywords if k.arg in ("keys", "args")}
                assert set(named) == {"keys", "args"}, f"{where}: pass keys= and args="
                keys = _dict_names(named["keys"], around, where)
                args = _dict_names(named["args"], around, where)
                found.append(CallSite(where, handle, keys, args))
    return found


def _handle_called(node: ast.AST) -> str | None:
    """X for `scripts.X(...)` and `scripts.X.queue(...)`."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return None
    target = node.func
    if target.attr == "queue" and isinstance(target.value, ast.Attribute):
        target = target.value
    if isinstance(target.value, ast.Name) and target.value.id == "scripts":
        return target.attr if target.attr in HANDLES else None
    return None


def test_every_call_site_passes_exactly_what_its_script_declares() -> None:
    sites = call_sites()
    wrong = [
        (site.where, site.handle)
        for site in sites
        if site.keys != HANDLES[site.handle].key_names
        or site.args != HANDLES[site.handle].arg_names
    ]
    assert wrong == []
    assert {site.handle for site in sites} == set(HANDLES), "a script nobody calls"


def test_scripts_are_reached_only_through_the_registry() -> None:
    """A script is called as `scripts.NAME(...)` or `scripts.NAME.queue(...)`, never passed
    around or imported by name (the check above could not follow it), and only the registry
    loads Lua."""
    others = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            called = set()
            for node in ast.walk(tree):
                if _handle_called(node) and isinstance(node, ast.Call):
                    func = node.func
                    called |= {id(func), id(getattr(func, "value", func))}
            for node in ast.walk(tree):
                by_name = (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "scripts"
                    and node.attr in HANDLES
                    and id(node) not in called
                )
                imported = (
                    isinstance(node, ast.ImportFrom)
                    and node.module in ("relay_core.redis.scripts", "relay_core.redis.luascript")
                    and path != ROOT / "relay_core" / "redis" / "scripts.py"
                )
                if by_name or imported:
                    others.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert others == []


def test_every_lua_file_is_a_script_or_an_included_library() -> None:
    files = {f"{p.parent.parent.name}/{p.stem}" for p in (ROOT / "relay_core").glob("*/lua/*.lua")}
    names = {s.name for s in registered()}
    libraries = files - names
    included = {
        line.split()[1]
        for p in (ROOT / "relay_core").glob("*/lua/*.lua")
        for line in p.read_text().splitlines()
        if line.startswith("--!include ")
    }
    assert names <= files
    assert libraries == included
    assert {s.name for s in HANDLES.values()} == names


def test_the_lua_files_ship_with_the_package() -> None:
    """setuptools' find (namespaces on, its default) takes each lua/ folder as a package of its
    own, and package-data its *.lua: a wheel built so holds every script."""
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "*.lua" in tool["package-data"]["*"]
    assert tool["packages"]["find"].get("namespaces", True)
    for folder in (ROOT / "relay_core").glob("*/lua"):
        assert (folder.parent / "__init__.py").exists(), folder
        assert not (folder / "__init__.py").exists(), folder  # data only, not Python


def test_the_arq_job_ttl_comes_from_the_arq_seam() -> None:
    for path in (ROOT / "relay_core").glob("*/lua/*.lua"):
        assert "86400000" not in path.read_text(), path
    assert "local ARQ_JOB_EXPIRES_MS = 86400000" in scripts.APPLY_RUN.source


# One run of every script on the real Redis (keys under "t:"): the Lua compiles, binds its
# names and answers. What each one does is tested with its capability.
SAMPLES: dict[str, tuple[dict[str, Any], dict[str, Any], Any]] = {
    "ENQUEUE_EVENTS": (
        {"group": "t:g", "job": "t:job", "queue": "t:q", "seen": ["t:s1", "t:s2"]},
        {"seen_ttl_s": 60, "job": "{}", "job_id": "j", "score": 1, "bodies": ["a", "b"]},
        [1, 1],
    ),
    "APPLY_RUN": (
        {n: f"t:{n}" for n in scripts.APPLY_RUN.key_names},
        {
            "status": "PROCESSED",
            "event_id": "e1",
            "now": 1000,
            "history_limit": 20,
            "fields": "{}",
            "run_id": "r1",
            "file_index": "",
            "done_job": "",
            "done_job_id": "",
            "retention_ms": 0,
            "expiry_bucket": 0,
            "expiry_ttl_ms": 1000,
        },
        [1, b"", 0, 0],
    ),
    "REQUEUE_GROUP": (
        {n: f"t:{n}" for n in scripts.REQUEUE_GROUP.key_names},
        {"job": "{}", "job_id": "j", "score": 1},
        0,
    ),
    "EXPIRE_RUNS": ({"hour": "t:hour"}, {"count": 10, "run_prefix": "t:run:"}, 0),
    "CHUNK_SEND": ({"batch": "t:b", "chunk": "t:c"}, {"now": 1, "files": "[]"}, b"missing"),
    "CHUNK_STATE": ({"chunk": "t:c"}, {"state": "pending", "error": ""}, -1),
    "CHUNK_SETTLE": (
        {**{n: f"t:{n}" for n in scripts.CHUNK_SETTLE.key_names}, "more_buckets": []},
        {
            "mode": "sent",
            "now": 1,
            "done_job": "",
            "done_job_id": "",
            "errors": "{}",
            "platform_batch_id": "",
            "batch_id": "b",
            "chunk": "0",
            "first_bucket": 0,
            "bucket_size": 1000,
        },
        -1,
    ),
    "CANCEL_BATCH": (
        {n: f"t:{n}" for n in scripts.CANCEL_BATCH.key_names},
        {
            **{n: "t:" for n in ("level_prefix", "weights_suffix", "producer_infix")},
            **{n: "x" for n in ("cancel_job", "cancel_job_id", "done_job", "done_job_id")},
            "now": 1,
            "batch_id": "b",
            "default_priority": 90,
        },
        -1,
    ),
    "RESOLVE_OR_PARK": (
        {"batch": "t:b", "run_files": "t:rf", "parked": "t:p"},
        {"run_id": "r", "body": "{}"},
        -2,
    ),
    "MAP_RUNS": (
        {n: f"t:{n}" for n in scripts.MAP_RUNS.key_names},
        {"mapping": "{}", "score": 1, "job": "{}", "job_id": "j"},
        0,
    ),
    "SCHED_JOIN": (
        {"batch": "t:b", "levels": "t:levels"},
        {
            "batch_id": "b",
            "default_priority": 90,
            "level_prefix": "t:level:",
            "weights_suffix": ":w",
            "producer_infix": ":u:",
        },
        1,
    ),
    "SCHED_CHANGE": (
        {"batch": "t:b", "levels": "t:levels"},
        {
            "batch_id": "b",
            "default_priority": 90,
            "priority": "",
            "weight": "",
            "level_prefix": "t:level:",
            "weights_suffix": ":w",
            "producer_infix": ":u:",
        },
        -1,
    ),
    "SCHED_TAKE": (  # after SCHED_JOIN: the joined batch has no hash, so it leaves: idle
        {n: f"t:{n}" for n in scripts.SCHED_TAKE.key_names},
        {
            "token": "tk",
            "now": "",
            "lookahead_ms": 50,
            "lease_ms": 3000,
            "default_priority": 90,
            "slot_ms": 1000,
            "run_interval_ms": 100,
            "pace_ms": 60,
            "files_limit": 1000,
            "window_ms": 60000,
            "level_prefix": "t:level:",
            "weights_suffix": ":w",
            "producer_infix": ":u:",
            "batch_prefix": "t:batch:",
            "chunk_infix": ":chunk:",
            "kinds_suffix": ":kinds",
            "job_prefix": "t:job:",
            "chunk_job_prefix": "chunk:",
            "job_function": "submit_chunk",
        },
        [b"idle"],
    ),
    "SCHED_KICK": (
        {n: f"t:{n}" for n in scripts.SCHED_KICK.key_names},
        {"token": "tk", "lease_ms": 1000, "job": "{}", "job_id": "j", "score": 1},
        0,
    ),
    "SCHED_HANDOFF": (
        {n: f"t:{n}" for n in scripts.SCHED_HANDOFF.key_names},
        {"token": "a", "new_token": "b", "lease_ms": 1, "job": "{}", "job_id": "j", "score": 1},
        0,
    ),
    "RATE_RESERVE": (
        {n: f"t:{n}" for n in scripts.RATE_RESERVE.key_names},
        {
            "max_wait_ms": 1000,
            "interval_ms": 100,
            "files_limit": 100,
            "files": 1,
            "window_ms": 60000,
            "pace_ms": 600,
        },
        [1, 0],
    ),
    "RATE_PAUSE": (
        {"pause": "t:pause", "strikes": "t:strikes"},
        {"pause_ms": 250, "base_ms": 500, "max_ms": 30000, "jitter": 0.5},
        250,
    ),
    "NOTIFY_CREATE": (
        {"marker": "t:m", "queue": "t:q", "deliveries": ["t:d", "t:dj"]},
        {"marker_ttl_ms": 1000, "now": 1, "deliveries": ['{"state":"pending"}', "{}", "dj"]},
        1,
    ),
    "NOTIFY_RESULT": (
        {n: f"t:{n}" for n in scripts.NOTIFY_RESULT.key_names},
        {n: "" for n in scripts.NOTIFY_RESULT.arg_names},
        0,
    ),
    "NOTIFY_REDRIVE": (
        {n: f"t:{n}" for n in scripts.NOTIFY_REDRIVE.key_names},
        {"now": 1, "job": "{}", "job_id": "j"},
        0,
    ),
    "NOTIFY_TAKE_SLOT": (
        {"flight": "t:f"},
        {"token": "tk", "now": 1, "lease_until": 1000, "limit": 1},
        1,
    ),
    "DEPLOY_CLAIM": (
        {n: f"t:{n}" for n in scripts.DEPLOY_CLAIM.key_names},
        {
            "fields": '{"status":"claimed"}',
            "now": 1,
            "job": "{}",
            "job_id": "j",
            "deploy_id": "d",
            "retention_ms": 0,
        },
        1,
    ),
    "DEPLOY_MOVE": (  # after DEPLOY_CLAIM
        {"deploy": "t:deploy"},
        {"allowed": "claimed", "fields": "{}", "attempt": '{"n":1}', "attempts_kept": 3},
        1,
    ),
    "EVAL_WAKE_DEPLOY": (
        {"job": "t:wake", "queue": "t:q"},
        {"job": "{}", "job_id": "w", "now": 1},
        1,
    ),
    "DEAD_LETTER_REDRIVE": (
        {**{n: f"t:{n}" for n in scripts.DEAD_LETTER_REDRIVE.key_names}, "keep": []},
        {n: "" for n in scripts.DEAD_LETTER_REDRIVE.arg_names},
        0,
    ),
    "RELEASE_IN_PROGRESS": ({"in_progress": ["t:ip"]}, {"most_left_ms": [1000]}, []),
}


async def test_every_script_runs_on_the_real_redis(redis: Redis) -> None:
    assert set(SAMPLES) == set(HANDLES)
    for name, (keys, args, expected) in SAMPLES.items():
        assert await HANDLES[name](redis, keys=keys, args=args) == expected, name
    assert all(await redis.script_exists(*(s.sha for s in registered())))


async def test_a_name_missing_or_extra_raises_before_anything_is_sent(redis: Redis) -> None:
    keys, args, _ = SAMPLES["CHUNK_STATE"]
    before = await _calls(redis, "evalsha")
    with pytest.raises(scripts.ScriptArgumentError, match=r"missing \['error'\]"):
        await scripts.CHUNK_STATE(redis, keys=keys, args={"state": "pending"})
    with pytest.raises(scripts.ScriptArgumentError, match=r"unexpected \['other'\]"):
        await scripts.CHUNK_STATE(redis, keys={**keys, "other": "t:o"}, args=args)
    with pytest.raises(scripts.ScriptArgumentError, match="must be a list"):
        await scripts.ENQUEUE_EVENTS(
            redis,
            keys={**SAMPLES["ENQUEUE_EVENTS"][0], "seen": "t:s"},
            args=SAMPLES["ENQUEUE_EVENTS"][1],
        )
    assert await _calls(redis, "evalsha") == before


async def _calls(redis: Redis, command: str) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


def _events(group: str, *event_ids: str) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = {
        "group": group,
        "job": f"{group}:job",
        "queue": "t:q",
        "seen": [f"t:seen:{e}" for e in event_ids],
    }
    args = {"seen_ttl_s": 60, "job": "{}", "job_id": group, "score": 1, "bodies": list(event_ids)}
    return keys, args


async def test_a_call_after_redis_lost_its_scripts_loads_them_and_runs_once(redis: Redis) -> None:
    assert await scripts.ENQUEUE_EVENTS(
        redis, keys=_events("t:g1", "a")[0], args=_events("t:g1", "a")[1]
    ) == [1]
    await redis.script_flush()  # what a restart or a failover to a fresh primary does
    keys, args = _events("t:g2", "b")
    assert await scripts.ENQUEUE_EVENTS(redis, keys=keys, args=args) == [1]
    assert await redis.lrange("t:g2", 0, -1) == [b"b"]  # stored once
    # every script came back at once, not one NOSCRIPT each
    assert all(await redis.script_exists(*(s.sha for s in registered())))


async def test_a_pipeline_after_redis_lost_its_scripts_runs_again_whole(redis: Redis) -> None:
    async def fill(pipe: Pipeline) -> None:
        await scripts.ENQUEUE_EVENTS.queue(pipe, keys=keys, args=args)
        pipe.incr("t:ran")

    keys, args = _events("t:g1", "a", "b")
    await redis.script_flush()
    flags, ran = await scripts.pipelined(redis, fill)
    assert flags == [1, 1]
    assert await redis.lrange("t:g1", 0, -1) == [b"a", b"b"]
    # The pipeline ran twice, the script once: what a pipeline may hold is safe to repeat.
    assert ran == 2


async def test_a_transaction_loads_its_scripts_before_it_is_sent(redis: Redis) -> None:
    keys, args, _ = SAMPLES["SCHED_JOIN"]
    await redis.script_flush()
    async with redis.pipeline(transaction=True) as tx:
        tx.set("t:with", "1")
        await scripts.SCHED_JOIN.queue(tx, keys=keys, args=args)
        assert await tx.execute() == [True, 1]  # no NOSCRIPT inside EXEC, nothing half done
    assert await redis.zrange("t:levels", 0, -1) == [b"90"]


@pytest.fixture
def aof_server() -> Iterator[RedisServer]:
    server = RedisServer(valkey=True, appendfsync="everysec").start()
    yield server
    server.stop()


async def test_the_durable_sink_stays_one_pipeline_and_reloads(aof_server: RedisServer) -> None:
    from ingest.sink import EventSink
    from relay_core.redis.client import connect

    redis = connect(aof_server.url)
    try:
        sink = EventSink(redis, 60, ack=await check_server(redis, "aof", 2000))
        assert await sink.submit("evt_1", b"one")
        exists, waits = await _calls(redis, "script|exists"), await _calls(redis, "waitaof")
        await redis.script_flush()
        assert await sink.submit("evt_2", b"two")  # NOSCRIPT: loaded, the pipeline again
        assert await sink.submit("evt_3", b"three")
        assert not await sink.submit("evt_3", b"three")
        # Never a SCRIPT EXISTS per group; the write and the wait went together each time.
        assert await _calls(redis, "script|exists") == exists
        assert await _calls(redis, "waitaof") == waits + 4
        await sink.close()
    finally:
        await redis.aclose()
