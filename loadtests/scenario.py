"""Load-test scenarios as data: one TOML file per scenario in loadtests/scenarios/.

A scenario describes one simulated day, hour by hour (hours of the day, 0 to 24, wrapping for runs
longer than a day):

- ``[arrivals]``: ``base_per_hour``, overridden by ``[[arrivals.periods]]`` (``start_hour``,
  ``end_hour``, ``per_hour``): a piecewise-constant Poisson rate.
- ``[channels]``: shares of ``video``, ``audio`` and ``phone`` immediate requests (summing to 1;
  appointments are video: a booking has no channel).
- ``[appointments]``: ``share`` of arrivals inside the booking window (``first_hour`` to
  ``last_hour``, slots of ``slot_minutes``) that are appointments; the request enters the queue
  ``checkin_minutes`` before its slot (docs/PROTOCOL.md: 5 minutes) and counts from the slot.
- ``[roster]``: ``base_gps`` on shift, overridden by ``[[roster.periods]]`` (``gps``), minus the
  no-shows of ``[[roster.absences]]`` (``gps`` rostered but absent over that stretch).
- ``[consultation]``: ``distribution`` (``lognormal``, or ``exponential`` for M/M/N checks),
  ``mean_minutes``, ``cv`` (coefficient of variation, lognormal only), ``wrap_up_minutes``.
- ``[patience]``: ``mean_minutes`` of an exponential patience (``inf``: nobody abandons).
- ``[connections]``: ``disconnect_per_hour`` (per connected patient), ``reconnect_share`` and
  ``reconnect_mean_seconds`` (exponential) of those who come back.
- ``[offers]``: ``decline_rate``, the probability that a GP declines an offer.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"

Distribution = Literal["lognormal", "exponential"]


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the offending key."""


@dataclass(frozen=True, slots=True)
class RatePeriod:
    start_hour: float
    end_hour: float
    per_hour: float


@dataclass(frozen=True, slots=True)
class RosterPeriod:
    start_hour: float
    end_hour: float
    gps: int


@dataclass(frozen=True, slots=True)
class Arrivals:
    base_per_hour: float
    periods: tuple[RatePeriod, ...] = ()

    def rate_at(self, hour_of_day: float) -> float:
        for period in self.periods:
            if period.start_hour <= hour_of_day < period.end_hour:
                return period.per_hour
        return self.base_per_hour


@dataclass(frozen=True, slots=True)
class Channels:
    video: float
    audio: float
    phone: float


@dataclass(frozen=True, slots=True)
class Appointments:
    share: float
    slot_minutes: float = 15.0
    checkin_minutes: float = 5.0
    first_hour: float = 9.0
    last_hour: float = 22.0


@dataclass(frozen=True, slots=True)
class Roster:
    base_gps: int
    periods: tuple[RosterPeriod, ...] = ()
    absences: tuple[RosterPeriod, ...] = ()

    def rostered_at(self, hour_of_day: float) -> int:
        for period in self.periods:
            if period.start_hour <= hour_of_day < period.end_hour:
                return period.gps
        return self.base_gps

    def absent_at(self, hour_of_day: float) -> int:
        return sum(a.gps for a in self.absences if a.start_hour <= hour_of_day < a.end_hour)

    def on_shift_at(self, hour_of_day: float) -> int:
        """GPs actually working at that hour of the day (rostered minus no-shows)."""
        return self.rostered_at(hour_of_day) - self.absent_at(hour_of_day)


@dataclass(frozen=True, slots=True)
class Consultation:
    mean_minutes: float
    cv: float = 0.5
    wrap_up_minutes: float = 0.0
    distribution: Distribution = "lognormal"


@dataclass(frozen=True, slots=True)
class Patience:
    mean_minutes: float  # exponential; math.inf: nobody abandons


@dataclass(frozen=True, slots=True)
class Connections:
    disconnect_per_hour: float = 0.0
    reconnect_share: float = 1.0
    reconnect_mean_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class Offers:
    decline_rate: float = 0.0


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    arrivals: Arrivals
    channels: Channels
    appointments: Appointments
    roster: Roster
    consultation: Consultation
    patience: Patience
    connections: Connections
    offers: Offers

    def breakpoints(self) -> list[float]:
        """Hours of the day where the arrival rate or the roster may change, 0 and 24 included."""
        points = {0.0, 24.0}
        for rp in self.arrivals.periods:
            points |= {rp.start_hour, rp.end_hour}
        for p in (*self.roster.periods, *self.roster.absences):
            points |= {p.start_hour, p.end_hour}
        return sorted(points)


def shipped_scenarios() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A shipped scenario by name (``steady``) or a TOML file by path; ScenarioError if invalid."""
    path = Path(name_or_path)
    if path.suffix != ".toml" and not path.exists():
        path = SCENARIO_DIR / f"{name_or_path}.toml"
        if not path.exists():
            known = ", ".join(shipped_scenarios())
            raise ScenarioError(f"unknown scenario {str(name_or_path)!r} (shipped: {known})")
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read: {e}") from e
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{path}: not valid TOML: {e}") from e
    try:
        return parse_scenario(data, default_name=path.stem)
    except ScenarioError as e:
        raise ScenarioError(f"{path}: {e}") from e


# --- parsing and validation ---------------------------------------------------------------------


def _table(data: Mapping[str, Any], key: str, where: str, required: bool = True) -> dict[str, Any]:
    if key not in data:
        if required:
            raise ScenarioError(f"{where}{key}: missing")
        return {}
    value = data[key]
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}{key}: must be a table")
    return value


def _keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ScenarioError(
            f"{where or 'top level'}: unknown key(s) {', '.join(unknown)}"
            f" (allowed: {', '.join(sorted(allowed))})"
        )


def _number(
    data: Mapping[str, Any],
    key: str,
    where: str,
    default: float | None = None,
    minimum: float = 0.0,
    positive: bool = False,
    maximum: float = math.inf,
    allow_inf: bool = False,
) -> float:
    if key not in data:
        if default is None:
            raise ScenarioError(f"{where}{key}: missing")
        return default
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{where}{key}: must be a number, not {value!r}")
    x = float(value)
    if math.isnan(x) or (math.isinf(x) and not allow_inf):
        raise ScenarioError(f"{where}{key}: must be finite, not {value!r}")
    if x < minimum or (positive and x <= 0):
        bound = f"> {minimum:g}" if positive else f">= {minimum:g}"
        raise ScenarioError(f"{where}{key}: must be {bound}, not {value!r}")
    if x > maximum:
        raise ScenarioError(f"{where}{key}: must be <= {maximum:g}, not {value!r}")
    return x


def _count(data: Mapping[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ScenarioError(f"{where}{key}: must be a whole number >= 0, not {value!r}")
    return value


def _hours(item: Mapping[str, Any], where: str) -> tuple[float, float]:
    start = _number(item, "start_hour", where, maximum=24.0)
    end = _number(item, "end_hour", where, maximum=24.0)
    if end <= start:
        raise ScenarioError(f"{where}end_hour: must be after start_hour ({start:g})")
    return start, end


def _periods(data: Mapping[str, Any], key: str, where: str) -> list[tuple[str, dict[str, Any]]]:
    items = data.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ScenarioError(f"{where}{key}: must be an array of tables ([[{where}{key}]])")
    return [(f"{where}{key}[{i}].", item) for i, item in enumerate(items)]


def _no_overlap(spans: list[tuple[float, float]], where: str) -> None:
    ordered = sorted(spans)
    for (_, end), (start, _) in zip(ordered, ordered[1:], strict=False):
        if start < end:
            raise ScenarioError(f"{where}: periods overlap around hour {start:g}")


def parse_scenario(data: Mapping[str, Any], default_name: str = "scenario") -> Scenario:
    sections = {
        "arrivals",
        "channels",
        "appointments",
        "roster",
        "consultation",
        "patience",
        "connections",
        "offers",
    }
    _keys(data, sections | {"name", "description"}, "")
    name = data.get("name", default_name)
    description = data.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        raise ScenarioError("name and description must be strings")

    a = _table(data, "arrivals", "")
    _keys(a, {"base_per_hour", "periods"}, "arrivals")
    rate_periods = []
    for where, item in _periods(a, "periods", "arrivals."):
        _keys(item, {"start_hour", "end_hour", "per_hour"}, where.rstrip("."))
        start, end = _hours(item, where)
        rate_periods.append(RatePeriod(start, end, _number(item, "per_hour", where)))
    _no_overlap([(p.start_hour, p.end_hour) for p in rate_periods], "arrivals.periods")
    arrivals = Arrivals(_number(a, "base_per_hour", "arrivals."), tuple(rate_periods))

    c = _table(data, "channels", "")
    _keys(c, {"video", "audio", "phone"}, "channels")
    shares = [
        _number(c, k, "channels.", default=0.0, maximum=1.0) for k in ("video", "audio", "phone")
    ]
    if abs(sum(shares) - 1.0) > 1e-9:
        raise ScenarioError(f"channels: video + audio + phone must sum to 1, not {sum(shares):g}")
    channels = Channels(*shares)

    p = _table(data, "appointments", "", required=False)
    _keys(
        p, {"share", "slot_minutes", "checkin_minutes", "first_hour", "last_hour"}, "appointments"
    )
    appointments = Appointments(
        share=_number(p, "share", "appointments.", default=0.0, maximum=1.0),
        slot_minutes=_number(p, "slot_minutes", "appointments.", default=15.0, positive=True),
        checkin_minutes=_number(p, "checkin_minutes", "appointments.", default=5.0),
        first_hour=_number(p, "first_hour", "appointments.", default=9.0, maximum=24.0),
        last_hour=_number(p, "last_hour", "appointments.", default=22.0, maximum=24.0),
    )
    if appointments.last_hour < appointments.first_hour:
        raise ScenarioError("appointments.last_hour: must not be before first_hour")

    r = _table(data, "roster", "")
    _keys(r, {"base_gps", "periods", "absences"}, "roster")
    roster_periods: list[RosterPeriod] = []
    absences: list[RosterPeriod] = []
    for key, out in (("periods", roster_periods), ("absences", absences)):
        for where, item in _periods(r, key, "roster."):
            _keys(item, {"start_hour", "end_hour", "gps"}, where.rstrip("."))
            start, end = _hours(item, where)
            out.append(RosterPeriod(start, end, _count(item, "gps", where)))
    _no_overlap([(x.start_hour, x.end_hour) for x in roster_periods], "roster.periods")
    roster = Roster(_count(r, "base_gps", "roster."), tuple(roster_periods), tuple(absences))

    k = _table(data, "consultation", "")
    _keys(k, {"distribution", "mean_minutes", "cv", "wrap_up_minutes"}, "consultation")
    distribution = k.get("distribution", "lognormal")
    if distribution not in ("lognormal", "exponential"):
        raise ScenarioError(
            f"consultation.distribution: 'lognormal' or 'exponential', not {distribution!r}"
        )
    consultation = Consultation(
        mean_minutes=_number(k, "mean_minutes", "consultation.", positive=True),
        cv=_number(k, "cv", "consultation.", default=0.5, positive=True),
        wrap_up_minutes=_number(k, "wrap_up_minutes", "consultation.", default=0.0),
        distribution=distribution,
    )

    t = _table(data, "patience", "")
    _keys(t, {"mean_minutes"}, "patience")
    patience = Patience(_number(t, "mean_minutes", "patience.", positive=True, allow_inf=True))

    n = _table(data, "connections", "", required=False)
    _keys(n, {"disconnect_per_hour", "reconnect_share", "reconnect_mean_seconds"}, "connections")
    connections = Connections(
        disconnect_per_hour=_number(n, "disconnect_per_hour", "connections.", default=0.0),
        reconnect_share=_number(n, "reconnect_share", "connections.", default=1.0, maximum=1.0),
        reconnect_mean_seconds=_number(
            n, "reconnect_mean_seconds", "connections.", default=30.0, positive=True
        ),
    )

    o = _table(data, "offers", "", required=False)
    _keys(o, {"decline_rate"}, "offers")
    offers = Offers(_number(o, "decline_rate", "offers.", default=0.0, maximum=0.99))

    scenario = Scenario(
        name, description, arrivals, channels, appointments, roster, consultation, patience,
        connections, offers,
    )  # fmt: skip
    for hour in scenario.breakpoints()[:-1]:
        if roster.absent_at(hour) > roster.rostered_at(hour):
            raise ScenarioError(
                f"roster.absences: {roster.absent_at(hour)} absent at hour {hour:g} but only "
                f"{roster.rostered_at(hour)} rostered"
            )
    return scenario
