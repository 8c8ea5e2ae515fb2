"""Plain shared types of the waiting room: ids, states and the request record.

Both ``waiting_room`` and ``records`` import this module; it imports nothing of theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NewType

RequestId = NewType("RequestId", str)
UserId = NewType("UserId", str)
RoomId = NewType("RoomId", str)
Sid = NewType("Sid", str)


class Role(StrEnum):
    PATIENT = "patient"
    NURSE = "nurse"
    PHYSICIAN = "physician"
    SUPERVISOR = "supervisor"
    DPO = "dpo"
    INSURER = "insurer"


class RequestState(StrEnum):
    """The states of a consultation request (DESIGN.md, "A request's life")."""

    REQUESTED = "requested"
    SCREENED = "screened"
    WAITING = "waiting"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    IN_CALL = "in_call"
    WRAP_UP = "wrap_up"
    DONE = "done"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"
    REFUSED = "refused"
    REDIRECTED_TO_GP = "redirected_to_gp"
    EMERGENCY_TRANSFER = "emergency_transfer"
    UNREACHABLE = "unreachable"


class RequestKind(StrEnum):
    IMMEDIATE = "immediate"
    APPOINTMENT = "appointment"


class Channel(StrEnum):
    VIDEO = "video"
    PHONE = "phone"


class EndReason(StrEnum):
    HANGUP_PATIENT = "hangup_patient"
    HANGUP_PHYSICIAN = "hangup_physician"
    CANCELLED = "cancelled"
    PATIENT_LOST = "patient_lost"
    """The patient's connection dropped mid-call and did not come back within the grace period."""
    PHYSICIAN_LOST = "physician_lost"
    """The GP's connection dropped mid-call and did not come back: the patient is queued again."""
    ABANDONED = "abandoned"
    """The patient left the queue (no connection) for longer than the grace period."""
    UNREACHABLE = "unreachable"
    """Phone callback: no answer after the last try."""
    WRONG_NUMBER = "wrong_number"
    PHONE_CALLBACK = "phone_callback"
    """The video call moved to a phone callback within the same consultation."""


class GpStatus(StrEnum):
    UNAVAILABLE = "unavailable"
    AVAILABLE = "available"
    OFFERED = "offered"
    PAUSED = "paused"
    """Two offers missed in a row: no offers until the GP confirms."""
    IN_CALL = "in_call"
    WRAP_UP = "wrap_up"
    """After a call, writing up, with its own timer before the next offer."""


@dataclass(frozen=True, slots=True)
class ConsultationRequest:
    """One patient's request for a consultation, as SQL holds it."""

    id: RequestId
    patient_id: UserId
    kind: RequestKind
    channel: Channel
    state: RequestState
    version: int
    """Bumped by every transition; the conditional update checks it ("SQL decides")."""
    seq: int
    """Arrival sequence number: breaks ties between equal arrival times."""
    arrival_at: datetime
    deadline: datetime
    """Immediate: arrival + 30 minutes (R6)."""
    updated_at: datetime
    gp_id: UserId | None = None
    room_id: RoomId | None = None
    ended_reason: EndReason | None = None
    priority_credit: float = 0.0
    """Extra virtual waiting time, in seconds: served as if it had arrived that much earlier."""
    phone_number: str | None = None
    """E.164, for a phone callback (R8)."""
    phone_attempts: int = 0
    """Callback tries without an answer so far."""
    not_before: datetime | None = None
    """A phone retry waits until then before it rejoins the line."""


@dataclass(frozen=True, slots=True)
class CallRoom:
    """The pair of a consultation: only its two members exchange signaling."""

    id: RoomId
    request_id: RequestId
    patient_id: UserId
    gp_id: UserId

    def peer_of(self, user_id: UserId) -> UserId | None:
        """The other member, or None if ``user_id`` is not a member."""
        if user_id == self.patient_id:
            return self.gp_id
        if user_id == self.gp_id:
            return self.patient_id
        return None


@dataclass(frozen=True, slots=True)
class QueueStats:
    size: int
    oldest_wait_seconds: float


class AppointmentState(StrEnum):
    BOOKED = "booked"
    QUEUED = "queued"
    """It came due and entered the queue as a request (``request_id``)."""
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"
    """The patient already had a request under way when it came due."""


@dataclass(frozen=True, slots=True)
class Appointment:
    """R7: a booked slot; at its time it becomes a request of kind appointment."""

    id: str
    patient_id: UserId
    slot_start: datetime
    slot_end: datetime
    state: AppointmentState
    version: int
    request_id: RequestId | None = None
