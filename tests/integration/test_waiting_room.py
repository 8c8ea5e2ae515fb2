"""The waiting room's runner against SQL (SQLite) and Redis, with a fake clock: once on the
in-process Redis and once on a real redis-server, like LiveKit's store tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import update

import records.accounts
from records.accounts import Accounts, Identity
from records.db import create_engine, default_url
from records.duty import SqlDutyStore
from records.migrations import migrate
from records.requests import SqlRequestStore
from records.schema import consents
from tests.fakes import RecordingNotifier
from tests.support.processes import RedisServer
from waiting_room import redis_store
from waiting_room.clock import FakeClock
from waiting_room.dispatch import DispatchSettings
from waiting_room.errors import (
    AlreadyActive,
    ConsentMissing,
    IllegalTransition,
    InCall,
    NotInRoom,
    OfferNotFound,
    QuotaExceeded,
)
from waiting_room.model import EndReason, GpStatus, RequestId, RequestState, Role, UserId
from waiting_room.recovery import rebuild
from waiting_room.service import WaitingRoom


@dataclass
class World:
    room: WaitingRoom
    requests: SqlRequestStore
    accounts: Accounts
    live: redis_store.RedisLiveStore
    duty: SqlDutyStore
    notes: RecordingNotifier
    clock: FakeClock
    settings: DispatchSettings
    patients: list[UserId]
    gps: list[UserId]

    async def advance(self, seconds: float) -> None:
        """Move the fake clock and handle the timers that fall due, as the feed does."""
        self.clock.advance(seconds)
        for timer in await self.live.claim_due(self.clock.now().timestamp(), 1000):
            await self.room.on_timer(timer)

    async def connect(self, user: UserId, sid: str = "s") -> None:
        await self.live.add_presence(user, f"{sid}-{user}")
        if user in self.gps:
            await self.room.gp_connected(user)
        else:
            await self.room.patient_connected(user)

    async def drop(self, user: UserId, sid: str = "s") -> None:
        await self.live.remove_presence(user, f"{sid}-{user}")
        if user in self.gps:
            await self.room.gp_disconnected(user)
        else:
            await self.room.patient_disconnected(user)

    async def position(self, request_id: str) -> int | None:
        request = await self.requests.get(RequestId(request_id))
        assert request is not None
        return (await self.room.patient_view(request)).position

    async def state(self, request_id: str) -> RequestState:
        request = await self.requests.get(RequestId(request_id))
        assert request is not None
        return request.state


@pytest.fixture(params=["in-process", "redis-server"])
async def world(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[World]:
    # Cheap hashing for set-up speed; the real parameters are exercised by the server tests.
    monkeypatch.setattr(records.accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=64))
    if request.param == "redis-server":
        redis_server.flush()
        client = redis_store.connect(redis_server.url)
    else:
        client = redis_store.connect(None)
    engine = create_engine(default_url(tmp_path))
    await migrate(engine)
    clock = FakeClock()
    accounts = Accounts(engine)
    people: dict[Role, list[UserId]] = {Role.PATIENT: [], Role.PHYSICIAN: []}
    for i in range(7):
        role = Role.PATIENT if i < 4 else Role.PHYSICIAN
        user = await accounts.register(
            Identity(f"u{i}@t.test", "Nom", f"P{i}", date(1980, 1, 1), "+33600000001", "75001"),
            "Good-Password-1",
            role,
            clock.now(),
            "test",
        )
        people[role].append(user.id)
    live = redis_store.RedisLiveStore(client)
    await live.heartbeat(3_600_000)
    notes = RecordingNotifier()
    requests = SqlRequestStore(engine)
    duty = SqlDutyStore(engine)
    settings = DispatchSettings()
    room = WaitingRoom(requests, live, duty, accounts, notes, clock, settings)
    await rebuild(requests, live, duty, clock, settings)
    yield World(
        room,
        requests,
        accounts,
        live,
        duty,
        notes,
        clock,
        settings,
        people[Role.PATIENT],
        people[Role.PHYSICIAN],
    )
    await live.close()
    await engine.dispose()


async def test_full_consultation_its_history_and_the_wrap_up(world: World) -> None:
    w = world
    p, g = w.patients[0], w.gps[0]
    view = await w.room.request_video(p)
    assert (view.request.state, view.position, view.queue_size) == (RequestState.WAITING, 1, 1)
    assert view.request.deadline == view.request.arrival_at + timedelta(minutes=30)  # R6
    await w.advance(12.5)
    await w.room.gp_available(g)
    offered = w.notes.last_gp(g)
    assert offered.status is GpStatus.OFFERED
    assert offered.until == w.clock.now().timestamp() + w.settings.offer_timeout
    assert w.notes.last_patient(p).request.state is RequestState.OFFERED
    await w.advance(3)
    room = await w.room.accept(g, view.request.id)
    assert (room.patient_id, room.gp_id) == (p, g)
    assert w.notes.of("call_started") == [room]
    await w.room.call_connected(p, room.id)
    await w.room.call_connected(g, room.id)  # the second report changes nothing
    await w.room.hangup(p, room.id)
    assert w.notes.of("call_ended") == [(room, EndReason.HANGUP_PATIENT)]
    assert await w.state(view.request.id) is RequestState.WRAP_UP
    wrap = w.notes.last_gp(g)
    assert wrap.status is GpStatus.WRAP_UP
    assert wrap.until == w.clock.now().timestamp() + w.settings.wrap_up
    with pytest.raises(NotInRoom):
        await w.room.hangup(g, room.id)
    # The patient may ask again during the GP's wrap-up; the GP gets no offer until it ends.
    second = await w.room.request_video(p)
    assert second.request.state is RequestState.WAITING
    await w.advance(w.settings.wrap_up - 1)
    assert (await w.room.gp_view(g)).status is GpStatus.WRAP_UP
    await w.advance(1)
    assert await w.state(view.request.id) is RequestState.DONE
    assert (await w.room.gp_view(g)).status is GpStatus.OFFERED  # available, then offered at once
    assert await w.state(second.request.id) is RequestState.OFFERED
    history = await w.requests.history(view.request.id)
    assert [(f, t) for f, t, _, _ in history] == [
        (None, "requested"),
        ("requested", "screened"),
        ("screened", "waiting"),
        ("waiting", "offered"),
        ("offered", "accepted"),
        ("accepted", "in_call"),
        ("in_call", "wrap_up"),
        ("wrap_up", "done"),
    ]
    assert history[3][2] == view.request.arrival_at + timedelta(seconds=12.5)
    assert history[6][3] == f"user:{p}"
    assert history[7][3] == f"physician:{g}"


async def test_wrap_up_ends_early_or_goes_unavailable(world: World) -> None:
    w = world
    p, g = w.patients[0], w.gps[0]
    for then_available in (True, False):
        view = await w.room.request_video(p)
        await w.room.gp_available(g)
        room = await w.room.accept(g, view.request.id)
        await w.room.hangup(g, room.id)
        if then_available:
            await w.room.gp_available(g)
            assert (await w.room.gp_view(g)).status is GpStatus.AVAILABLE
        else:
            await w.room.gp_unavailable(g)
            assert (await w.room.gp_view(g)).status is GpStatus.UNAVAILABLE
        assert await w.state(view.request.id) is RequestState.DONE
    assert await w.live.timers() == {}


async def test_oldest_first_and_longest_idle_gp_first(world: World) -> None:
    w = world
    views = []
    for patient in w.patients[:3]:
        views.append(await w.room.request_video(patient))
        await w.advance(1)
    assert [v.position for v in views] == [1, 2, 3]
    g1, g2, _ = w.gps
    await w.room.gp_available(g2)
    offer = w.notes.last_gp(g2).offer
    assert offer is not None and offer.id == views[0].request.id
    await w.room.gp_available(g1)
    offer = w.notes.last_gp(g1).offer
    assert offer is not None and offer.id == views[1].request.id
    # Offered requests keep their place in the line until accepted: the third is still third.
    assert await w.position(views[2].request.id) == 3
    stats = await w.room.queue_stats()
    assert stats.size == 3 and stats.oldest_wait_seconds == pytest.approx(3.0)
    await w.room.accept(g2, views[0].request.id)
    assert await w.position(views[2].request.id) == 2
    assert (await w.room.queue_stats()).size == 2


async def test_idle_line_is_longest_idle_first(world: World) -> None:
    w = world
    g1, g2, g3 = w.gps
    await w.room.gp_available(g3)
    await w.advance(5)
    await w.room.gp_available(g1)
    await w.advance(5)
    await w.room.gp_available(g2)
    served_by = []
    for patient in w.patients[:3]:
        view = await w.room.request_video(patient)
        request = await w.requests.get(view.request.id)
        assert request is not None
        served_by.append(request.gp_id)
    assert served_by == [g3, g1, g2]


async def test_going_available_twice_keeps_the_place_in_the_idle_line(world: World) -> None:
    w = world
    g1, g2, _ = w.gps
    await w.room.gp_available(g1)
    await w.advance(5)
    await w.room.gp_available(g2)
    await w.advance(5)
    await w.room.gp_available(g1)  # a second click (or a retried request) changes nothing
    view = await w.room.request_video(w.patients[0])
    request = await w.requests.get(view.request.id)
    assert request is not None and request.gp_id == g1


async def test_priority_credit_is_extra_waiting_time(world: World) -> None:
    w = world
    first = await w.room.request_video(w.patients[0])
    await w.advance(60)
    later = await w.room.request_video(w.patients[1])
    # A credit of 90 s puts the later request ahead of one that waited 60 s more.
    from sqlalchemy import update as sql_update

    from records.schema import consultation_requests as t

    async with w.requests._engine.begin() as conn:  # noqa: SLF001 - test set-up
        await conn.execute(
            sql_update(t).where(t.c.id == later.request.id).values(priority_credit=90.0)
        )
    await rebuild(w.requests, w.live, w.duty, w.clock, w.settings)
    assert await w.position(later.request.id) == 1
    assert await w.position(first.request.id) == 2


async def test_decline_returns_the_request_to_its_place(world: World) -> None:
    w = world
    first = await w.room.request_video(w.patients[0])
    await w.room.request_video(w.patients[1])
    g1, g2, _ = w.gps
    await w.room.gp_available(g1)
    with pytest.raises(OfferNotFound):
        await w.room.accept(g2, first.request.id)
    await w.room.decline(g1, first.request.id)
    assert w.notes.last_gp(g1).status is GpStatus.UNAVAILABLE
    back = await w.requests.get(first.request.id)
    assert back is not None and back.state is RequestState.WAITING and back.gp_id is None
    assert await w.position(first.request.id) == 1
    await w.room.gp_available(g2)
    offer = w.notes.last_gp(g2).offer
    assert offer is not None and offer.id == first.request.id
    with pytest.raises(OfferNotFound):
        await w.room.decline(g1, first.request.id)


async def test_offer_timeout_reoffers_at_once_and_two_misses_pause(world: World) -> None:
    w = world
    g1, g2, _ = w.gps
    first = await w.room.request_video(w.patients[0])
    second = await w.room.request_video(w.patients[1])
    await w.room.gp_available(g1)
    await w.advance(1)
    await w.room.gp_available(g2)  # g2 holds the second request
    await w.advance(w.settings.offer_timeout - 1.001)
    assert (await w.room.gp_view(g1)).status is GpStatus.OFFERED
    await w.advance(0.002)
    # g1 missed: the first request is back at its place; g2 still holds the second; g1 is back at
    # the end of the idle line and is the only idle GP, so gets it again at once.
    view = await w.room.gp_view(g1)
    assert view.status is GpStatus.OFFERED and view.missed == 1
    assert view.offer is not None and view.offer.id == first.request.id
    await w.room.accept(g2, second.request.id)
    await w.advance(w.settings.offer_timeout + 0.001)
    paused = await w.room.gp_view(g1)
    assert paused.status is GpStatus.PAUSED and paused.missed == 2
    assert await w.state(first.request.id) is RequestState.WAITING
    assert await w.position(first.request.id) == 1
    events = [(f, t, a) for f, t, _, a in await w.requests.history(first.request.id)]
    assert events.count(("offered", "waiting", "system:offer_timeout")) == 2
    # Confirming resumes offers; an accepted offer resets the count.
    await w.room.gp_available(g1)
    view = await w.room.gp_view(g1)
    assert view.status is GpStatus.OFFERED and view.missed == 0


async def test_gp_drop_while_offered_reoffers_at_once(world: World) -> None:
    w = world
    g1, g2, _ = w.gps
    for g in (g1, g2):
        await w.connect(g)
    request = await w.room.request_video(w.patients[0])
    await w.room.gp_available(g1)
    await w.room.gp_available(g2)
    holder = (await w.requests.get(request.request.id)).gp_id  # type: ignore[union-attr]
    other = g2 if holder == g1 else g1
    assert holder == g1
    await w.drop(g1)
    # At once, not after the offer timeout.
    now_holder = (await w.requests.get(request.request.id)).gp_id  # type: ignore[union-attr]
    assert now_holder == other
    # g1 comes back within the grace period: back in the idle line, still available.
    await w.advance(w.settings.call_grace / 2)
    await w.connect(g1)
    assert (await w.room.gp_view(g1)).status is GpStatus.AVAILABLE
    # g1 drops for good: past the grace period, unavailable.
    await w.drop(g1)
    await w.advance(w.settings.call_grace + 1)
    assert (await w.room.gp_view(g1)).status is GpStatus.UNAVAILABLE


async def test_waiting_patient_keeps_the_place_for_the_grace_period(world: World) -> None:
    w = world
    p1, p2 = w.patients[:2]
    for p in (p1, p2):
        await w.connect(p)
    first = await w.room.request_video(p1)
    second = await w.room.request_video(p2)
    await w.drop(p1)
    await w.advance(w.settings.patient_grace - 1)
    await w.connect(p1, sid="again")
    await w.advance(10)
    assert await w.position(first.request.id) == 1
    # Gone for longer than the grace period: abandoned, and the next one moves up.
    await w.drop(p1, sid="again")
    await w.advance(w.settings.patient_grace + 0.001)
    assert await w.state(first.request.id) is RequestState.ABANDONED
    assert w.notes.last_patient(p1).request.ended_reason is EndReason.ABANDONED
    assert await w.position(second.request.id) == 1
    assert await w.live.queue_size() == 1


async def test_a_second_connection_keeps_the_patient_present(world: World) -> None:
    w = world
    p = w.patients[0]
    await w.connect(p, sid="phone")
    await w.connect(p, sid="laptop")
    view = await w.room.request_video(p)
    await w.live.remove_presence(p, f"phone-{p}")
    assert await w.live.is_present(p)
    await w.advance(w.settings.patient_grace * 2)
    assert await w.state(view.request.id) is RequestState.WAITING


async def _in_call(w: World) -> tuple[str, object]:
    p, g = w.patients[0], w.gps[0]
    await w.connect(p)
    await w.connect(g)
    later = await w.room.request_video(w.patients[1])
    await w.advance(-0.0)
    view = await w.room.request_video(p)
    # The earlier request of patient 1 was made first: serve it away to another GP first.
    await w.room.gp_available(w.gps[1])
    await w.room.accept(w.gps[1], later.request.id)
    await w.room.gp_available(g)
    room = await w.room.accept(g, view.request.id)
    await w.room.call_connected(p, room.id)
    return view.request.id, room


async def test_patient_lost_mid_call_ends_the_call_after_the_grace(world: World) -> None:
    w = world
    p, g = w.patients[0], w.gps[0]
    request_id, room = await _in_call(w)
    await w.drop(p)
    assert w.notes.of("call_peer")[-1] == (room, p, False)
    await w.advance(w.settings.call_grace - 1)
    await w.connect(p)
    assert w.notes.of("call_peer")[-1] == (room, p, True)
    await w.advance(5)
    assert await w.state(request_id) is RequestState.IN_CALL
    await w.drop(p)
    await w.advance(w.settings.call_grace + 0.001)
    assert await w.state(request_id) is RequestState.WRAP_UP
    assert w.notes.of("call_ended")[-1] == (room, EndReason.PATIENT_LOST)
    assert (await w.room.gp_view(g)).status is GpStatus.WRAP_UP


async def test_physician_lost_mid_call_sends_the_patient_back_to_their_place(
    world: World,
) -> None:
    w = world
    g = w.gps[0]
    request_id, room = await _in_call(w)
    newcomer = await w.room.request_video(w.patients[2])
    await w.drop(g)
    await w.advance(w.settings.call_grace + 0.001)
    assert w.notes.of("call_ended")[-1] == (room, EndReason.PHYSICIAN_LOST)
    assert await w.state(request_id) is RequestState.WAITING
    # Original arrival, so ahead of the newcomer.
    assert await w.position(request_id) == 1
    assert await w.position(newcomer.request.id) == 2
    assert (await w.room.gp_view(g)).status is GpStatus.UNAVAILABLE
    # R12: still one consultation, counted once.
    again = await w.requests.get(RequestId(request_id))
    assert again is not None
    assert await w.requests.started_count(again.patient_id, 2026) == 1


async def test_one_active_request_per_patient_and_cancel(world: World) -> None:
    w = world
    p = w.patients[0]
    view = await w.room.request_video(p)
    with pytest.raises(AlreadyActive):
        await w.room.request_video(p)
    await w.room.cancel(p, view.request.id)
    with pytest.raises(IllegalTransition):
        await w.room.cancel(p, view.request.id)
    assert await w.live.queue_size() == 0
    assert (await w.room.request_video(p)).position == 1


async def test_cancel_while_offered_frees_the_gp(world: World) -> None:
    w = world
    view = await w.room.request_video(w.patients[0])
    await w.room.gp_available(w.gps[0])
    await w.room.cancel(w.patients[0], view.request.id)
    assert (await w.room.gp_view(w.gps[0])).status is GpStatus.AVAILABLE
    assert "offer:" not in str(await w.live.timers())


async def test_gp_in_call_cannot_change_availability(world: World) -> None:
    w = world
    view = await w.room.request_video(w.patients[0])
    await w.room.gp_available(w.gps[0])
    await w.room.accept(w.gps[0], view.request.id)
    for change in (w.room.gp_available, w.room.gp_unavailable):
        with pytest.raises(InCall):
            await change(w.gps[0])


async def test_a_request_is_offered_at_once_to_an_available_gp(world: World) -> None:
    w = world
    await w.room.gp_available(w.gps[0])
    view = await w.room.request_video(w.patients[0])
    assert view.request.state is RequestState.OFFERED and view.position == 1
    offer = w.notes.last_gp(w.gps[0]).offer
    assert offer is not None and offer.id == view.request.id


async def test_r17_consent_withdrawn_refuses_requests(world: World) -> None:
    w = world
    async with w.requests._engine.begin() as conn:  # noqa: SLF001 - test set-up
        await conn.execute(
            update(consents)
            .where(consents.c.user_id == w.patients[0])
            .values(withdrawn_at=w.clock.now())
        )
    with pytest.raises(ConsentMissing):
        await w.room.request_video(w.patients[0])


async def test_r12_quota_of_five_started_consultations_per_year(world: World) -> None:
    w = world
    p, g = w.patients[0], w.gps[0]
    for _ in range(5):
        view = await w.room.request_video(p)
        await w.room.gp_available(g)
        room = await w.room.accept(g, view.request.id)
        await w.room.call_connected(p, room.id)
        await w.room.hangup(g, room.id)
    with pytest.raises(QuotaExceeded, match="R12"):
        await w.room.request_video(p)


async def test_a_cancelled_request_does_not_count_for_r12(world: World) -> None:
    w = world
    p = w.patients[0]
    for _ in range(6):
        view = await w.room.request_video(p)
        await w.room.cancel(p, view.request.id)
    assert await w.requests.started_count(p, 2026) == 0


async def test_rebuild_restores_order_offers_rooms_and_gps(world: World) -> None:
    w = world
    views = []
    for patient in w.patients[:3]:
        views.append(await w.room.request_video(patient))
        await w.advance(0.001)
    g1, g2, g3 = w.gps
    await w.room.gp_available(g1)  # the first request is now offered to g1
    await w.room.gp_available(g2)
    room = await w.room.accept(g2, views[1].request.id)  # the second is in a call
    await w.room.gp_available(g3)
    await w.room.gp_unavailable(g3)
    rebuilt = await rebuild(w.requests, w.live, w.duty, w.clock, w.settings)
    assert (rebuilt.queued, rebuilt.offers_returned, rebuilt.rooms) == (2, 1, 1)
    first = await w.requests.get(views[0].request.id)
    assert first is not None and first.state is RequestState.WAITING
    assert [await w.position(v.request.id) for v in (views[0], views[2])] == [1, 2]
    entries = await w.live.queue_entries()
    assert [e.arrival_ts for e in entries] == [
        views[0].request.arrival_at.timestamp(),
        views[2].request.arrival_at.timestamp(),
    ]
    assert await w.live.get_room(room.id) == room
    assert (await w.room.gp_view(g2)).status is GpStatus.IN_CALL
    assert (await w.room.gp_view(g1)).status is GpStatus.AVAILABLE
    assert (await w.room.gp_view(g3)).status is GpStatus.UNAVAILABLE
    timers = await w.live.timers()
    assert f"grace:{views[0].request.id}" in timers
    assert f"call:{room.id}:{room.patient_id}" in timers
    # Nobody came back: past the grace periods, the queue is abandoned, the call ends,
    # and the GP restored as available goes off duty.
    await w.advance(max(w.settings.patient_grace, w.settings.call_grace) + 1)
    await w.advance(w.settings.patient_grace + 1)
    assert await w.state(views[0].request.id) is RequestState.ABANDONED
    # Both call members gone at once: whichever grace ends first, the patient is not left
    # queued without a connection.
    assert await w.state(views[1].request.id) in (RequestState.DONE, RequestState.ABANDONED)
    assert (await w.room.gp_view(g1)).status is GpStatus.UNAVAILABLE
    assert (await w.room.gp_view(g2)).status is not GpStatus.IN_CALL


async def test_patients_who_come_back_after_a_rebuild_keep_their_place(world: World) -> None:
    w = world
    views = [await w.room.request_video(p) for p in w.patients[:2]]
    await rebuild(w.requests, w.live, w.duty, w.clock, w.settings)
    for p in w.patients[:2]:
        await w.connect(p)
    await w.advance(w.settings.patient_grace * 2)
    assert [await w.position(v.request.id) for v in views] == [1, 2]


async def test_reconcile_repairs_the_live_queue_against_sql(world: World) -> None:
    w = world
    views = [await w.room.request_video(p) for p in w.patients[:3]]
    # A node died between the SQL commit and the Redis write: the second request is missing.
    from waiting_room.dispatch import queue_member

    lost = views[1].request
    await w.live.dequeue(queue_member(lost.seq, lost.id))
    assert await w.room.reconcile(min_age=10) == 0  # too recent: maybe a write in progress
    w.clock.advance(11)
    assert await w.room.reconcile(min_age=10) == 1
    assert [await w.position(v.request.id) for v in views] == [1, 2, 3]
    # An offer SQL holds but no GP holds any more goes back to waiting.
    await w.room.gp_available(w.gps[0])
    from waiting_room.store import GpLive

    await w.live.set_gp(w.gps[0], GpLive(GpStatus.UNAVAILABLE))
    w.clock.advance(11)
    assert await w.room.reconcile(min_age=10) == 1
    assert await w.state(views[0].request.id) is RequestState.WAITING
    assert await w.position(views[0].request.id) == 1
    assert await w.room.reconcile(min_age=10) == 0  # nothing left to repair


async def test_phone_callback_retries_then_unreachable(world: World) -> None:
    """R8: a phone request waits in the same queue; no answer is tried again later, at most
    three tries, then the request is unreachable."""
    w = world
    p, g1 = w.patients[0], w.gps[0]
    view = await w.room.request_phone_callback(p, "+33612345678")
    rid = view.request.id
    assert view.request.channel.value == "phone" and view.request.phone_number == "+33612345678"
    await w.room.gp_available(g1)
    assert await w.room.take_offer(g1, rid) is None  # a phone task, no call room
    task = w.notes.last_gp(g1).task
    assert task is not None and task.id == rid and task.phone_number == "+33612345678"
    for attempt in (1, 2):
        await w.room.phone_outcome(g1, rid, "no_answer")
        retry = await w.requests.get(RequestId(rid))
        assert retry is not None and retry.state is RequestState.WAITING
        assert retry.phone_attempts == attempt and retry.gp_id is None
        assert (await w.room.gp_view(g1)).status is GpStatus.AVAILABLE
        # Not offered again before the retry time, even with a free GP.
        await w.advance(w.settings.phone_retry - 1)
        assert await w.state(rid) is RequestState.WAITING
        await w.advance(1)
        assert await w.state(rid) is RequestState.OFFERED
        offered_to = (await w.requests.get(RequestId(rid))).gp_id  # type: ignore[union-attr]
        assert offered_to is not None
        await w.room.take_offer(offered_to, rid)
        g1 = offered_to
    await w.room.phone_outcome(g1, rid, "no_answer")
    final = await w.requests.get(RequestId(rid))
    assert final is not None and final.state is RequestState.UNREACHABLE
    assert final.ended_reason is EndReason.UNREACHABLE and final.phone_attempts == 3
    assert await w.requests.started_count(p, 2026) == 0  # never started: R12 not counted


async def test_phone_callback_reached_then_wrap_up_and_wrong_number(world: World) -> None:
    w = world
    g = w.gps[0]
    view = await w.room.request_phone_callback(w.patients[0], "+33612345678")
    await w.room.gp_available(g)
    await w.room.take_offer(g, view.request.id)
    with pytest.raises(IllegalTransition):
        await w.room.phone_end(g, view.request.id)  # the outcome comes first
    with pytest.raises(OfferNotFound):
        await w.room.phone_outcome(w.gps[1], view.request.id, "reached")
    await w.room.phone_outcome(g, view.request.id, "reached")
    assert await w.state(view.request.id) is RequestState.IN_CALL
    await w.room.phone_end(g, view.request.id)
    assert await w.state(view.request.id) is RequestState.WRAP_UP
    assert (await w.room.gp_view(g)).status is GpStatus.WRAP_UP
    other = await w.room.request_phone_callback(w.patients[1], "+33612345679")
    await w.room.gp_available(g)
    await w.room.take_offer(g, other.request.id)
    await w.room.phone_outcome(g, other.request.id, "wrong_number")
    wrong = await w.requests.get(other.request.id)
    assert wrong is not None and wrong.state is RequestState.UNREACHABLE
    assert wrong.ended_reason is EndReason.WRONG_NUMBER


async def test_phone_requests_need_no_open_page(world: World) -> None:
    w = world
    p = w.patients[0]
    await w.connect(p)
    view = await w.room.request_phone_callback(p, "+33612345678")
    await w.drop(p)
    await w.advance(w.settings.patient_grace * 3)
    assert await w.state(view.request.id) is RequestState.WAITING


async def test_degrade_to_phone_keeps_the_consultation_and_the_gp(world: World) -> None:
    """The ladder's last step: the same request, the same GP, no new queue entry, one R12
    count."""
    w = world
    p, g = w.patients[0], w.gps[0]
    view = await w.room.request_video(p)
    await w.room.gp_available(g)
    room = await w.room.accept(g, view.request.id)
    await w.room.call_connected(p, room.id)
    await w.room.degrade(p, room.id, "audio", "+33600000001")
    assert w.notes.of("call_degraded")[-1] == (room, p, "audio")
    await w.room.degrade(g, room.id, "phone", "+33600000001")
    assert w.notes.of("call_ended")[-1] == (room, EndReason.PHONE_CALLBACK)
    moved = await w.requests.get(view.request.id)
    assert moved is not None and moved.state is RequestState.IN_CALL
    assert moved.channel.value == "phone" and moved.room_id is None and moved.gp_id == g
    assert await w.live.queue_size() == 0
    task = await w.room.gp_view(g)
    assert task.status is GpStatus.IN_CALL and task.task is not None
    await w.room.phone_end(g, view.request.id)
    assert await w.requests.started_count(p, 2026) == 1
    events = [(f, t) for f, t, _, _ in await w.requests.history(view.request.id)]
    assert ("in_call", "in_call") in events  # the channel change is recorded


async def test_a_due_appointment_goes_ahead_of_a_request_less_than_30_minutes_overdue(
    world: World,
) -> None:
    """R7 with the dispatch credit: an immediate request 20 minutes past its deadline stays
    behind an appointment entering the queue; one 40 minutes past stays ahead."""
    w = world
    p1, p2, p3, _ = w.patients
    for p in w.patients:
        await w.connect(p)
    long_overdue = await w.room.request_video(p1)
    await w.advance(20 * 60)
    overdue = await w.room.request_video(p2)
    await w.advance(45 * 60)  # 20 min past the second deadline, 40 past the first's
    slot = w.clock.now() + timedelta(minutes=5)
    appointment = await w.room.admit_appointment(p3, slot)
    order = []
    for gp in w.gps[:3]:
        await w.room.gp_available(gp)
        offer = w.notes.last_gp(gp).offer
        assert offer is not None
        order.append(offer.id)
    assert order == [long_overdue.request.id, appointment.request.id, overdue.request.id]
