from __future__ import annotations

import argparse
from collections import Counter
from datetime import date

import pytest

from loadtests.ideal import Outcome, simulate_ideal
from loadtests.live import LiveResult
from loadtests.runner import (
    call_setup,
    check_scale,
    main,
    parse_duration,
    records,
    roster_steps,
    working_monday,
)
from loadtests.scenario import load_scenario
from loadtests.trace import Shift, make_roster, make_trace


@pytest.mark.parametrize(("raw", "hours"), [("24h", 24.0), ("90m", 1.5), ("1.5H", 1.5), ("2", 2.0)])
def test_durations(raw: str, hours: float) -> None:
    assert parse_duration(raw) == hours


@pytest.mark.parametrize("raw", ["", "h", "-1h", "0", "2d", "1e9", "nan"])
def test_bad_durations_are_refused(raw: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration(raw)


def test_the_offer_timeout_stays_above_two_real_seconds() -> None:
    assert check_scale(14.0) == 14.0
    for scale in (15.0, 60.0, 0.0, -1.0):
        with pytest.raises(ValueError):
            check_scale(scale)


def test_the_day_is_a_working_monday() -> None:
    assert working_monday(date(2026, 11, 27)) == date(2026, 11, 30)
    # Easter Monday 2027 is 29 March: the next one.
    assert working_monday(date(2027, 3, 26)) == date(2027, 4, 5)


def test_roster_steps_count_gps_on_shift() -> None:
    roster = [(Shift(0.0, 100.0),), (Shift(50.0, 150.0),)]
    assert roster_steps(roster) == [[0.0, 50.0, 1.0], [50.0, 100.0, 2.0], [100.0, 150.0, 1.0]]


def test_records_carry_every_request_and_its_gp_time() -> None:
    scenario = load_scenario("steady")
    trace = make_trace(scenario, 2, 2.0)
    ideal = simulate_ideal(trace, make_roster(scenario, 2.0))
    rows = records(trace, ideal.outcomes)
    assert len(rows) == len(trace)
    for row, arrival in zip(rows, trace, strict=True):
        if row["status"] == "served":
            busy = row["accepted_at"] + arrival.service_seconds + arrival.wrap_up_seconds
            assert row["busy_until"] == pytest.approx(busy)
        elif row["status"] == "abandoned":
            assert row["left_at"] == pytest.approx(arrival.due + row["wait_seconds"])
    # The live side uses the busy times measured by the simulated GPs.
    served = next(o for o in ideal.outcomes if o.status == "served")
    live = records(trace, ideal.outcomes, {served.index: 123.0})
    assert live[served.index]["busy_until"] == 123.0


def _live(setup_ms: list[float], failed: int = 0) -> LiveResult:
    outcome = Outcome(0, "served", 1.0, None, 1.0)
    return LiveResult(
        (outcome,),
        {},
        {},
        [],
        {},
        Counter(),
        {},
        0,
        1.0,
        setup_ms,
        failed,
    )


def test_call_setup_summary() -> None:
    assert call_setup(_live([])) is None
    summary = call_setup(_live([100.0, 300.0, 200.0], failed=1))
    assert summary == {"samples": 3, "failed": 1, "p50_ms": 200.0, "p90_ms": 300.0, "max_ms": 300.0}


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "no-such-scenario"],
        ["run", "steady", "--scale", "30"],
        ["run", "steady", "--repeat", "0"],
    ],
)
def test_bad_arguments_exit_2_before_starting_anything(argv: list[str]) -> None:
    assert main(argv) == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "steady", "--duration", "forever"],
        ["run", "steady", "--from", "25h"],
        ["run", "steady", "--media-share", "2"],
        ["run", "steady", "--ice-servers", '{"urls": "stun:x"}'],
        ["run", "steady", "--ice-servers", "[1]"],
    ],
)
def test_bad_options_are_refused_by_the_parser(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
