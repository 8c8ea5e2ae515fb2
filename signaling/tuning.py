"""Server-side efficiency levers for socket.io, and the event-loop watch that shows they matter.

Measured on the 2-core development machine (docs/BENCHMARKS.md, "Capacity"):
- Garbage collection: python-socketio keeps some 150-200 objects per connection, so a full
  collection walks millions of objects at 20,000 connections and stops the loop for a second.
  The objects alive once the node has started are frozen (``gc.freeze``: the collector skips
  them), and so, every ``FREEZE_EVERY_SECONDS`` when young collections ran meanwhile, are the ones
  that survived a young collection: long-lived connection state then stays out of every later
  collection. Freezing often keeps the young generations small: frozen every 30 s, a burst of
  connections (300 a second) left a million objects there, and collecting them stopped the loop
  for a second (capacity ramp). A cycle of frozen objects
  that becomes garbage is not collected until the process ends; cycles are rare on this path.
  The young generation is collected every 50,000 allocations instead of 700.
- Compression off: aiohttp accepts permessage-deflate by default, which browsers always offer:
  about 4 times the memory per connection and more CPU per message, for small JSON frames.
- The event-loop watch (``tc_event_loop_lag_seconds``, ``tc_gc_pause_seconds``) is always on;
  ``TELECONSULT_TUNING=off`` turns the levers off to measure them (benchmarks only).
- uvloop is chosen by the process that starts the event loop: ``install_event_loop``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from typing import Any

from engineio.async_drivers.aiohttp import WebSocket
from prometheus_client import CollectorRegistry, Gauge, Histogram

logger = logging.getLogger(__name__)

TUNING_ENV = "TELECONSULT_TUNING"
GC_THRESHOLDS = (50_000, 20, 100)
WARM_UP_SECONDS = 5.0
FREEZE_EVERY_SECONDS = 1.0
FROZEN_GAUGE_EVERY_SECONDS = 3600.0
"""``gc.get_freeze_count`` walks every frozen object (a quarter of a second at 20,000
connections): the gauge is refreshed at start-up and then this rarely."""
WATCH_INTERVAL = 0.02
RECENT_SECONDS = 10.0
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, float("inf"))


def enabled(environ: dict[str, str] | None = None) -> bool:
    """The levers are on unless ``TELECONSULT_TUNING`` is ``off`` (or 0, false, no)."""
    raw = (environ if environ is not None else os.environ).get(TUNING_ENV, "on")
    return raw.strip().lower() not in ("off", "0", "false", "no")


class PlainWebSocket(WebSocket):  # type: ignore[misc]
    """engineio's aiohttp websocket with permessage-deflate refused (same size limit)."""

    async def __call__(self, environ: dict[str, Any]) -> Any:
        from aiohttp.web import WebSocketResponse

        request = environ["aiohttp.request"]
        self._sock = WebSocketResponse(
            max_msg_size=self.server.max_http_buffer_size, compress=False
        )
        await self._sock.prepare(request)
        self.environ = environ
        await self.handler(self)
        return self._sock


def server_options(on: bool) -> dict[str, Any]:
    """Extra keyword arguments for ``socketio.AsyncServer``."""
    return {"http_compression": False} if on else {}


def apply_to_server(sio: Any, on: bool) -> None:
    """Refuse websocket compression on this server only (no global patch)."""
    if on:
        eio = sio.eio
        eio._async = dict(eio._async, websocket=PlainWebSocket)


class LoopWatch:
    """Event-loop lag (how late a 20 ms timer fires: every pause of the loop shows up) and the
    duration of each garbage collection, as Prometheus metrics on the node's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.lag = Histogram(
            "tc_event_loop_lag_seconds",
            "How late the event loop ran a 20 ms timer (every pause shows up here)",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.lag_max = Gauge(
            "tc_event_loop_lag_max_seconds", "Longest event-loop lag since start", registry=registry
        )
        self.lag_recent = Gauge(
            "tc_event_loop_lag_recent_max_seconds",
            "Longest event-loop lag of the last 10 to 20 seconds",
            registry=registry,
        )
        self.gc_pause = Histogram(
            "tc_gc_pause_seconds",
            "Duration of one garbage collection, by generation",
            ["generation"],
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.frozen = Gauge(
            "tc_gc_frozen_objects", "Objects frozen out of garbage collection", registry=registry
        )
        self._max = 0.0
        self._gc_started = 0.0
        self._gc_hists = [self.gc_pause.labels(str(g)) for g in range(3)]

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self._gc_hists[info["generation"]].observe(time.perf_counter() - self._gc_started)

    async def run_forever(self) -> None:
        gc.callbacks.append(self._on_gc)
        try:
            loop = asyncio.get_running_loop()
            last = window = loop.time()
            current = previous = 0.0
            while True:
                await asyncio.sleep(WATCH_INTERVAL)
                now = loop.time()
                lag = max(0.0, now - last - WATCH_INTERVAL)
                last = now
                self.lag.observe(lag)
                if now - window > RECENT_SECONDS:
                    window, previous, current = now, current, 0.0
                    self.lag_recent.set(previous)
                if lag > current:
                    current = lag
                    self.lag_recent.set(max(current, previous))
                if lag > self._max:
                    self._max = lag
                    self.lag_max.set(lag)
        finally:
            gc.callbacks.remove(self._on_gc)


class GcTuner:
    """Young collections less often; after warm-up, and then periodically, what survived a young
    collection is frozen out of the full collections that would walk every connection."""

    def __init__(self, watch: LoopWatch | None = None) -> None:
        self._watch = watch

    def configure(self) -> None:
        gc.set_threshold(*GC_THRESHOLDS)

    def freeze(self) -> None:
        gc.collect(1)
        gc.freeze()

    def count_frozen(self) -> int:
        count = gc.get_freeze_count()
        if self._watch is not None:
            self._watch.frozen.set(count)
        return count

    async def run_forever(self) -> None:
        await asyncio.sleep(WARM_UP_SECONDS)
        gc.collect()
        self.freeze()
        logger.info("gc: %d objects frozen after start-up", self.count_frozen())
        loop = asyncio.get_running_loop()
        counted = loop.time()
        young = gc.get_stats()[0]["collections"]
        while True:
            await asyncio.sleep(FREEZE_EVERY_SECONDS)
            if gc.get_stats()[0]["collections"] != young:  # objects were promoted meanwhile
                self.freeze()
                young = gc.get_stats()[0]["collections"]
            if loop.time() - counted >= FROZEN_GAUGE_EVERY_SECONDS:
                counted = loop.time()
                self.count_frozen()


def install_event_loop() -> bool:
    """Make uvloop the event loop of later ``asyncio.run`` calls, when installed."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True
