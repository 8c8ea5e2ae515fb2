"""R7: which slots a patient may book, and how many bookings a slot takes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from waiting_room.schedule import (
    InThePast,
    NotASlot,
    OutsideHours,
    Slot,
    TooFarAhead,
    check_day,
    check_slot,
    day_slots,
    rostered_over,
    slot_capacity,
)

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)  # Friday 09:00 Paris


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_a_good_slot() -> None:
    slot = check_slot(utc(2026, 11, 28, 9, 15), NOW)  # Saturday 10:15 Paris
    assert slot == Slot(utc(2026, 11, 28, 9, 15), utc(2026, 11, 28, 9, 30))


@pytest.mark.parametrize(
    ("start", "error"),
    [
        (utc(2026, 11, 28, 9, 10), NotASlot),
        (utc(2026, 11, 28, 9, 15, 1), NotASlot),
        (datetime(2026, 11, 28, 9, 15), NotASlot),  # naive
        (utc(2026, 11, 28, 7, 45), OutsideHours),  # 08:45 Paris
        (utc(2026, 11, 28, 21, 0), OutsideHours),  # 22:00 Paris
        (utc(2026, 11, 28, 20, 45), None),  # 21:45 Paris, ends at 22:00
        (utc(2026, 11, 28, 8, 0), None),  # 09:00 Paris
        (utc(2026, 11, 27, 8, 0), InThePast),  # now
        (utc(2026, 12, 11, 8, 0), None),  # exactly 14 days ahead
        (utc(2026, 12, 11, 8, 15), TooFarAhead),
    ],
)
def test_refusals(start: datetime, error: type[Exception] | None) -> None:
    if error is None:
        check_slot(start, NOW)
    else:
        with pytest.raises(error):
            check_slot(start, NOW)


def test_days_and_their_slots() -> None:
    slots = day_slots(date(2026, 11, 28), NOW)
    assert len(slots) == 52  # 09:00 to 21:45, every 15 minutes
    assert slots[0].start == utc(2026, 11, 28, 8, 0) and slots[-1].end == utc(2026, 11, 28, 21, 0)
    today = day_slots(date(2026, 11, 27), NOW + timedelta(hours=3))  # 12:00 Paris
    assert today[0].start == utc(2026, 11, 27, 11, 15)
    # The 14th day is cut at now + 14 days.
    last = day_slots(date(2026, 12, 11), NOW)
    assert [s.start for s in last] == [utc(2026, 12, 11, 8, 0)]
    check_day(date(2026, 12, 11), NOW)
    with pytest.raises(TooFarAhead):
        check_day(date(2026, 12, 12), NOW)
    with pytest.raises(InThePast):
        check_day(date(2026, 11, 26), NOW)


def test_daylight_saving_day_keeps_local_hours() -> None:
    # Sunday 29 March 2026: Paris goes to UTC+2 at 02:00; slots still 09:00-22:00 local.
    slots = day_slots(date(2026, 3, 29), utc(2026, 3, 20, 0, 0))
    assert slots[0].start == utc(2026, 3, 29, 7, 0) and len(slots) == 52
    autumn = day_slots(date(2026, 10, 25), utc(2026, 10, 20, 0, 0))
    assert autumn[0].start == utc(2026, 10, 25, 8, 0) and len(autumn) == 52


def test_capacity_keeps_room_for_immediate_requests() -> None:
    slot = Slot(utc(2026, 11, 28, 9, 0), utc(2026, 11, 28, 9, 15))
    shifts = [
        (utc(2026, 11, 28, 7, 0), utc(2026, 11, 28, 21, 0)),
        (utc(2026, 11, 28, 9, 0), utc(2026, 11, 28, 9, 15)),  # exactly the slot
        (utc(2026, 11, 28, 9, 5), utc(2026, 11, 28, 12, 0)),  # starts during it: no
    ]
    assert rostered_over(shifts, slot) == 2
    assert [slot_capacity(n, 0.5) for n in range(5)] == [0, 0, 1, 1, 2]
    assert slot_capacity(3, 1.0) == 3 and slot_capacity(3, 0.0) == 0
    with pytest.raises(ValueError):
        slot_capacity(3, 1.5)
