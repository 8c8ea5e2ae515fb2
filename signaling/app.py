"""Composition root: builds the aiohttp application with every part wired in."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import socketio
from aiohttp import web

from media.echo import EchoService
from records.accounts import Accounts
from records.db import create_engine, default_url
from records.demo import seed_demo, seed_demo_roster
from records.duty import SqlDutyStore
from records.migrations import migrate
from records.reports import SqlReports
from records.requests import SqlRequestStore
from records.schedule import SqlScheduleStore
from signaling.auth import TokenService
from signaling.board import BoardBuilder
from signaling.config import Settings, jwt_secret
from signaling.echo_api import EchoApi
from signaling.feed import HEARTBEAT_TTL_MS, Feed
from signaling.handlers import LocalSessions, SocketHandlers
from signaling.http_api import MAX_BODY, AuthApi, HealthApi, add_api, add_pages, errors_middleware
from signaling.ice import IceConfig
from signaling.metrics import Metrics
from signaling.notifier import SocketNotifier
from signaling.redis_adapter import LoginLimiter, RevokedTokens, socketio_manager
from signaling.schedule_api import ScheduleApi
from signaling.tuning import GcTuner, LoopWatch, apply_to_server, enabled, server_options
from waiting_room import redis_store
from waiting_room.appointments import AppointmentBook
from waiting_room.clock import Clock, OffsetClock, ScaledClock, SystemClock
from waiting_room.dispatch import DispatchSettings
from waiting_room.hours import NurseHours
from waiting_room.recovery import RECOVERY_LOCK_MS, rebuild
from waiting_room.service import WaitingRoom
from waiting_room.sla import ServiceTimes

logger = logging.getLogger(__name__)


def make_clock(settings: Settings) -> Clock:
    clock: Clock = SystemClock()
    if settings.clock_scale != 1.0 or settings.clock_start is not None:
        logger.warning("business clock runs %.1f times faster than real time", settings.clock_scale)
        clock = ScaledClock(settings.clock_scale, settings.clock_start)
    if settings.test_clock:
        logger.warning("TEST CLOCK: POST /api/test/clock moves business time (never in production)")
        clock = OffsetClock(clock)
    return clock


async def build_app(settings: Settings, clock: Clock | None = None) -> web.Application:
    clock = clock or make_clock(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.database_url or default_url(settings.data_dir))
    version = await migrate(engine)
    logger.info("database at schema version %d", version)

    redis = redis_store.connect(settings.redis_url)
    live = redis_store.RedisLiveStore(redis)
    accounts = Accounts(engine)
    requests = SqlRequestStore(engine)
    duty = SqlDutyStore(engine)
    tokens = TokenService(
        jwt_secret(settings), settings.access_token_seconds, settings.refresh_token_seconds
    )
    dispatch_settings = DispatchSettings(
        phone_retry=settings.phone_retry_seconds,
        offer_timeout=settings.offer_timeout_seconds,
        wrap_up=settings.wrap_up_seconds,
        patient_grace=settings.patient_grace_seconds,
        call_grace=settings.call_grace_seconds,
    )
    metrics = Metrics()
    tuned = enabled()  # TELECONSULT_TUNING=off only to measure the levers (signaling/tuning.py)

    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        transports=["websocket"],
        # None = same origin only; a configured list never holds a wildcard (config.py).
        cors_allowed_origins=list(settings.allowed_origins) or None,
        max_http_buffer_size=MAX_BODY,
        client_manager=socketio_manager(settings.redis_url, live.node_id if tuned else None),
        logger=False,
        engineio_logger=False,
        **server_options(tuned),
    )
    apply_to_server(sio, tuned)
    ice = IceConfig(
        static=settings.ice_servers,
        turn_urls=settings.turn_urls,
        turn_secret=settings.turn_secret,
        turn_ttl_seconds=settings.turn_ttl_seconds,
        relay_only=settings.ice_relay_only,
    )
    notifier = SocketNotifier(sio, accounts, clock, ice, dispatch_settings.call_grace)
    room = WaitingRoom(requests, live, duty, accounts, notifier, clock, dispatch_settings, metrics)
    sessions = LocalSessions()
    handlers = SocketHandlers(sio, tokens, accounts, room, live, notifier, sessions)
    handlers.register()

    async def recover() -> str:
        """Rebuild the live state from SQL, once across nodes (the others wait for it)."""
        if await live.try_lock_recovery(RECOVERY_LOCK_MS):
            try:
                return (await rebuild(requests, live, duty, clock, dispatch_settings)).epoch
            finally:
                await live.unlock_recovery()
        for _ in range(int(RECOVERY_LOCK_MS / 100)):
            epoch = await live.built_epoch()
            if epoch is not None:
                return epoch
            await asyncio.sleep(0.1)
        raise RuntimeError("another node's recovery did not finish")

    schedule_store = SqlScheduleStore(engine)
    book = AppointmentBook(schedule_store, room, clock, settings.appointment_share)
    service_times = ServiceTimes()
    board = BoardBuilder(SqlReports(engine), duty, book, clock, service_times)
    feed = Feed(
        sio,
        room,
        live,
        duty,
        clock,
        service_times,
        metrics,
        sessions,
        handlers,
        recover,
        book=book,
        board=board,
    )

    # Start-up: if no other node is alive (all were stopped or killed), the live state is rebuilt
    # from SQL; offers in flight return to waiting. A dead node's heartbeat outlives it by up to
    # its TTL, so a node that sees others waits that long before believing them.
    await live.heartbeat(HEARTBEAT_TTL_MS)
    others = await live.other_live_nodes()
    if others:
        await asyncio.sleep(HEARTBEAT_TTL_MS / 1000 + 0.5)
        others = await live.other_live_nodes()
    if not others or await live.built_epoch() is None:
        feed.epoch = await recover()
    else:
        feed.epoch = await live.built_epoch()
        logger.info("joining %d live node(s)", len(others))
    if settings.demo:
        await seed_demo(accounts, clock.now())
        await seed_demo_roster(accounts, schedule_store, clock.now())

    app = web.Application(client_max_size=MAX_BODY, middlewares=[errors_middleware])
    sio.attach(app)
    auth_api = AuthApi(accounts, tokens, LoginLimiter(redis), clock, RevokedTokens(redis))
    add_api(app, auth_api, HealthApi(engine, live, clock))

    async def ice_route(request: web.Request) -> web.Response:
        """The caller's ICE servers (TURN credentials only for authenticated users)."""
        user = await auth_api.user(request)
        return web.json_response(
            {
                "ice_servers": ice.servers_for(user.id, int(time.time())),
                "ice_transport_policy": ice.policy,
            }
        )

    app.router.add_get("/api/ice", ice_route)
    # The pre-call network test's echo peer gets the same explicit ICE servers as the clients'
    # static list (TURN credentials are per user and the server's own peer needs none).
    echo_api = EchoApi(auth_api, EchoService(settings.echo_max_sessions, 8.0, settings.ice_servers))
    echo_api.add_routes(app)
    ScheduleApi(
        auth_api,
        book,
        schedule_store,
        accounts,
        room,
        clock,
        NurseHours.parse(settings.nurse_hours),
        settings.telephony_key,
    ).add_routes(app, settings.test_clock)
    app.router.add_get("/metrics", metrics.handler)
    add_pages(app, settings.web_dir)

    watch = LoopWatch(metrics.registry)

    async def background(_: web.Application) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(feed.heartbeat_forever()),
            asyncio.create_task(feed.run_forever()),
            asyncio.create_task(watch.run_forever()),
        ]
        if tuned:
            gc_tuner = GcTuner(watch)
            gc_tuner.configure()
            tasks.append(asyncio.create_task(gc_tuner.run_forever()))
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close(_: web.Application) -> None:
        await echo_api.close()
        with contextlib.suppress(Exception):
            await live.leave()
        await live.close()
        await engine.dispose()

    app.cleanup_ctx.append(background)
    app.on_cleanup.append(close)
    return app
