"""R9: who answers the phone, on the Paris wall clock, with French public holidays and the
daylight-saving nights, driven by a fake clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from waiting_room.clock import FakeClock
from waiting_room.hours import NurseHours, Route, is_french_holiday, phone_route


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "route"),
    [
        (utc(2026, 11, 27, 7, 0), Route.NURSE),  # Friday 08:00 Paris (UTC+1): opens
        (utc(2026, 11, 27, 6, 59, 59), Route.GP_CALLBACK),  # 07:59:59
        (utc(2026, 11, 27, 18, 59), Route.NURSE),  # 19:59
        (utc(2026, 11, 27, 19, 0), Route.GP_CALLBACK),  # 20:00: closed
        (utc(2026, 11, 28, 10, 0), Route.GP_CALLBACK),  # Saturday
        (utc(2026, 11, 29, 10, 0), Route.GP_CALLBACK),  # Sunday
        (utc(2026, 11, 30, 2, 0), Route.GP_CALLBACK),  # Monday 03:00: night
        (utc(2026, 7, 14, 9, 0), Route.GP_CALLBACK),  # Tuesday 14 July: a weekday holiday
        (utc(2026, 11, 11, 9, 0), Route.GP_CALLBACK),  # Wednesday 11 November
        (utc(2026, 5, 14, 9, 0), Route.GP_CALLBACK),  # Ascension Thursday
        (utc(2026, 5, 25, 9, 0), Route.GP_CALLBACK),  # Whit Monday
        (utc(2026, 7, 15, 9, 0), Route.NURSE),  # the day after, an ordinary Wednesday
    ],
)
def test_routes(moment: datetime, route: Route) -> None:
    assert phone_route(moment) is route


def test_summer_time_shifts_the_utc_hours() -> None:
    # In summer Paris is UTC+2: 08:00 Paris is 06:00 UTC.
    assert phone_route(utc(2026, 6, 17, 6, 0)) is Route.NURSE
    assert phone_route(utc(2026, 6, 17, 5, 59)) is Route.GP_CALLBACK
    assert phone_route(utc(2026, 6, 17, 18, 0)) is Route.GP_CALLBACK  # 20:00 Paris


def test_daylight_saving_nights_with_the_fake_clock() -> None:
    """Spring forward (Sunday 29 March 2026, 02:00 -> 03:00) and fall back (Sunday 25 October
    2026, 03:00 -> 02:00) are Sundays: GP callbacks all night; the Mondays after open at 08:00
    local, one UTC hour apart."""
    clock = FakeClock(utc(2026, 3, 28, 23, 0))  # Sunday 00:00 Paris (UTC+1)
    while clock.now() < utc(2026, 3, 30, 5, 59):  # until Monday 07:59 Paris (UTC+2)
        assert phone_route(clock.now()) is Route.GP_CALLBACK, clock.now()
        clock.advance(15 * 60)
    assert phone_route(utc(2026, 3, 30, 6, 0)) is Route.NURSE  # Monday 08:00 CEST
    clock = FakeClock(utc(2026, 10, 24, 22, 0))  # Sunday 00:00 Paris (UTC+2)
    while clock.now() < utc(2026, 10, 26, 6, 59):  # until Monday 07:59 Paris (UTC+1)
        assert phone_route(clock.now()) is Route.GP_CALLBACK, clock.now()
        clock.advance(15 * 60)
    assert phone_route(utc(2026, 10, 26, 7, 0)) is Route.NURSE  # Monday 08:00 CET


def test_nurse_hours_are_configurable() -> None:
    hours = NurseHours.parse("09:30-18:00")
    assert hours == NurseHours(time(9, 30), time(18, 0))
    assert phone_route(utc(2026, 11, 27, 8, 0), hours) is Route.GP_CALLBACK  # 09:00 Paris
    assert phone_route(utc(2026, 11, 27, 8, 30), hours) is Route.NURSE
    for bad in ("8-20", "20:00-08:00", "nonsense"):
        with pytest.raises(ValueError):
            NurseHours.parse(bad)


def test_holiday_calendar_and_injection() -> None:
    assert is_french_holiday(date(2026, 1, 1))
    assert is_french_holiday(date(2026, 4, 6))  # Easter Monday
    assert not is_french_holiday(date(2026, 4, 7))
    friday = utc(2026, 11, 27, 9, 0)
    assert phone_route(friday, is_holiday=lambda d: d == date(2026, 11, 27)) is Route.GP_CALLBACK
