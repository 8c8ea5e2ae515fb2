"""Prometheus metrics of one node (prometheus-client), served at /metrics.

Each node exports its own registry; sum or max across nodes in Prometheus. Queue gauges are set by
the feed from the shared live state, so every node reports the same queue.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

WAIT_BUCKETS = (30, 60, 120, 300, 600, 900, 1200, 1500, 1800, 2400, 3600, float("inf"))
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, float("inf"))


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.queue_length = Gauge(
            "tc_queue_length", "Requests in the queue, waiting or held by an offer", registry=r
        )
        self.oldest_wait = Gauge(
            "tc_queue_oldest_wait_seconds", "Wait of the oldest queued request", registry=r
        )
        self.at_risk = Gauge(
            "tc_queue_at_risk", "Queued requests predicted to miss their deadline", registry=r
        )
        self.gps = Gauge("tc_gps", "Physicians by status", ["status"], registry=r)
        self.waits = Histogram(
            "tc_wait_seconds",
            "Time from arrival to the GP accepting the request",
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.offers = Counter("tc_offers_total", "Offers made to GPs", registry=r)
        self.offer_timeouts = Counter(
            "tc_offer_timeouts_total", "Offers not accepted in time", registry=r
        )
        self.breaches = Counter(
            "tc_breaches_total",
            "Requests that passed their deadline before a GP accepted them (R6)",
            registry=r,
        )
        self.predicted_breaches = Counter(
            "tc_predicted_breaches_total", "SLA alerts raised before the deadline", registry=r
        )
        self.dispatch_latency = Histogram(
            "tc_dispatch_latency_seconds",
            "From the triggering event (GP free, request arrived) to the offer sent",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

        self.feed_tick = Histogram(
            "tc_feed_tick_seconds",
            "Duration of one feed tick (timers, forecast, pushes) on this node",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    # -- the waiting room's Observer -------------------------------------------------------------
    def offer_made(self, latency_seconds: float) -> None:
        self.offers.inc()
        self.dispatch_latency.observe(latency_seconds)

    def offer_timed_out(self) -> None:
        self.offer_timeouts.inc()

    def consultation_started(self, wait_seconds: float, breached: bool) -> None:
        self.waits.observe(wait_seconds)
        if breached:
            self.breaches.inc()

    async def handler(self, request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
