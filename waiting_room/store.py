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

    async def started_count(self, patient_id: UserId, year: int) -> int:
        """R12: consultations started with a GP in the given calendar year (Europe/Paris)."""
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
    patient_id: UserId
    arrival_ts: float


@dataclass(frozen=True, slots=True)
class GpLive:
    status: str
    request_id: RequestId | None
    room_id: RoomId | None


class LiveStore(Protocol):
    async def enqueue(
        self, member: str, score: float, patient_id: UserId, arrival_ts: float
    ) -> None: ...
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

    async def put_back(
        self,
        picked: Picked,
        request_still_waiting: bool,
        patient_id: UserId | None,
        arrival_ts: float | None,
    ) -> None: ...
    async def set_gp(self, gp_id: UserId, live: GpLive) -> None: ...
    async def get_gp(self, gp_id: UserId) -> GpLive: ...
    async def save_room(self, room: CallRoom) -> None: ...
    async def get_room(self, room_id: RoomId) -> CallRoom | None: ...
    async def delete_room(self, room_id: RoomId) -> None: ...
    async def add_presence(self, user_id: UserId, sid: str) -> None: ...
    async def remove_presence(self, user_id: UserId, sid: str) -> int:
        """Forget one connection; return how many the user still has."""
        ...

    async def reset_queue(self, entries: list[tuple[str, float, UserId, float]]) -> None:
        """Replace the queue and forget every GP's availability (rebuild from SQL)."""
        ...

    async def ping(self) -> bool: ...
