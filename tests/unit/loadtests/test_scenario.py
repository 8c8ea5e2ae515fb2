from __future__ import annotations

from pathlib import Path

import pytest

from loadtests.ideal import stationary_stretches
from loadtests.scenario import ScenarioError, load_scenario, shipped_scenarios

VALID = """
name = "tiny"
[arrivals]
base_per_hour = 10.0
[[arrivals.periods]]
start_hour = 8
end_hour = 10
per_hour = 30.0
[channels]
video = 0.5
audio = 0.3
phone = 0.2
[roster]
base_gps = 3
[[roster.absences]]
start_hour = 8
end_hour = 9
gps = 1
[consultation]
mean_minutes = 12.0
cv = 0.5
wrap_up_minutes = 3.0
[patience]
mean_minutes = 60.0
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


def test_the_four_shipped_scenarios_load() -> None:
    assert shipped_scenarios() == ["epidemic_surge", "monday_peak", "no_show", "steady"]
    for name in shipped_scenarios():
        s = load_scenario(name)
        assert s.name == name
        assert s.consultation.mean_minutes == 12.0
        assert s.consultation.cv == 0.5
        assert s.consultation.wrap_up_minutes == 3.0
        assert s.consultation.distribution == "lognormal"
        c = s.channels
        assert c.video + c.audio + c.phone == pytest.approx(1.0)


def test_shipped_rates_and_rosters_follow_the_issue() -> None:
    steady = load_scenario("steady")
    assert [steady.arrivals.rate_at(h) for h in (0, 9, 23.5)] == [60.0, 60.0, 60.0]
    assert [steady.roster.on_shift_at(h) for h in (0, 9, 23.5)] == [17, 17, 17]

    peak = load_scenario("monday_peak")
    assert [peak.arrivals.rate_at(h) for h in (6.9, 7, 10.9, 11)] == [40.0, 120.0, 120.0, 40.0]
    assert [peak.roster.on_shift_at(h) for h in (6.9, 7, 10.9, 11)] == [12, 32, 32, 12]

    surge = load_scenario("epidemic_surge")
    assert sum(p.end_hour - p.start_hour for p in surge.arrivals.periods) == 6
    assert {p.per_hour for p in surge.arrivals.periods} == {120.0}
    assert surge.arrivals.base_per_hour == 40.0
    assert surge.roster.base_gps == 16 and not surge.roster.periods

    no_show = load_scenario("no_show")
    assert [no_show.roster.on_shift_at(h) for h in (7.9, 8, 9.9, 10)] == [17, 12, 12, 17]
    assert no_show.roster.rostered_at(9) == 17


def test_feasibility_by_erlang_c() -> None:
    """15 minutes per patient (12 + 3 wrap-up): steady and monday_peak hold the 30-minute promise
    in every stationary stretch; epidemic_surge and no_show are overloaded for a while."""
    for name in ("steady", "monday_peak"):
        for stretch in stationary_stretches(load_scenario(name)):
            assert stretch.erlangs < stretch.gps
            assert stretch.erlang_c_share > 0.95
    steady = stationary_stretches(load_scenario("steady"))
    assert [(s.erlangs, s.gps) for s in steady] == [(15.0, 17)]

    surge = stationary_stretches(load_scenario("epidemic_surge"))
    overloaded = [s for s in surge if s.erlangs >= s.gps]
    assert [(s.erlangs, s.gps, s.erlang_c_share) for s in overloaded] == [(30.0, 16, 0.0)]
    assert sum(s.end_hour - s.start_hour for s in overloaded) == 6

    no_show = stationary_stretches(load_scenario("no_show"))
    assert [(s.start_hour, s.end_hour) for s in no_show if s.erlangs >= s.gps] == [(8.0, 10.0)]


def test_load_by_path(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, VALID))
    assert s.name == "tiny"
    assert s.arrivals.rate_at(9) == 30.0
    assert s.roster.on_shift_at(8.5) == 2
    assert s.appointments.share == 0.0  # optional sections take their defaults
    assert s.offers.decline_rate == 0.0


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("[patience]", "colour = 1\n[patience]", "unknown key(s) colour"),
        (
            "mean_minutes = 60.0",
            "mean_minutes = 60.0\nmedian = 3",
            "patience: unknown key(s) median",
        ),
        (
            "per_hour = 30.0",
            "per_hour = 30.0\nrate = 2",
            "arrivals.periods[0]: unknown key(s) rate",
        ),
        ("base_per_hour = 10.0", "base_per_hour = -1.0", "arrivals.base_per_hour: must be >= 0"),
        ("per_hour = 30.0", "per_hour = -5", "arrivals.periods[0].per_hour: must be >= 0"),
        ("end_hour = 10", "end_hour = 25", "arrivals.periods[0].end_hour: must be <= 24"),
        (
            "start_hour = 8\nend_hour = 10",
            "start_hour = -1\nend_hour = 10",
            "start_hour: must be >= 0",
        ),
        (
            "start_hour = 8\nend_hour = 10",
            "start_hour = 10\nend_hour = 8",
            "must be after start_hour",
        ),
        ("phone = 0.2", "phone = 0.3", "must sum to 1, not 1.1"),
        ("video = 0.5", "video = 'most'", "channels.video: must be a number"),
        ("base_gps = 3", "base_gps = 2.5", "roster.base_gps: must be a whole number"),
        ("gps = 1", "gps = 4", "4 absent at hour 8 but only 3 rostered"),
        ("cv = 0.5", "cv = 0", "consultation.cv: must be > 0"),
        ("cv = 0.5", "distribution = 'gamma'", "consultation.distribution"),
        ("[patience]\nmean_minutes = 60.0", "", "patience: missing"),
    ],
)
def test_validation_errors_are_clear(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in VALID
    with pytest.raises(ScenarioError, match=r"s\.toml: .*") as raised:
        load_scenario(write(tmp_path, VALID.replace(old, new, 1)))
    assert message in str(raised.value)


def test_overlapping_periods_and_bad_files(tmp_path: Path) -> None:
    overlap = VALID.replace(
        "per_hour = 30.0",
        "per_hour = 30.0\n[[arrivals.periods]]\nstart_hour = 9\nend_hour = 11\nper_hour = 1",
    )
    with pytest.raises(ScenarioError, match="periods overlap"):
        load_scenario(write(tmp_path, overlap))
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(write(tmp_path, "[arrivals"))
    with pytest.raises(ScenarioError, match="unknown scenario 'winter'.*steady"):
        load_scenario("winter")


def test_infinite_patience_is_allowed(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, VALID.replace("mean_minutes = 60.0", "mean_minutes = inf")))
    assert s.patience.mean_minutes == float("inf")
