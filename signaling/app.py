"""Composition root: builds the aiohttp application with every part wired in."""

from __future__ import annotations

import logging

import socketio
from aiohttp import web

from records.accounts import Accounts
from records.db import create_engine, default_url
from records.demo import seed_demo
from records.migrations import migrate
from records.requests import SqlRequestStore
from signaling.auth import TokenService
from signaling.config import Settings, jwt_secret
from signaling.handlers import SocketHandlers
from signaling.http_api import MAX_BODY, AuthApi, HealthApi, add_api, add_pages, errors_middleware
from signaling.notifier import SocketNotifier
from signaling.redis_adapter import LoginLimiter, socketio_manager
from waiting_room import redis_store
from waiting_room.clock import Clock, SystemClock
from waiting_room.service import WaitingRoom

logger = logging.getLogger(__name__)


async def build_app(settings: Settings, clock: Clock | None = None) -> web.Application:
    clock = clock or SystemClock()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.database_url or default_url(settings.data_dir))
    version = await migrate(engine)
    logger.info("database at schema version %d", version)

    redis = redis_store.connect(settings.redis_url)
    live = redis_store.RedisLiveStore(redis)
    accounts = Accounts(engine)
    tokens = TokenService(
        jwt_secret(settings), settings.access_token_seconds, settings.refresh_token_seconds
    )

    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        transports=["websocket"],
        # None = same origin only; a configured list never holds a wildcard (config.py).
        cors_allowed_origins=list(settings.allowed_origins) or None,
        max_http_buffer_size=MAX_BODY,
        client_manager=socketio_manager(settings.redis_url),
        logger=False,
        engineio_logger=False,
    )
    notifier = SocketNotifier(sio, accounts, clock, settings.ice_servers)
    room = WaitingRoom(SqlRequestStore(engine), live, accounts, notifier, clock)
    SocketHandlers(sio, tokens, accounts, room, live, notifier).register()

    if not await live.is_built():
        await room.rebuild()
    if settings.demo:
        await seed_demo(accounts, clock.now())

    app = web.Application(client_max_size=MAX_BODY, middlewares=[errors_middleware])
    sio.attach(app)
    add_api(
        app,
        AuthApi(accounts, tokens, LoginLimiter(redis), clock),
        HealthApi(engine, live),
    )
    add_pages(app, settings.web_dir)

    async def close(_: web.Application) -> None:
        await live.close()
        await engine.dispose()

    app.on_cleanup.append(close)
    return app
