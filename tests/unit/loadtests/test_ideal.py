from __future__ import annotations

import dataclasses
import math

import pytest

from loadtests.ideal import departure, erlang_c_share, percentile, simulate_ideal
from loadtests.scenario import (
    Appointments,
    Arrivals,
    Connections,
    Consultation,
    Patience,
    Roster,
    load_scenario,
)
from loadtests.trace import Arrival, Kind, Shift, make_roster, make_trace

ALL_DAY: list[tuple[Shift, ...]] = [(Shift(0.0, 100_000.0),)]


def req(
    index: int,
    time: float,
    service: float = 600.0,
    *,
    due: float | None = None,
    kind: Kind = "immediate",
    wrap_up: float = 0.0,
    patience: float = math.inf,
) -> Arrival:
    return Arrival(
        index=index,
        time=time,
        due=time if due is None else due,
        kind=kind,
        channel="video",
        service_seconds=service,
        wrap_up_seconds=wrap_up,
        patience_seconds=patience,
        declines=0,
        disconnect_after_seconds=None,
        reconnect_after_seconds=None,
    )


def waits(trace: list[Arrival], roster: list[tuple[Shift, ...]] = ALL_DAY) -> list[float | None]:
    return [o.wait_seconds for o in simulate_ideal(trace, roster).outcomes]


def test_one_gp_three_requests_by_hand() -> None:
    trace = [req(0, 0.0), req(1, 60.0), req(2, 120.0)]
    # 0 served at once, 1 at 600, 2 at 1200.
    assert waits(trace) == [0.0, 540.0, 1080.0]
    with_wrap_up = [dataclasses.replace(a, wrap_up_seconds=180.0) for a in trace]
    # The GP is free again 780 s after each acceptance.
    assert waits(with_wrap_up) == [0.0, 720.0, 1440.0]
    result = simulate_ideal(with_wrap_up, ALL_DAY)
    assert [o.accepted_at for o in result.outcomes] == [0.0, 780.0, 1560.0]
    s = result.summary
    assert (s.requests, s.served, s.abandoned, s.unserved, s.within) == (3, 3, 0, 0, 3)
    assert s.share_within == 1.0
    assert (s.p50_wait_seconds, s.max_wait_seconds) == (720.0, 1440.0)


def test_two_gps_share_the_queue_first_come_first_served() -> None:
    trace = [req(0, 0.0, 1000.0), req(1, 10.0, 300.0), req(2, 20.0), req(3, 30.0), req(4, 40.0)]
    two = [(Shift(0.0, 100_000.0),)] * 2
    result = simulate_ideal(trace, two)
    # GP 1 takes 1 at 10, frees at 310 and takes 2, frees at 910 and takes 3 (first come, first
    # served: the next in line goes to the first GP free); GP 0 frees at 1000 and takes 4.
    assert [o.accepted_at for o in result.outcomes] == [0.0, 10.0, 310.0, 910.0, 1000.0]
    assert [o.gp for o in result.outcomes] == [0, 1, 1, 1, 0]


def test_appointments_go_first_at_their_slot_not_before() -> None:
    trace = [
        req(0, 0.0),  # GP busy until 600
        req(1, 100.0),  # immediate, waiting from 100
        req(2, 200.0, due=300.0, kind="appointment"),  # slot 300: due at 600
        req(3, 250.0, due=1500.0, kind="appointment"),  # slot 1500: not yet due at 1200
    ]
    result = simulate_ideal(trace, ALL_DAY)
    assert [o.accepted_at for o in result.outcomes] == [0.0, 1200.0, 600.0, 1800.0]
    assert [o.wait_seconds for o in result.outcomes] == [0.0, 1100.0, 300.0, 300.0]


def test_appointment_waits_for_its_slot_even_with_a_free_gp() -> None:
    result = simulate_ideal([req(0, 100.0, due=400.0, kind="appointment")], ALL_DAY)
    assert result.outcomes[0].accepted_at == 400.0
    assert result.outcomes[0].wait_seconds == 0.0


def test_abandonment() -> None:
    trace = [
        req(0, 0.0),
        req(1, 0.0, patience=300.0),  # would wait 600: leaves at 300
        req(2, 10.0, patience=600.0),  # waits 590: stays
        req(3, 20.0, patience=1180.0),  # waits exactly 1180 (at 1200): still served
    ]
    result = simulate_ideal(trace, ALL_DAY)
    assert [o.status for o in result.outcomes] == ["served", "abandoned", "served", "served"]
    assert [o.wait_seconds for o in result.outcomes] == [0.0, 300.0, 590.0, 1180.0]
    assert result.summary.abandoned == 1
    assert result.summary.share_within == 0.75  # abandoned counts as a failure


def test_shifts_bound_who_takes_requests() -> None:
    roster = [(Shift(1000.0, 2000.0),)]
    trace = [
        req(0, 0.0),  # waits for the shift: accepted at 1000
        req(1, 1500.0),  # accepted at 1600, consultation runs past the shift end
        req(2, 1700.0),  # nobody on shift when the GP frees at 2200
        req(3, 1800.0, patience=5000.0),
    ]
    result = simulate_ideal(trace, roster)
    assert [o.status for o in result.outcomes] == ["served", "served", "unserved", "abandoned"]
    assert [o.accepted_at for o in result.outcomes] == [1000.0, 1600.0, None, None]
    s = result.summary
    assert (s.served, s.abandoned, s.unserved, s.within) == (2, 1, 1, 2)


def test_thirty_minute_limit_and_per_hour_share() -> None:
    # One GP, 1-hour consultations: the second waits 3600 - 60 s, the third 7200 - 120.
    trace = [req(0, 0.0, 3600.0), req(1, 60.0, 3600.0), req(2, 3700.0)]
    s = simulate_ideal(trace, ALL_DAY).summary
    assert s.within == 1 and s.share_within == pytest.approx(1 / 3)
    assert [(h.hour, h.requests, h.within) for h in s.per_hour] == [(0, 2, 1), (1, 1, 0)]


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert [percentile(values, q) for q in (0.5, 0.9, 0.99, 1.0)] == [50.0, 90.0, 99.0, 100.0]
    assert percentile([], 0.5) == 0.0


@pytest.mark.parametrize(("rate", "gps", "within"), [(60.0, 17, 30.0), (48.0, 15, 5.0)])
def test_long_stationary_run_matches_erlang_c(rate: float, gps: int, within: float) -> None:
    """M/M/N: exponential 15-minute service, no wrap-up, nobody leaves, constant rate and roster."""
    mmn = dataclasses.replace(
        load_scenario("steady"),
        arrivals=Arrivals(rate),
        roster=Roster(gps),
        consultation=Consultation(15.0, distribution="exponential"),
        patience=Patience(math.inf),
        appointments=Appointments(0.0),
        connections=Connections(0.0),
    )
    hours = 1500.0
    trace = make_trace(mmn, seed=2026, duration_hours=hours)
    result = simulate_ideal(trace, make_roster(mmn, hours), within_minutes=within)
    assert result.summary.unserved == 0 and result.summary.abandoned == 0
    predicted = erlang_c_share(rate, gps, 15.0, within)
    assert abs(result.summary.share_within - predicted) < 0.02


def test_erlang_c_share() -> None:
    assert erlang_c_share(60.0, 17, 15.0) == pytest.approx(0.9905, abs=1e-4)
    assert erlang_c_share(60.0, 12, 15.0) == 0.0  # 15 Erlangs on 12 GPs: no steady state
    assert erlang_c_share(0.0, 1, 15.0) == 1.0


def test_shipped_scenarios_in_the_ideal() -> None:
    """A smoke run: every request gets an outcome, and the short-staffed surge is visibly worse."""
    shares = {}
    for name in ("steady", "epidemic_surge"):
        s = load_scenario(name)
        trace = make_trace(s, seed=1)
        summary = simulate_ideal(trace, make_roster(s)).summary
        assert summary.served + summary.abandoned + summary.unserved == len(trace)
        shares[name] = summary.share_within
    assert shares["steady"] > 0.95
    assert shares["epidemic_surge"] < 0.8


def test_a_dropped_patient_not_back_within_the_grace_leaves() -> None:
    # One GP busy for an hour; the second patient drops at 10 min and never comes back: gone at
    # 10 min + the 120 s grace. The third drops too but is back after 60 s: they keep their place.
    first = req(0, 0.0, 3600.0)
    gone = dataclasses.replace(req(1, 60.0), disconnect_after_seconds=540.0)
    back = dataclasses.replace(
        req(2, 120.0), disconnect_after_seconds=60.0, reconnect_after_seconds=60.0
    )
    assert departure(gone) == 60.0 + 540.0 + 120.0
    result = simulate_ideal([first, gone, back], ALL_DAY)
    assert [o.status for o in result.outcomes] == ["served", "abandoned", "served"]
    assert result.outcomes[1].wait_seconds == 660.0  # left at 720 s, due at 60 s
    assert result.summary.lost == 0


def test_the_edf_reference_serves_a_long_overdue_request_before_a_due_appointment() -> None:
    # The only GP is busy until 4,000 s. An immediate request waits since 10 s (deadline
    # 1,810 s); an appointment checked in at 3,400 s for its 3,700 s slot (30 minutes of credit:
    # 1,900 s). The reference serves the appointment due at its slot first; the live policy the
    # request overdue by more than the credit.
    trace = [
        req(0, 0.0, 4000.0),
        req(1, 10.0),
        req(2, 3400.0, due=3700.0, kind="appointment"),
    ]
    reference = simulate_ideal(trace, ALL_DAY).outcomes
    edf = simulate_ideal(trace, ALL_DAY, policy="edf").outcomes
    assert [o.accepted_at for o in reference] == [0.0, 4600.0, 4000.0]
    assert [o.accepted_at for o in edf] == [0.0, 4000.0, 4600.0]
    # Less overdue than the credit: the appointment goes first under both.
    trace = [req(0, 0.0, 4000.0), req(1, 1000.0), req(2, 3400.0, due=3700.0, kind="appointment")]
    edf = simulate_ideal(trace, ALL_DAY, policy="edf").outcomes
    assert [o.accepted_at for o in edf] == [0.0, 4600.0, 4000.0]
    # An appointment may start before its slot under EDF (it is in the line from check-in).
    early = [req(0, 1700.0, due=2000.0, kind="appointment")]
    assert simulate_ideal(early, ALL_DAY, policy="edf").outcomes[0].wait_seconds == -300.0
    assert simulate_ideal(early, ALL_DAY).outcomes[0].wait_seconds == 0.0
