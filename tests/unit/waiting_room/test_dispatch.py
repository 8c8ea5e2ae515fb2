from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from waiting_room import dispatch
from waiting_room.model import RequestId, RequestKind


def test_immediate_deadline_is_arrival_plus_30_minutes() -> None:  # R6
    arrival = datetime(2026, 11, 27, 3, 14, 15, 926535, tzinfo=UTC)
    assert dispatch.deadline_for(RequestKind.IMMEDIATE, arrival) == arrival + timedelta(minutes=30)


def test_appointment_deadline_is_its_slot() -> None:  # R7
    arrival = datetime(2026, 11, 27, 8, tzinfo=UTC)
    slot = datetime(2026, 11, 28, 9, tzinfo=UTC)
    assert dispatch.deadline_for(RequestKind.APPOINTMENT, arrival, slot) == slot
    with pytest.raises(ValueError):
        dispatch.deadline_for(RequestKind.APPOINTMENT, arrival)


def test_earlier_deadline_scores_lower_with_microsecond_resolution() -> None:
    base = datetime(2026, 11, 27, 8, tzinfo=UTC)
    a = dispatch.queue_score(base)
    b = dispatch.queue_score(base + timedelta(microseconds=1))
    assert a < b
    assert b - a == pytest.approx(1e-6, abs=2e-7)


def test_priority_credit_acts_as_extra_waiting_time() -> None:
    base = datetime(2026, 11, 27, 8, tzinfo=UTC)
    later_with_credit = dispatch.queue_score(
        base + timedelta(seconds=60), priority_credit_seconds=90
    )
    assert later_with_credit < dispatch.queue_score(base)


def test_a_due_appointment_goes_ahead_of_the_last_half_hour_of_overdue_requests() -> None:
    """R7: the slot at 10:00 goes ahead of an immediate request that arrived at 09:10 (deadline
    09:40, 20 minutes overdue) but behind one that arrived at 08:50 (40 minutes overdue)."""
    slot = datetime(2026, 11, 27, 10, tzinfo=UTC)

    def score(kind: RequestKind, deadline: datetime) -> float:
        return dispatch.queue_score(deadline, dispatch.kind_credit(kind))

    appointment = score(RequestKind.APPOINTMENT, slot)
    assert score(RequestKind.IMMEDIATE, slot - timedelta(minutes=20)) > appointment
    assert score(RequestKind.IMMEDIATE, slot - timedelta(minutes=40)) < appointment
    assert dispatch.kind_credit(RequestKind.IMMEDIATE) == 0.0


def test_member_orders_ties_by_sequence_and_round_trips() -> None:
    rid = RequestId("f" * 32)
    m9, m10 = dispatch.queue_member(9, rid), dispatch.queue_member(10, rid)
    assert m9 < m10  # zero-padded: lexicographic order is numeric order
    assert dispatch.request_of_member(m10) == rid
    with pytest.raises(ValueError):
        dispatch.queue_member(-1, rid)
    with pytest.raises(ValueError):
        dispatch.request_of_member("no-separator")


def test_missed_offers_pause_at_the_second_in_a_row() -> None:
    settings = dispatch.DispatchSettings()
    assert dispatch.missed_offer_outcome(0, settings) == (1, False)
    assert dispatch.missed_offer_outcome(1, settings) == (2, True)
    strict = dispatch.DispatchSettings(max_missed_offers=1)
    assert dispatch.missed_offer_outcome(0, strict) == (1, True)


def test_dispatch_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        dispatch.DispatchSettings(offer_timeout=-1)
    with pytest.raises(ValueError):
        dispatch.DispatchSettings(max_missed_offers=0)
    assert dispatch.DispatchSettings().offer_timeout == 30.0
