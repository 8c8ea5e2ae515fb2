"""Dispatch policy, first version: earliest deadline first, longest-idle GP first.

The score is computed here, in pure Python; the Redis adapter only takes the lowest score and the
longest-idle GP in one atomic step (DESIGN.md, "Dispatch policy").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from waiting_room.model import RequestId, RequestKind

IMMEDIATE_SLA: Final = timedelta(minutes=30)
"""R6: an immediate web request reaches a GP within 30 minutes, 24/7."""

_SEQ_WIDTH: Final = 12


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    """Business durations of the dispatcher, in seconds of the (possibly scaled) business clock."""

    offer_timeout: float = 30.0
    """An offer not accepted in time returns to the queue at its place and is re-offered."""
    max_missed_offers: int = 2
    """Offers missed in a row before the GP is paused until they confirm."""
    wrap_up: float = 120.0
    """After a call, before the next offer (the GP may end it earlier)."""
    patient_grace: float = 120.0
    """A queued patient without connection keeps their place this long."""
    call_grace: float = 60.0
    """A member of a call without connection may rejoin the room this long."""
    phone_retry: float = 300.0
    """A phone callback without answer is tried again this much later (R8)."""
    phone_tries: int = 3
    """Tries without answer before the request is unreachable."""

    def __post_init__(self) -> None:
        if min(self.offer_timeout, self.wrap_up, self.patient_grace, self.call_grace) < 0:
            raise ValueError("durations must not be negative")
        if self.max_missed_offers < 1:
            raise ValueError("max_missed_offers must be at least 1")


def missed_offer_outcome(missed_before: int, settings: DispatchSettings) -> tuple[int, bool]:
    """A GP missed an offer: their new count of misses in a row, and whether they are paused."""
    missed = missed_before + 1
    return missed, missed >= settings.max_missed_offers


def deadline_for(
    kind: RequestKind, arrival_at: datetime, slot_at: datetime | None = None
) -> datetime:
    """The time by which the request must reach a GP (R6 immediate, R7 appointment slot)."""
    if kind is RequestKind.APPOINTMENT:
        if slot_at is None:
            raise ValueError("an appointment needs its slot time")
        return slot_at
    return arrival_at + IMMEDIATE_SLA


APPOINTMENT_CREDIT_SECONDS = 1800.0
"""R7: a booked appointment is served as if its slot were 30 minutes earlier: it goes ahead of
the immediate requests of the hour before its slot (deadline less than 30 minutes overdue) and
stays behind those waiting longer, so nobody starves. Earliest deadline first alone put a due
appointment behind every overdue immediate request at a peak: on 8 seeded days of the
epidemic_surge load scenario the credit raised the share served within 30 minutes from 64.2 % to
65.6 %, and changed nothing on the other scenarios (docs/BENCHMARKS.md, "Dispatch quality")."""


def kind_credit(kind: RequestKind) -> float:
    """The priority credit a request's kind carries (seconds)."""
    return APPOINTMENT_CREDIT_SECONDS if kind is RequestKind.APPOINTMENT else 0.0


def queue_score(deadline: datetime, priority_credit_seconds: float = 0.0) -> float:
    """Lower is served first: the deadline in epoch seconds, less any priority credit.

    A priority credit acts as extra virtual waiting time, so nobody starves behind it.
    Epoch seconds with microseconds stay exact in a double (below 2**53 until the year 2255).
    """
    return deadline.timestamp() - priority_credit_seconds


def queue_member(seq: int, request_id: RequestId) -> str:
    """The queue member for a request: equal scores order by member, so the arrival
    sequence number (zero-padded) breaks ties."""
    if seq < 0:
        raise ValueError("seq must be non-negative")
    return f"{seq:0{_SEQ_WIDTH}d}:{request_id}"


def request_of_member(member: str) -> RequestId:
    _, _, request_id = member.partition(":")
    if not request_id:
        raise ValueError(f"not a queue member: {member!r}")
    return RequestId(request_id)
