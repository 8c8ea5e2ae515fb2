"""The ``teleconsult`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from aiohttp import web

from signaling.app import build_app
from signaling.config import ConfigError, Settings, load_settings

logger = logging.getLogger("teleconsult")

LISTEN_BACKLOG = 4096
"""Connections the kernel queues before the node accepts them (capped by net.core.somaxconn).
aiohttp's 128 overflowed in a reconnect storm: the dropped SYNs came back after the client's TCP
back-off (1, 3, 7, 15... s), so a few clients took a minute to return (capacity benchmark)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="teleconsult", description="Teleconsultation service")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run a server node")
    serve.add_argument("--host", help="bind address (TELECONSULT_HOST, default 127.0.0.1)")
    serve.add_argument("--port", help="port, 0 for a free one (TELECONSULT_PORT, default 8080)")
    serve.add_argument("--data-dir", help="data directory (TELECONSULT_DATA_DIR, default ./data)")
    serve.add_argument("--redis-url", help="Redis URL (TELECONSULT_REDIS_URL; default in-process)")
    serve.add_argument(
        "--database-url", help="SQLAlchemy URL (TELECONSULT_DATABASE_URL; default SQLite file)"
    )
    serve.add_argument(
        "--allowed-origin",
        action="append",
        help="extra origin allowed to open a socket, repeatable (TELECONSULT_ALLOWED_ORIGINS)",
    )
    serve.add_argument("--ice-servers", help="JSON list of ICE servers (TELECONSULT_ICE_SERVERS)")
    serve.add_argument(
        "--demo",
        action="store_true",
        default=None,
        help="seed the demo accounts (TELECONSULT_DEMO)",
    )
    serve.add_argument("--log-level", default="INFO")
    load = sub.add_parser(
        "load",
        help="load tests: run SCENARIO, seed SCENARIO, capacity (teleconsult load -h)",
        add_help=False,  # -h goes to the load tools' own parser
    )
    load.add_argument("args", nargs=argparse.REMAINDER)
    return parser


async def _serve(settings: Settings) -> None:
    app = await build_app(settings)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, backlog=LISTEN_BACKLOG)
    await site.start()
    port = int(runner.addresses[0][1])  # the port actually bound, also with --port 0
    print(f"LISTENING {port}", flush=True)
    logger.info("serving on http://%s:%d", settings.host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    logger.info("stopping")
    await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    if raw[:1] == ["load"]:  # its own parser, -h included
        from loadtests.runner import main as load_main  # the load tools only when asked

        return load_main(raw[1:] or ["-h"])
    args = _parser().parse_args(raw)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    overrides: dict[str, str | None] = {
        "host": args.host,
        "port": args.port,
        "data_dir": args.data_dir,
        "redis_url": args.redis_url,
        "database_url": args.database_url,
        "allowed_origins": ",".join(args.allowed_origin) if args.allowed_origin else None,
        "ice_servers": args.ice_servers,
        "demo": "true" if args.demo else None,
    }
    try:
        settings = load_settings(overrides)
    except ConfigError as exc:
        print(f"teleconsult: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        _run(_serve(settings))
    except KeyboardInterrupt:
        pass
    return 0


def _run(main: Coroutine[Any, Any, None]) -> None:
    """uvloop's runner when installed (a dependency: less CPU per socket.io message, measured in
    docs/BENCHMARKS.md), else asyncio's. ``TELECONSULT_EVENT_LOOP=asyncio`` keeps asyncio's."""
    if os.environ.get("TELECONSULT_EVENT_LOOP", "").strip().lower() != "asyncio":
        try:
            import uvloop
        except ImportError:  # pragma: no cover - uvloop is a dependency
            pass
        else:
            uvloop.run(main)
            return
    asyncio.run(main)


if __name__ == "__main__":
    raise SystemExit(main())
