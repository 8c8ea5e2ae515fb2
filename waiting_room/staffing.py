"""Staffing hint (supervisor board): GPs needed to hold a service level, by Erlang C (M/M/N).

Erlang C assumes exponential consultation times. Real consultation times vary less than that, and
with less variable service the waits are shorter, so the number it gives is conservative: it may
ask for a GP more than strictly needed, never fewer (for the same arrival rate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def erlang_c(servers: int, load: float) -> float:
    """Probability that an arrival waits, with ``servers`` GPs and an offered load of ``load``
    Erlangs (arrival rate x mean service time). 1 when the load reaches the servers."""
    if servers <= 0 or load >= servers:
        return 1.0
    if load <= 0:
        return 0.0
    # Erlang B by its stable recurrence, then C from B.
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    return servers * b / (servers - load * (1 - b))


def service_level(
    servers: int, arrivals_per_hour: float, service_minutes: float, within_seconds: float
) -> float:
    """Share of requests that wait at most ``within_seconds`` (M/M/N):
    1 - C(N, A) x exp(-(N - A) x t / mean service)."""
    if arrivals_per_hour <= 0:
        return 1.0
    load = arrivals_per_hour * service_minutes / 60.0
    if servers <= load:
        return 0.0
    waits = erlang_c(servers, load)
    return 1.0 - waits * math.exp(-(servers - load) * within_seconds / (service_minutes * 60.0))


@dataclass(frozen=True, slots=True)
class StaffingHint:
    arrivals_per_hour: float
    service_minutes: float
    gps_needed: int
    target_share: float
    within_seconds: float


def gps_needed(
    arrivals_per_hour: float,
    service_minutes: float,
    target_share: float = 0.95,
    within_seconds: float = 1800.0,
    max_gps: int = 10_000,
) -> StaffingHint:
    """The fewest GPs for which at least ``target_share`` of requests wait at most
    ``within_seconds`` (R6: 95% within 30 minutes by default)."""
    if service_minutes <= 0 or not 0 < target_share < 1:
        raise ValueError("service time must be positive and the target a share in (0, 1)")
    needed = 0
    if arrivals_per_hour > 0:
        needed = max(1, math.floor(arrivals_per_hour * service_minutes / 60.0) + 1)
        while (
            service_level(needed, arrivals_per_hour, service_minutes, within_seconds) < target_share
            and needed < max_gps
        ):
            needed += 1
    return StaffingHint(arrivals_per_hour, service_minutes, needed, target_share, within_seconds)
