"""The request state machine: which transitions are allowed, as a pure function.

``plan_transition`` never touches storage: it checks the move against the table and returns the
conditional update to apply (``... WHERE state = :from AND version = :version``), which the SQL
store applies or refuses ("SQL decides", DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from waiting_room.errors import IllegalTransition
from waiting_room.model import (
    Channel,
    ConsultationRequest,
    EndReason,
    RequestId,
    RequestState,
    RoomId,
    UserId,
)

S = RequestState

TRANSITIONS: Final[Mapping[RequestState, frozenset[RequestState]]] = {
    S.REQUESTED: frozenset({S.SCREENED, S.REFUSED, S.CANCELLED}),
    # R3/R4/R12/R13: screening passes or refuses.
    S.SCREENED: frozenset({S.WAITING, S.REFUSED, S.CANCELLED, S.EMERGENCY_TRANSFER}),
    S.WAITING: frozenset({S.OFFERED, S.CANCELLED, S.ABANDONED}),
    # An offer declined or timed out goes back to waiting at its original place.
    S.OFFERED: frozenset({S.ACCEPTED, S.WAITING, S.CANCELLED, S.ABANDONED}),
    # A call may end before media connects: the GP still wraps up.
    S.ACCEPTED: frozenset(
        {
            S.IN_CALL,
            S.WRAP_UP,
            S.WAITING,
            S.REDIRECTED_TO_GP,
            S.EMERGENCY_TRANSFER,
            S.UNREACHABLE,
        }
    ),
    # R22 redirect to own GP, R23 emergency transfer. A GP lost mid-call sends the patient back
    # to the queue at their original place (the consultation still counts once for R12).
    S.IN_CALL: frozenset({S.WRAP_UP, S.WAITING, S.REDIRECTED_TO_GP, S.EMERGENCY_TRANSFER}),
    S.WRAP_UP: frozenset({S.DONE}),
    S.DONE: frozenset(),
    S.CANCELLED: frozenset(),
    S.ABANDONED: frozenset(),
    S.REFUSED: frozenset(),
    S.REDIRECTED_TO_GP: frozenset(),
    S.EMERGENCY_TRANSFER: frozenset(),
    S.UNREACHABLE: frozenset(),
}

TERMINAL: Final = frozenset(state for state, nexts in TRANSITIONS.items() if not nexts)
ACTIVE: Final = frozenset(RequestState) - TERMINAL
QUEUED: Final = frozenset({S.WAITING, S.OFFERED})
"""States in which the request holds a place in the queue."""
STARTED: Final = frozenset({S.IN_CALL, S.WRAP_UP, S.DONE, S.REDIRECTED_TO_GP})
"""R12: a consultation counts once it has started with a GP."""


class _Keep:
    """Marker: leave this column as it is."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Final = _Keep()


@dataclass(frozen=True, slots=True)
class Transition:
    """A conditional update of one request, ready for the SQL store."""

    request_id: RequestId
    from_state: RequestState
    to_state: RequestState
    expected_version: int
    at: datetime
    actor: str
    """Who caused it: ``patient:<id>``, ``physician:<id>``, ``system``."""
    gp_id: UserId | None | _Keep = KEEP
    room_id: RoomId | None | _Keep = KEEP
    ended_reason: EndReason | None | _Keep = KEEP
    channel: Channel | _Keep = KEEP
    phone_number: str | None | _Keep = KEEP
    phone_attempts: int | _Keep = KEEP
    not_before: datetime | None | _Keep = KEEP


def plan_update(
    request: ConsultationRequest,
    now: datetime,
    actor: str,
    *,
    room_id: RoomId | None | _Keep = KEEP,
    channel: Channel | _Keep = KEEP,
    phone_number: str | None | _Keep = KEEP,
) -> Transition:
    """A change that keeps the state (a video call moving to a phone callback in the same
    consultation), still conditional on state and version, still recorded."""
    if request.state in TERMINAL:
        raise IllegalTransition(f"a request in state {request.state} is over")
    return Transition(
        request_id=request.id,
        from_state=request.state,
        to_state=request.state,
        expected_version=request.version,
        at=now,
        actor=actor,
        room_id=room_id,
        channel=channel,
        phone_number=phone_number,
    )


def can_transition(current: RequestState, target: RequestState) -> bool:
    return target in TRANSITIONS[current]


def plan_transition(
    request: ConsultationRequest,
    target: RequestState,
    now: datetime,
    actor: str,
    *,
    gp_id: UserId | None | _Keep = KEEP,
    room_id: RoomId | None | _Keep = KEEP,
    ended_reason: EndReason | None | _Keep = KEEP,
    phone_attempts: int | _Keep = KEEP,
    not_before: datetime | None | _Keep = KEEP,
) -> Transition:
    """Check ``request.state -> target`` against the table and return the update to apply.

    Raises IllegalTransition when the move is not allowed from the current state.
    """
    if not can_transition(request.state, target):
        raise IllegalTransition(f"a request in state {request.state} cannot become {target}")
    return Transition(
        request_id=request.id,
        from_state=request.state,
        to_state=target,
        expected_version=request.version,
        at=now,
        actor=actor,
        gp_id=gp_id,
        room_id=room_id,
        ended_reason=ended_reason,
        phone_attempts=phone_attempts,
        not_before=not_before,
    )
