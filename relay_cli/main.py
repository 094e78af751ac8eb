"""relay: run workflow-relay, and use it as a producer.

Run the service:    relay web | relay worker | relay sandbox | relay demo
Send work:          relay submit (local files, folders, URLs, file ids, texts), relay status,
                    relay queue
Hear and collect:   relay listen (notifications, verified), relay results (outputs out)
Operate:            relay deploys, relay evals

Client commands talk to a running relay: set RELAY_URL (default http://127.0.0.1:8080) and
RELAY_API_KEY. Every setting is an environment variable (see .env.example).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable

from redis.exceptions import ConnectionError as RedisConnectionError

from relay_cli import demo, deploys, dlq, evals, events, listen, queue, results, submit
from relay_cli.client import Unreachable
from relay_cli.config import load_settings
from relay_core.settings import ConfigError, Settings

Command = Callable[[argparse.Namespace], int]
MAX_REQUEST_LINE = 64 * 1024


__all__ = ["build_parser", "load_settings", "main"]


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional on Windows
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def cmd_web(args: argparse.Namespace) -> int:
    from aiohttp import web

    from ingest.app import create_app
    from relay_core.logs import setup_logging

    settings = load_settings()
    setup_logging(settings.logs.format, settings.logs.level)
    port = args.port or settings.web.port
    if settings.web.concurrency > 1 and not args.reuse_port:
        return serve_with_children(settings, args.host, port)
    _use_uvloop()
    app = create_app(settings)  # settings and rules first: a config error never waits on Redis
    _check_redis(settings)
    web.run_app(
        app,
        host=args.host,
        port=port,
        access_log=None,
        print=None,
        reuse_port=args.reuse_port,
        # aiohttp answers a request line over its 8 KB limit itself, in text/plain: long query
        # strings reach the handlers instead, which answer in the one JSON error shape.
        max_line_size=MAX_REQUEST_LINE,
    )
    return 0


def serve_with_children(settings: Settings, host: str, port: int) -> int:
    """WEB_CONCURRENCY processes on one port (relay_cli.webprocs), after the checks a child
    would fail on, so a bad configuration stops the parent with one line too."""
    from relay_cli.webprocs import Supervisor
    from relay_core.deploys.rules import load_rules
    from relay_core.redis.client import connect
    from relay_core.redis.durability import check_server

    settings.webhooks.require_secrets()
    settings.web.require_api_keys()
    load_rules(settings)

    async def check() -> None:
        redis = connect(settings.redis.url)
        try:
            await check_server(
                redis, settings.webhooks.ack_durability, settings.webhooks.ack_timeout_ms
            )
        finally:
            await redis.aclose()

    asyncio.run(check())
    _check_redis(settings)
    return Supervisor(settings.web.concurrency, host, port).run()


def cmd_worker(args: argparse.Namespace) -> int:
    from relay_core.deploys.rules import load_rules
    from relay_core.logs import setup_logging
    from worker.app import build_worker, check_health

    settings = load_settings()
    if args.check:
        return check_health(settings)
    setup_logging(settings.logs.format, settings.logs.level)
    load_rules(settings)  # a config error stops the worker before it tries Redis
    _check_redis(settings)
    _use_uvloop()
    asyncio.set_event_loop(asyncio.new_event_loop())
    build_worker(settings, burst=args.burst).run()
    return 0


def _check_redis(settings: Settings) -> None:
    """An evicting Redis stops the process here (ConfigError: one line, exit 2)."""
    from relay_core.redis.memguard import check_at_start

    asyncio.run(check_at_start(settings))


def cmd_sandbox(args: argparse.Namespace) -> int:
    # The sandbox is an independent implementation of the platforms' contract: the product
    # never imports it, so the launcher hands over to its own entry point.
    argv = [sys.executable, "-m", "sandbox", *args.rest]
    os.execv(sys.executable, argv)
    return 0  # pragma: no cover - execv does not return


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relay",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="`relay COMMAND --help` tells more about one command.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    web_p = sub.add_parser("web", help="run the webhook receiver and the /v1 API")
    web_p.add_argument("--host", default="0.0.0.0")
    web_p.add_argument("--port", type=int, default=None, help="default: $PORT or 8080")
    # Set by the WEB_CONCURRENCY parent for its children: bind with SO_REUSEPORT.
    web_p.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    web_p.set_defaults(run=cmd_web)
    worker_p = sub.add_parser("worker", help="run the arq worker")
    worker_p.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    worker_p.add_argument("--check", action="store_true", help="exit 0 if a worker is alive")
    worker_p.set_defaults(run=cmd_worker)
    sandbox_p = sub.add_parser("sandbox", help="run the local platform sandbox", add_help=False)
    sandbox_p.add_argument("rest", nargs=argparse.REMAINDER)
    sandbox_p.set_defaults(run=cmd_sandbox)
    demo.add_parser(sub)
    deploys.add_parser(sub)
    submit.add_parser(sub)
    queue.add_parser(sub)
    evals.add_parser(sub)
    dlq.add_parser(sub)
    events.add_parser(sub)
    listen.add_parser(sub)
    results.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sandbox"]:
        # argparse cannot hand options like --port through untouched; the sandbox parses them.
        return cmd_sandbox(argparse.Namespace(rest=argv[1:]))
    args = build_parser().parse_args(argv)
    run: Command = args.run
    try:
        return run(args)
    except ConfigError as exc:
        print(f"relay: {exc}", file=sys.stderr)
        return 2
    except RedisConnectionError as exc:  # down, or refusing us (a TLS certificate): one line
        print(f"relay: cannot connect to the Redis of REDIS_URL: {exc}", file=sys.stderr)
        return 1
    except Unreachable as exc:  # RELAY_URL, after the client's retries
        print(f"relay: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
