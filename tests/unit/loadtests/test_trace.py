from __future__ import annotations

import math
import random
import statistics

import pytest

from loadtests.scenario import Consultation, load_scenario
from loadtests.trace import Shift, draw_service_seconds, lognormal_params, make_roster, make_trace


def test_same_seed_same_trace_different_seed_different() -> None:
    s = load_scenario("monday_peak")
    assert make_trace(s, 7) == make_trace(s, 7)
    assert make_trace(s, 7) != make_trace(s, 8)


def test_trace_is_ordered_and_consistent() -> None:
    s = load_scenario("steady")
    trace = make_trace(s, 3)
    assert [a.index for a in trace] == list(range(len(trace)))
    assert all(x.time <= y.time for x, y in zip(trace, trace[1:], strict=False))
    assert 1300 < len(trace) < 1580  # Poisson(1440): well within 4 standard deviations
    slot = s.appointments.slot_minutes * 60
    for a in trace:
        assert a.wrap_up_seconds == 180.0
        assert a.service_seconds > 0 and a.patience_seconds > 0
        if a.kind == "appointment":
            assert a.due % slot == 0 and a.due - a.time == 300.0
            assert a.channel == "video"  # a booking has no channel
            assert 9 * 3600 <= a.due <= 22 * 3600
        else:
            assert a.due == a.time
    kinds = [a.kind for a in trace]
    in_window = [a for a in trace if 9 * 3600 <= a.due < 22 * 3600]
    share = sum(a.kind == "appointment" for a in in_window) / len(in_window)
    assert abs(share - 0.25) < 0.06
    assert "appointment" in kinds
    immediate = [a for a in trace if a.kind == "immediate"]
    video = sum(a.channel == "video" for a in immediate) / len(immediate)
    assert abs(video - 0.70) < 0.05


def test_piecewise_rate_is_followed() -> None:
    s = load_scenario("monday_peak")
    trace = make_trace(s, 11, duration_hours=24 * 20)  # 20 days: the hour of day wraps
    by_hour = [0] * 24
    for a in trace:
        if a.kind == "immediate":
            by_hour[int(a.time // 3600) % 24] += 1
    # Before 09:00 there are no appointments, so the counts are the full Poisson rates.
    assert abs(by_hour[5] / 20 - 40) < 6
    assert abs(by_hour[8] / 20 - 120) < 10


def test_lognormal_mean_and_cv() -> None:
    rng = random.Random(1)
    consultation = Consultation(mean_minutes=12.0, cv=0.5)
    draws = [draw_service_seconds(rng, consultation) for _ in range(100_000)]
    mean = statistics.fmean(draws)
    cv = statistics.pstdev(draws) / mean
    assert abs(mean / 720.0 - 1) < 0.01
    assert abs(cv - 0.5) < 0.01
    mu, sigma = lognormal_params(720.0, 0.5)
    assert sigma**2 == pytest.approx(math.log(1.25))
    assert math.exp(mu + sigma**2 / 2) == pytest.approx(720.0)


def test_roster_shifts_per_gp() -> None:
    peak = make_roster(load_scenario("monday_peak"), duration_hours=24, drain_hours=1)
    assert len(peak) == 32
    h = 3600.0
    assert peak[0] == (Shift(0.0, 25 * h),)  # merged across the breakpoints, plus the drain
    assert peak[12] == (Shift(7 * h, 11 * h),)
    no_show = make_roster(load_scenario("no_show"), duration_hours=24, drain_hours=0)
    assert len(no_show) == 17
    assert no_show[11] == (Shift(0.0, 24 * h),)
    assert no_show[12] == (Shift(0.0, 8 * h), Shift(10 * h, 24 * h))
    two_days = make_roster(load_scenario("monday_peak"), duration_hours=48, drain_hours=0)
    assert two_days[31] == (Shift(7 * h, 11 * h), Shift(31 * h, 35 * h))


def test_a_stretch_of_the_day_is_that_stretch_of_the_whole_day() -> None:
    scenario = load_scenario("monday_peak")
    whole = make_trace(scenario, seed=5, duration_hours=11.0)
    stretch = make_trace(scenario, seed=5, duration_hours=4.0, start_hour=7.0)
    expected = [a for a in whole if a.time >= 7 * 3600.0]
    assert [a.index for a in stretch] == list(range(len(stretch)))
    assert [(a.time, a.service_seconds) for a in stretch] == [
        (a.time, a.service_seconds) for a in expected
    ]
    roster = make_roster(scenario, 4.0, 1.0, start_hour=7.0)
    assert len(roster) == 32  # the peak roster, from 07:00
    assert all(shift.start >= 7 * 3600.0 for shifts in roster for shift in shifts)
