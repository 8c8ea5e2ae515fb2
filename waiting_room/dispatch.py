"""Dispatch policy, first version: earliest deadline first, longest-idle GP first.

The score is computed here, in pure Python; the Redis adapter only takes the lowest score and the
longest-idle GP in one atomic step (DESIGN.md, "Dispatch policy").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from waiting_room.model import RequestId, RequestKind

IMMEDIATE_SLA: Final = timedelta(minutes=30)
"""R6: an immediate web request reaches a GP within 30 minutes, 24/7."""

_SEQ_WIDTH: Final = 12


def deadline_for(
    kind: RequestKind, arrival_at: datetime, slot_at: datetime | None = None
) -> datetime:
    """The time by which the request must reach a GP (R6 immediate, R7 appointment slot)."""
    if kind is RequestKind.APPOINTMENT:
        if slot_at is None:
            raise ValueError("an appointment needs its slot time")
        return slot_at
    return arrival_at + IMMEDIATE_SLA


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
