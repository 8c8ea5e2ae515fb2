"""Appointment slots (R7): when a patient may book, and how many bookings a slot takes. Pure:
times come in as arguments, Europe/Paris rules via zoneinfo."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from waiting_room.errors import WaitingRoomError

PARIS: Final = ZoneInfo("Europe/Paris")
SLOT: Final = timedelta(minutes=15)
OPENS: Final = time(9, 0)
"""R7: appointments between 09:00 and 22:00 Europe/Paris, any day."""
CLOSES: Final = time(22, 0)
MAX_AHEAD: Final = timedelta(days=14)
"""R7: at most 14 days ahead."""
ADMISSION_LEAD: Final = timedelta(minutes=5)
"""An appointment enters the queue this long before its slot."""


class BookingRefused(WaitingRoomError):
    code = "booking_refused"


class NotASlot(BookingRefused):
    code = "not_a_slot"


class OutsideHours(BookingRefused):
    code = "outside_hours"


class InThePast(BookingRefused):
    code = "in_the_past"


class TooFarAhead(BookingRefused):
    code = "too_far_ahead"


class SlotFull(BookingRefused):
    code = "slot_full"


class AlreadyBooked(BookingRefused):
    code = "already_booked"


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime
    end: datetime


def check_slot(start: datetime, now: datetime) -> Slot:
    """The slot starting at ``start`` if a patient may book it at ``now`` (R7), else raise the
    reason: not on a quarter hour, outside 09:00-22:00 Paris time, past, or beyond 14 days."""
    if start.tzinfo is None:
        raise NotASlot("the slot time needs a timezone offset")
    local = start.astimezone(PARIS)
    if local.minute % 15 or local.second or local.microsecond:
        raise NotASlot("slots start on a quarter hour")
    end_local = (start + SLOT).astimezone(PARIS)
    if local.time() < OPENS or end_local.date() != local.date() or end_local.time() > CLOSES:
        raise OutsideHours("appointments are between 09:00 and 22:00, Paris time (R7)")
    if start <= now:
        raise InThePast("this time has passed")
    if start - now > MAX_AHEAD:
        raise TooFarAhead("appointments are at most 14 days ahead (R7)")
    return Slot(start.astimezone(UTC), (start + SLOT).astimezone(UTC))


def check_day(day: date, now: datetime) -> None:
    """A date the patient may look at for slots (Paris calendar)."""
    today = now.astimezone(PARIS).date()
    if day < today:
        raise InThePast("this day has passed")
    if day > (now + MAX_AHEAD).astimezone(PARIS).date():
        raise TooFarAhead("appointments are at most 14 days ahead (R7)")


def day_slots(day: date, now: datetime) -> list[Slot]:
    """The bookable slot times of a Paris calendar day that are still ahead and within 14 days,
    in UTC. Local times are built in Paris, so daylight-saving days keep 09:00-22:00."""
    slots = []
    local = datetime.combine(day, OPENS, tzinfo=PARIS)
    closes = datetime.combine(day, CLOSES, tzinfo=PARIS)
    while local + SLOT <= closes:
        start = local.astimezone(UTC)
        if now < start and start - now <= MAX_AHEAD:
            slots.append(Slot(start, (local + SLOT).astimezone(UTC)))
        local += SLOT
    return slots


def rostered_over(shifts: Iterable[tuple[datetime, datetime]], slot: Slot) -> int:
    """How many shifts cover the whole slot."""
    return sum(1 for start, end in shifts if start <= slot.start and slot.end <= end)


def slot_capacity(rostered_gps: int, share: float) -> int:
    """Bookings a slot takes: a share of the rostered GPs' capacity (one consultation per GP per
    slot), rounded down, so the rest stays for immediate requests (R6)."""
    if not 0 <= share <= 1:
        raise ValueError("share must be between 0 and 1")
    return math.floor(rostered_gps * share + 1e-9)
