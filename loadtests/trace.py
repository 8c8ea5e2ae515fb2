"""The input trace of a load test: seeded, reproducible arrivals with every random draw they need,
and the GP roster as shifts per GP. The live runner and the ideal dispatcher replay the same trace.

Times are seconds from the start of the simulated day (hour of the day = time / 3600, modulo 24).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from typing import Literal

from loadtests.scenario import Consultation, Scenario

Kind = Literal["immediate", "appointment"]
Channel = Literal["video", "audio", "phone"]

_MAX_DECLINES = 20


@dataclass(frozen=True, slots=True)
class Arrival:
    index: int  # rank in the trace, by ``time``
    time: float  # when the request enters the queue (seconds)
    due: float  # when its 30 minutes start: ``time``, or the slot for an appointment
    kind: Kind
    channel: Channel
    service_seconds: float  # consultation, from acceptance to hang-up
    wrap_up_seconds: float  # the GP's notes after hang-up, before the next patient
    patience_seconds: float  # the patient leaves when waiting longer than this past ``due``
    declines: int  # offers declined by GPs before one accepts (the live runner only)
    disconnect_after_seconds: float | None  # connection drop, after ``time`` (live runner only)
    reconnect_after_seconds: float | None  # back after the drop; None: does not come back


@dataclass(frozen=True, slots=True)
class Shift:
    start: float
    end: float


def lognormal_params(mean: float, cv: float) -> tuple[float, float]:
    """(mu, sigma) of the normal whose exponential has this mean and coefficient of variation."""
    sigma2 = math.log(1.0 + cv * cv)
    return math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2)


def draw_service_seconds(rng: random.Random, consultation: Consultation) -> float:
    mean = consultation.mean_minutes * 60.0
    if consultation.distribution == "exponential":
        return rng.expovariate(1.0 / mean)
    mu, sigma = lognormal_params(mean, consultation.cv)
    return rng.lognormvariate(mu, sigma)


def _segments(scenario: Scenario, hours: float) -> list[tuple[float, float, float]]:
    """(start, end, hour_of_day_at_start) in seconds, cutting ``hours`` at every breakpoint of
    the scenario's day."""
    points = scenario.breakpoints()
    out = []
    for day in range(math.ceil(hours / 24.0)):
        for a, b in zip(points, points[1:], strict=False):
            start, end = (day * 24.0 + a) * 3600.0, min(day * 24.0 + b, hours) * 3600.0
            if start < end:
                out.append((start, end, a))
    return out


def _choice_channel(u: float, scenario: Scenario) -> Channel:
    c = scenario.channels
    if u < c.video:
        return "video"
    if u < c.video + c.audio:
        return "audio"
    return "phone"


def make_trace(
    scenario: Scenario, seed: int, duration_hours: float = 24.0, start_hour: float = 0.0
) -> list[Arrival]:
    """Non-homogeneous Poisson arrivals over ``duration_hours`` (piecewise-constant rate, exact:
    the exponential gaps restart at each breakpoint, which memorylessness allows), then each
    arrival's draws in a fixed order. Same scenario and seed, same trace. With ``start_hour``
    the day is drawn from 00:00 and only the requests entering the queue from that hour on are
    kept (renumbered), so a stretch of a day is the same stretch of the whole day's trace."""
    if duration_hours <= 0:
        raise ValueError("duration_hours must be positive")
    if start_hour < 0:
        raise ValueError("start_hour must not be negative")
    if start_hour > 0:
        whole = make_trace(scenario, seed, start_hour + duration_hours)
        kept = [a for a in whole if a.time >= start_hour * 3600.0]
        return [replace(a, index=i) for i, a in enumerate(kept)]
    rng = random.Random(seed)
    times: list[tuple[float, float]] = []  # (time, hour of day)
    for start, end, hour in _segments(scenario, duration_hours):
        rate = scenario.arrivals.rate_at(hour) / 3600.0
        if rate <= 0:
            continue
        t = start + rng.expovariate(rate)
        while t < end:
            times.append((t, (t / 3600.0) % 24.0))
            t += rng.expovariate(rate)

    appt = scenario.appointments
    slot = appt.slot_minutes * 60.0
    conn = scenario.connections
    mean_patience = scenario.patience.mean_minutes * 60.0
    decline = scenario.offers.decline_rate
    raw = []
    for t, hour in times:
        # Always the same number of draws per arrival, so that changing one share does not
        # shift every later draw.
        u_kind, u_channel, u_decline, u_reconnect = (rng.random() for _ in range(4))
        service = draw_service_seconds(rng, scenario.consultation)
        patience = rng.expovariate(1.0 / mean_patience) if math.isfinite(mean_patience) else 0.0
        disconnect = (
            rng.expovariate(conn.disconnect_per_hour / 3600.0)
            if conn.disconnect_per_hour > 0
            else 0.0
        )
        reconnect = rng.expovariate(1.0 / conn.reconnect_mean_seconds)

        kind: Kind = "immediate"
        channel = _choice_channel(u_channel, scenario)
        due = t
        if appt.first_hour <= hour < appt.last_hour and u_kind < appt.share:
            kind = "appointment"
            channel = "video"  # a booking has no channel: appointments are video consultations
            due = math.ceil(t / slot) * slot  # the slot the booking fills
            t = max(0.0, due - appt.checkin_minutes * 60.0)
        declines = 0
        if decline > 0:
            declines = min(_MAX_DECLINES, int(math.log(1.0 - u_decline) / math.log(decline)))
        raw.append(
            (
                t,
                due,
                kind,
                channel,
                service,
                scenario.consultation.wrap_up_minutes * 60.0,
                patience if math.isfinite(mean_patience) else math.inf,
                declines,
                disconnect if conn.disconnect_per_hour > 0 else None,
                reconnect if u_reconnect < conn.reconnect_share else None,
            )
        )
    raw.sort(key=lambda r: (r[0], r[1]))
    return [Arrival(i, *r) for i, r in enumerate(raw)]


def make_roster(
    scenario: Scenario,
    duration_hours: float = 24.0,
    drain_hours: float = 1.0,
    start_hour: float = 0.0,
) -> list[tuple[Shift, ...]]:
    """Shifts per GP from ``start_hour`` over ``duration_hours + drain_hours`` (the drain lets the
    requests of the last minutes be served). GPs are numbered; at any hour the first
    ``on_shift_at(hour)`` work, so the no-shows are the last ones rostered. Adjacent stretches are
    merged into one shift."""
    if start_hour > 0:
        whole = make_roster(scenario, start_hour + duration_hours, drain_hours)
        begin = start_hour * 3600.0
        clipped = [
            tuple(Shift(max(s.start, begin), s.end) for s in shifts if s.end > begin)
            for shifts in whole
        ]
        return [shifts for shifts in clipped if shifts]
    horizon = duration_hours + drain_hours
    segments = _segments(scenario, horizon)
    width = max((scenario.roster.on_shift_at(h) for _, _, h in segments), default=0)
    shifts: list[list[Shift]] = [[] for _ in range(width)]
    for start, end, hour in segments:
        for gp in range(scenario.roster.on_shift_at(hour)):
            own = shifts[gp]
            if own and own[-1].end == start:
                own[-1] = Shift(own[-1].start, end)
            else:
                own.append(Shift(start, end))
    return [tuple(s) for s in shifts]
