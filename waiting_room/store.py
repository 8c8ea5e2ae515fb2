"""What the waiting room needs from storage, as Protocols: SQL (records/ implements it) and the
live shared state (redis_store.py implements it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from waiting_room.lifecycle import Transition
from waiting_room.model import (
    CallRoom,
    Channel,
    ConsultationRequest,
    RequestId,
    RequestKind,
    RoomId,
    UserId,
)


class RequestStore(Protocol):
    """Durable requests: the source of truth. Every change goes through ``apply``."""

    async def create(
        self,
        patient_id: UserId,
        kind: RequestKind,
        channel: Channel,
        at: datetime,
        deadline: datetime,
        phone_number: str | None = None,
    ) -> ConsultationRequest:
        """Insert a new request in state ``requested``; raises AlreadyActive if the patient has
        one under way (enforced by the database, not by a prior read)."""
        ...

    async def apply(self, transition: Transition) -> ConsultationRequest:
        """Apply a conditional update; raises Conflict if state or version moved meanwhile."""
        ...

    async def get(self, request_id: RequestId) -> ConsultationRequest | None: ...

    async def active_for_patient(self, patient_id: UserId) -> ConsultationRequest | None: ...

    async def queued(self) -> list[ConsultationRequest]:
        """Requests waiting or offered, in arrival order (to rebuild the live queue)."""
        ...

    async def in_rooms(self) -> list[ConsultationRequest]:
        """Requests accepted or in call (to rebuild the call rooms)."""
        ...

    async def in_wrap_up(self) -> list[ConsultationRequest]: ...

    async def started_count(self, patient_id: UserId, year: int) -> int:
        """R12: consultations started with a GP in the given calendar year (Europe/Paris)."""
        ...


class DutyStore(Protocol):
    """What must outlive Redis about GPs and the SLA: availability intent and breach alerts."""

    async def set_intent(self, gp_id: UserId, status: str, at: datetime) -> None:
        """Record that the GP wants offers (``available``) or not (``unavailable``, ``paused``)."""
        ...

    async def intents(self) -> dict[UserId, tuple[str, datetime]]: ...

    async def record_alerts(
        self, alerts: list[tuple[RequestId, datetime, datetime, datetime]]
    ) -> list[RequestId]:
        """Record predicted breaches (request, raised at, predicted start, deadline), once per
        request; returns the requests newly recorded."""
        ...


class ConsentChecker(Protocol):
    async def has_required_consents(self, user_id: UserId) -> bool:
        """R17: both consents given and not withdrawn."""
        ...


@dataclass(frozen=True, slots=True)
class Picked:
    """One atomic pick from the live queue: the request and the GP, with their old scores
    so that a pick SQL refuses can be put back exactly where it was."""

    member: str
    score: float
    gp_id: UserId
    gp_idle_since: float


@dataclass(frozen=True, slots=True)
class QueuedEntry:
    member: str
    score: float
    patient_id: UserId
    arrival_ts: float
    deadline_ts: float
    offered: bool = False
    """Held by an offer: not for the pick, still in the line."""


@dataclass(frozen=True, slots=True)
class GpLive:
    status: str
    request_id: RequestId | None = None
    room_id: RoomId | None = None
    since: float = 0.0
    """Business epoch seconds when this status began."""
    until: float | None = None
    """End of the offer or of the wrap-up."""
    missed: int = 0
    """Offers missed in a row."""


class LiveStore(Protocol):
    """The live shared state (Redis): queue, GPs, rooms, timers, presence."""

    async def enqueue(self, entry: QueuedEntry) -> None: ...
    async def dequeue(self, member: str) -> None: ...
    async def queue_entries(self) -> list[QueuedEntry]:
        """The whole queue, best first."""
        ...

    async def queue_size(self) -> int: ...
    async def rank(self, member: str) -> int | None:
        """0-based place, or None if not queued."""
        ...

    async def set_idle(self, gp_id: UserId, since_ts: float) -> None: ...
    async def clear_idle(self, gp_id: UserId) -> None: ...
    async def pick(self) -> Picked | None:
        """Atomically take the lowest-score request and the longest-idle GP."""
        ...

    async def put_back(self, picked: Picked, entry: QueuedEntry | None) -> None:
        """Undo a pick: the GP back at their place, the request too if ``entry`` is given."""
        ...

    async def set_gp(self, gp_id: UserId, live: GpLive) -> None: ...
    async def get_gp(self, gp_id: UserId) -> GpLive: ...
    async def all_gps(self) -> dict[UserId, GpLive]: ...
    async def save_room(self, room: CallRoom) -> None: ...
    async def get_room(self, room_id: RoomId) -> CallRoom | None: ...
    async def delete_room(self, room_id: RoomId) -> None: ...
    async def schedule(self, timer: str, at: float) -> None: ...
    async def cancel(self, timer: str) -> None: ...
    async def claim_due(self, now: float, limit: int) -> list[str]: ...
    async def is_present(self, user_id: UserId) -> bool:
        """Whether the user has a connection on a live node."""
        ...

    async def reset(
        self, entries: list[QueuedEntry], rooms: list[CallRoom], gps: dict[UserId, GpLive]
    ) -> str:
        """Replace the whole live state (rebuild from SQL); returns the new build epoch."""
        ...
