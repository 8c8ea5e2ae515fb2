"""The ideal reference: what a perfect dispatcher achieves on the same trace and the same draws.

A discrete-event simulation with zero dispatch latency and no declined or missed offers: the
appointments due (at their slot) go first, in slot order, then the immediate requests first come
first served; a GP on shift takes the next request the instant they are free (after the wrap-up),
and finishes a consultation begun before the end of their shift. A patient abandons when their wait
past ``due`` exceeds their patience, or when their connection drops while queued and they are not
back within the grace period (the live server keeps their place that long). Deliberately
independent of waiting_room's dispatcher, which it judges; only the pure Erlang C of
waiting_room.staffing is reused, for stationary stretches.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from loadtests.scenario import Scenario
from loadtests.trace import Arrival, Shift
from waiting_room.staffing import service_level

Status = Literal["served", "abandoned", "unserved", "lost"]
Policy = Literal["fcfs", "edf"]

APPOINTMENT_CREDIT_SECONDS = 1800.0
"""The live policy as docs/PROTOCOL.md states it: an appointment is served as if its slot were 30
minutes earlier (restated here, not imported from the dispatcher this module judges)."""

GRACE_SECONDS = 120.0
"""The queued patient's grace period after a dropped connection (docs/PROTOCOL.md)."""

# Event kinds, in the order they are applied at one instant (all before dispatching).
_OFF, _ON, _FREE, _DUE = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class Outcome:
    index: int
    status: Status
    wait_seconds: float | None  # served: accepted - due; abandoned: left - due; else None
    gp: int | None = None
    accepted_at: float | None = None


@dataclass(frozen=True, slots=True)
class HourShare:
    hour: int  # hours since the start of the trace, by ``due``
    requests: int
    within: int
    share: float


@dataclass(frozen=True, slots=True)
class Summary:
    within_minutes: float
    requests: int
    served: int
    abandoned: int
    unserved: int
    lost: int  # the live server dropped them (never for the ideal)
    within: int
    share_within: float  # of all requests; abandoned and unserved count as failures
    p50_wait_seconds: float  # waits of the served requests
    p90_wait_seconds: float
    p99_wait_seconds: float
    max_wait_seconds: float
    per_hour: tuple[HourShare, ...]


@dataclass(frozen=True, slots=True)
class IdealResult:
    outcomes: tuple[Outcome, ...]  # by trace index
    summary: Summary


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted values (0 when empty)."""
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summarize(
    trace: Sequence[Arrival], outcomes: Sequence[Outcome], within_minutes: float = 30.0
) -> Summary:
    """The figures the report compares, for the ideal or (given its outcomes) the live run."""
    limit = within_minutes * 60.0
    waits = sorted(
        o.wait_seconds for o in outcomes if o.status == "served" and o.wait_seconds is not None
    )
    hours: dict[int, list[int]] = {}
    within = 0
    for arrival, outcome in zip(trace, outcomes, strict=True):
        ok = outcome.status == "served" and (outcome.wait_seconds or 0.0) <= limit
        within += ok
        counts = hours.setdefault(int(arrival.due // 3600), [0, 0])
        counts[0] += 1
        counts[1] += ok
    n = len(outcomes)
    return Summary(
        within_minutes=within_minutes,
        requests=n,
        served=sum(o.status == "served" for o in outcomes),
        abandoned=sum(o.status == "abandoned" for o in outcomes),
        unserved=sum(o.status == "unserved" for o in outcomes),
        lost=sum(o.status == "lost" for o in outcomes),
        within=within,
        share_within=within / n if n else 1.0,
        p50_wait_seconds=percentile(waits, 0.50),
        p90_wait_seconds=percentile(waits, 0.90),
        p99_wait_seconds=percentile(waits, 0.99),
        max_wait_seconds=waits[-1] if waits else 0.0,
        per_hour=tuple(HourShare(h, c[0], c[1], c[1] / c[0]) for h, c in sorted(hours.items())),
    )


def departure(arrival: Arrival, grace_seconds: float = GRACE_SECONDS) -> float:
    """When a still-queued patient is gone: out of patience, or dropped and not back in time (a
    phone callback needs no open page: a drop changes nothing)."""
    leave = arrival.due + arrival.patience_seconds
    drop = arrival.disconnect_after_seconds
    back = arrival.reconnect_after_seconds
    if drop is not None and arrival.channel != "phone" and (back is None or back > grace_seconds):
        leave = min(leave, arrival.time + drop + grace_seconds)
    return leave


def simulate_ideal(
    trace: Sequence[Arrival],
    roster: Sequence[Sequence[Shift]],
    within_minutes: float = 30.0,
    grace_seconds: float = GRACE_SECONDS,
    policy: Policy = "fcfs",
) -> IdealResult:
    """Run the perfect dispatcher over ``trace`` with the GPs' ``roster``.

    ``policy`` "fcfs" is the reference of the issue: appointments first at their slot, then the
    immediate requests first come first served. "edf" is the live server's policy (DESIGN.md,
    "Dispatch policy"; docs/PROTOCOL.md, "Appointments") with zero latency and no declines: one
    line by deadline (arrival + 30 min, or the slot less a 30-minute credit), appointments
    entering it at check-in (``time``). Comparing the live run with
    both separates what the implementation loses (live against perfect EDF) from what the policy
    loses (EDF against the reference). Written here from the design, not from the dispatcher."""
    events: list[tuple[float, int, int, int]] = []  # (time, kind, seq, gp or request)
    for gp, shifts in enumerate(roster):
        for shift in shifts:
            events.append((shift.start, _ON, len(events), gp))
            events.append((shift.end, _OFF, len(events), gp))
    for arrival in trace:
        enters = arrival.due if policy == "fcfs" else arrival.time
        events.append((enters, _DUE, len(events), arrival.index))
    heapq.heapify(events)
    seq = len(events)

    by_index = {a.index: a for a in trace}
    on_shift = [False] * len(roster)
    busy = [False] * len(roster)
    idle: dict[int, float] = {}  # gp -> idle since
    appointments: list[tuple[float, int]] = []  # (due, index)
    immediate: list[tuple[float, int]] = []
    outcomes: dict[int, Outcome] = {}

    def next_request(now: float) -> Arrival | None:
        for queue in (appointments, immediate):
            while queue:
                _, index = heapq.heappop(queue)
                arrival = by_index[index]
                gone = departure(arrival, grace_seconds)
                if now > gone:
                    outcomes[index] = Outcome(index, "abandoned", gone - arrival.due)
                    continue
                return arrival
        return None

    while events:
        now = events[0][0]
        while events and events[0][0] == now:
            _, kind, _, who = heapq.heappop(events)
            if kind == _OFF:
                on_shift[who] = False
                idle.pop(who, None)
            elif kind == _ON:
                on_shift[who] = True
                if not busy[who]:
                    idle[who] = now
            elif kind == _FREE:
                busy[who] = False
                if on_shift[who]:
                    idle[who] = now
            else:
                arrival = by_index[who]
                if policy == "edf":  # one line, by deadline
                    if arrival.kind == "appointment":
                        key = arrival.due - APPOINTMENT_CREDIT_SECONDS
                    else:
                        key = arrival.due + within_minutes * 60.0
                    heapq.heappush(immediate, (key, arrival.index))
                else:
                    queue = appointments if arrival.kind == "appointment" else immediate
                    heapq.heappush(queue, (arrival.due, arrival.index))
        while idle:
            request = next_request(now)
            if request is None:
                break
            gp = min(idle, key=lambda g: (idle[g], g))  # the longest idle
            del idle[gp]
            busy[gp] = True
            outcomes[request.index] = Outcome(
                request.index, "served", now - request.due, gp=gp, accepted_at=now
            )
            done = now + request.service_seconds + request.wrap_up_seconds
            heapq.heappush(events, (done, _FREE, seq, gp))
            seq += 1

    for queue in (appointments, immediate):  # no GP left: they leave, or wait forever
        for _, index in queue:
            arrival = by_index[index]
            gone = departure(arrival, grace_seconds)
            if math.isfinite(gone):
                outcomes[index] = Outcome(index, "abandoned", gone - arrival.due)
            else:
                outcomes[index] = Outcome(index, "unserved", None)
    ordered = tuple(outcomes[a.index] for a in trace)
    return IdealResult(ordered, summarize(trace, ordered, within_minutes))


def erlang_c_share(
    rate_per_hour: float, gps: int, service_minutes: float, within_minutes: float = 30.0
) -> float:
    """Share waiting at most ``within_minutes`` in a stationary M/M/N (0 when overloaded)."""
    return service_level(gps, rate_per_hour, service_minutes, within_minutes * 60.0)


@dataclass(frozen=True, slots=True)
class Stretch:
    start_hour: float
    end_hour: float
    per_hour: float
    gps: int
    erlangs: float
    erlang_c_share: float  # 0 when erlangs >= gps: the queue grows for the whole stretch


def stationary_stretches(scenario: Scenario, within_minutes: float = 30.0) -> list[Stretch]:
    """Erlang C for each stretch of the day where rate and roster hold still, with the GP's busy
    time per patient (consultation mean plus wrap-up) as the service time."""
    busy_minutes = scenario.consultation.mean_minutes + scenario.consultation.wrap_up_minutes
    points = scenario.breakpoints()
    out = []
    for a, b in zip(points, points[1:], strict=False):
        rate = scenario.arrivals.rate_at(a)
        gps = scenario.roster.on_shift_at(a)
        share = erlang_c_share(rate, gps, busy_minutes, within_minutes)
        out.append(Stretch(a, b, rate, gps, rate * busy_minutes / 60.0, share))
    return out
