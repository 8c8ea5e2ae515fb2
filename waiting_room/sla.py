"""SLA forecasting (R6): when will each queued request reach a GP, and which will miss their
deadline. Pure: the caller passes the queue, the GPs' expected free times and ``now``."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

from waiting_room.model import GpStatus


@dataclass(frozen=True, slots=True)
class ServiceTimes:
    """How long a GP is busy per consultation (call plus wrap-up), in seconds: a low, a central and
    a high estimate. The central one decides predicted breaches; low and high bound the wait
    shown to patients."""

    low: float = 8 * 60.0
    mid: float = 12 * 60.0
    high: float = 18 * 60.0
    offer_latency: float = 15.0
    """Expected time for an offered GP to accept (half the default offer timeout)."""

    def __post_init__(self) -> None:
        if not 0 < self.low <= self.mid <= self.high:
            raise ValueError("service times must satisfy 0 < low <= mid <= high")


@dataclass(frozen=True, slots=True)
class GpLoad:
    status: GpStatus
    since: float
    """Business epoch seconds when the GP entered this status."""
    until: float | None = None
    """End of an offer or a wrap-up, when the status has one."""


@dataclass(frozen=True, slots=True)
class Forecast:
    start_low: float
    start_mid: float
    start_high: float
    at_risk: bool
    """Predicted (central estimate) to start after the deadline."""


def gp_free_at(load: GpLoad, now: float, service: ServiceTimes) -> float | None:
    """When this GP is expected to take their next request; None if they take none (off duty,
    paused)."""
    match load.status:
        case GpStatus.AVAILABLE:
            return now
        case GpStatus.OFFERED:
            # Either takes the offered request (busy for a consultation) or frees up at expiry;
            # the offered request is not in the queue, so count the consultation.
            return now + service.offer_latency + service.mid
        case GpStatus.IN_CALL:
            return max(now + 60.0, load.since + service.mid)
        case GpStatus.WRAP_UP:
            return max(now, load.until if load.until is not None else now)
        case _:
            return None


def _starts(deadline_count: int, free: Sequence[float], now: float, duration: float) -> list[float]:
    heap = [max(t, now) for t in free]
    heapq.heapify(heap)
    starts = []
    for _ in range(deadline_count):
        t = heapq.heappop(heap)
        starts.append(t)
        heapq.heappush(heap, t + duration)
    return starts


def forecast(
    deadlines: Sequence[float],
    gps: Sequence[GpLoad],
    now: float,
    service: ServiceTimes,
) -> list[Forecast] | None:
    """Predicted start times of queued requests, in queue order (``deadlines`` in the same order).

    Each request goes to the GP expected free first, who is then busy for one service time: a
    first-come first-served simulation over the GPs on duty. Returns None when no GP is on duty
    (every request then misses its deadline unless someone comes).
    """
    free = [t for t in (gp_free_at(g, now, service) for g in gps) if t is not None]
    if not free:
        return None
    n = len(deadlines)
    low = _starts(n, free, now, service.low)
    mid = _starts(n, free, now, service.mid)
    high = _starts(n, free, now, service.high)
    return [
        Forecast(lo, m, hi, m > deadline)
        for lo, m, hi, deadline in zip(low, mid, high, deadlines, strict=True)
    ]
