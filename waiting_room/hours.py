"""Phone platform hours (R9): who answers a call at a given time. Pure, Europe/Paris, French
public holidays from the `holidays` package."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

import holidays

PARIS: Final = ZoneInfo("Europe/Paris")


class Route(StrEnum):
    NURSE = "nurse"
    """Weekday daytime: a nurse answers (orientation, may book a GP callback)."""
    GP_CALLBACK = "gp_callback"
    """Nights, weekends, public holidays: recorded for a GP callback in the same queue."""


@dataclass(frozen=True, slots=True)
class NurseHours:
    """R9, "we decide": daytime is 08:00-20:00 Europe/Paris, configurable."""

    opens: time = time(8, 0)
    closes: time = time(20, 0)

    def __post_init__(self) -> None:
        if not self.opens < self.closes:
            raise ValueError("the nurse platform must open before it closes")

    @classmethod
    def parse(cls, raw: str) -> NurseHours:
        """``"08:00-20:00"``."""
        try:
            opens, closes = raw.split("-")
            return cls(time.fromisoformat(opens.strip()), time.fromisoformat(closes.strip()))
        except ValueError as exc:
            raise ValueError(f"nurse hours must look like 08:00-20:00: {raw!r}") from exc


@lru_cache(maxsize=32)
def _french_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("FR", years=year))


def is_french_holiday(day: date) -> bool:
    """A public holiday in metropolitan France (the `holidays` package's FR calendar)."""
    return day in _french_holidays(day.year)


def phone_route(
    now: datetime,
    hours: NurseHours | None = None,
    is_holiday: Callable[[date], bool] = is_french_holiday,
) -> Route:
    """R9: weekdays during nurse hours, the nurse; nights, Saturdays, Sundays and French public
    holidays, a GP callback. Decided on the Paris wall clock, so daylight-saving changes move
    nothing."""
    hours = hours or NurseHours()
    local = now.astimezone(PARIS)
    if local.weekday() >= 5 or is_holiday(local.date()):
        return Route.GP_CALLBACK
    if hours.opens <= local.time() < hours.closes:
        return Route.NURSE
    return Route.GP_CALLBACK
