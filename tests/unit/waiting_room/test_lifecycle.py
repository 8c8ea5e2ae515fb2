"""The request state machine: every allowed transition, and every other one refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from waiting_room.clock import FakeClock
from waiting_room.errors import IllegalTransition
from waiting_room.lifecycle import (
    ACTIVE,
    KEEP,
    QUEUED,
    STARTED,
    TERMINAL,
    TRANSITIONS,
    can_transition,
    plan_transition,
)
from waiting_room.model import (
    Channel,
    ConsultationRequest,
    EndReason,
    RequestId,
    RequestKind,
    RequestState,
    RoomId,
    UserId,
)

S = RequestState


def _request(state: RequestState, version: int = 3) -> ConsultationRequest:
    at = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    return ConsultationRequest(
        id=RequestId("r" * 32),
        patient_id=UserId("p" * 32),
        kind=RequestKind.IMMEDIATE,
        channel=Channel.VIDEO,
        state=state,
        version=version,
        seq=1,
        arrival_at=at,
        deadline=at + timedelta(minutes=30),
        updated_at=at,
    )


ALL_PAIRS = [(a, b) for a in RequestState for b in RequestState]


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS)
def test_each_pair_is_allowed_exactly_when_the_table_says(
    current: RequestState, target: RequestState
) -> None:
    clock = FakeClock()
    request = _request(current)
    if target in TRANSITIONS[current]:
        t = plan_transition(request, target, clock.now(), "system")
        assert (t.from_state, t.to_state, t.expected_version) == (current, target, 3)
        assert t.at == clock.now() and t.actor == "system"
        assert t.gp_id is KEEP and t.room_id is KEEP and t.ended_reason is KEEP
    else:
        with pytest.raises(IllegalTransition, match=f"{current}.*{target}"):
            plan_transition(request, target, clock.now(), "system")


def test_the_main_path_of_a_request() -> None:
    """requested -> screened -> waiting -> offered -> accepted -> in_call -> wrap_up -> done."""
    path = [S.REQUESTED, S.SCREENED, S.WAITING, S.OFFERED, S.ACCEPTED, S.IN_CALL, S.WRAP_UP, S.DONE]
    for current, target in zip(path, path[1:], strict=False):
        assert can_transition(current, target)


def test_offer_goes_back_to_waiting_and_side_exits_exist() -> None:
    assert can_transition(S.OFFERED, S.WAITING)  # declined or timed out
    assert can_transition(S.WAITING, S.CANCELLED)
    assert can_transition(S.WAITING, S.ABANDONED)
    assert can_transition(S.SCREENED, S.REFUSED)
    assert can_transition(S.IN_CALL, S.REDIRECTED_TO_GP)  # R22
    assert can_transition(S.IN_CALL, S.EMERGENCY_TRANSFER)  # R23
    assert can_transition(S.ACCEPTED, S.UNREACHABLE)
    assert not can_transition(S.IN_CALL, S.CANCELLED)  # a started consultation counts (R12)


def test_state_sets() -> None:
    assert TERMINAL == {
        S.DONE,
        S.CANCELLED,
        S.ABANDONED,
        S.REFUSED,
        S.REDIRECTED_TO_GP,
        S.EMERGENCY_TRANSFER,
        S.UNREACHABLE,
    }
    assert ACTIVE.isdisjoint(TERMINAL) and ACTIVE | TERMINAL == set(RequestState)
    assert QUEUED == {S.WAITING, S.OFFERED}
    assert S.IN_CALL in STARTED and S.CANCELLED not in STARTED
    for state in TERMINAL:
        assert TRANSITIONS[state] == frozenset()


def test_columns_to_change_are_carried() -> None:
    clock = FakeClock()
    t = plan_transition(
        _request(S.ACCEPTED),
        S.WRAP_UP,
        clock.now(),
        "user:x",
        gp_id=UserId("g" * 32),
        room_id=RoomId("a" * 32),
        ended_reason=EndReason.HANGUP_PATIENT,
    )
    assert (t.gp_id, t.room_id, t.ended_reason) == ("g" * 32, "a" * 32, EndReason.HANGUP_PATIENT)
    cleared = plan_transition(_request(S.OFFERED), S.WAITING, clock.now(), "system", gp_id=None)
    assert cleared.gp_id is None
    assert repr(KEEP) == "KEEP"


def test_version_is_the_one_read() -> None:
    request = replace(_request(S.WAITING), version=41)
    assert plan_transition(request, S.OFFERED, FakeClock().now(), "system").expected_version == 41
