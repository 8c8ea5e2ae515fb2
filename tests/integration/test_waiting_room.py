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
from records.migrations import migrate
from records.requests import SqlRequestStore
from records.schema import consents
from tests.fakes import RecordingNotifier
from tests.support.processes import RedisServer
from waiting_room import redis_store
from waiting_room.clock import FakeClock
from waiting_room.errors import (
    AlreadyActive,
    ConsentMissing,
    IllegalTransition,
    InCall,
    NotInRoom,
    OfferNotFound,
    QuotaExceeded,
)
from waiting_room.model import EndReason, GpStatus, RequestState, Role, UserId
from waiting_room.service import WaitingRoom


@dataclass
class World:
    room: WaitingRoom
    requests: SqlRequestStore
    accounts: Accounts
    live: redis_store.RedisLiveStore
    notes: RecordingNotifier
    clock: FakeClock
    patients: list[UserId]
    gps: list[UserId]


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
    for i in range(6):
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
    notes = RecordingNotifier()
    requests = SqlRequestStore(engine)
    room = WaitingRoom(requests, live, accounts, notes, clock)
    await room.rebuild()
    yield World(
        room, requests, accounts, live, notes, clock, people[Role.PATIENT], people[Role.PHYSICIAN]
    )
    await live.close()
    await engine.dispose()


async def test_full_consultation_and_its_history(world: World) -> None:
    w = world
    p, g = w.patients[0], w.gps[0]
    view = await w.room.request_video(p)
    assert (view.request.state, view.position, view.queue_size) == (RequestState.WAITING, 1, 1)
    assert view.request.deadline == view.request.arrival_at + timedelta(minutes=30)  # R6
    w.clock.advance(12.5)
    await w.room.gp_available(g)
    assert w.notes.last_gp(g).status is GpStatus.OFFERED
    assert w.notes.last_patient(p).request.state is RequestState.OFFERED
    w.clock.advance(3)
    room = await w.room.accept(g, view.request.id)
    assert (room.patient_id, room.gp_id) == (p, g)
    assert w.notes.of("call_started") == [room]
    await w.room.call_connected(p, room.id)
    await w.room.call_connected(g, room.id)  # the second report changes nothing
    await w.room.hangup(p, room.id)
    assert w.notes.of("call_ended") == [(room, EndReason.HANGUP_PATIENT)]
    final = await w.requests.get(view.request.id)
    assert final is not None and final.state is RequestState.DONE
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
    assert history[-1][3] == f"user:{p}"
    assert (await w.room.gp_view(g)).status is GpStatus.UNAVAILABLE
    with pytest.raises(NotInRoom):
        await w.room.hangup(g, room.id)


async def test_oldest_first_and_longest_idle_gp_first(world: World) -> None:
    w = world
    views = []
    for patient in w.patients[:3]:
        views.append(await w.room.request_video(patient))
        w.clock.advance(1)
    assert [v.position for v in views] == [1, 2, 3]
    g1, g2 = w.gps
    await w.room.gp_available(g2)  # idle since t
    w.clock.advance(5)
    assert w.notes.last_gp(g2).offer is not None
    assert w.notes.last_gp(g2).offer.id == views[0].request.id  # type: ignore[union-attr]
    await w.room.gp_available(g1)
    assert w.notes.last_gp(g1).offer.id == views[1].request.id  # type: ignore[union-attr]
    # The third patient is first in line now.
    assert w.notes.last_patient(w.patients[2]).position == 1
    stats = await w.room.queue_stats()
    assert stats.size == 1 and stats.oldest_wait_seconds == pytest.approx(6.0)


async def test_decline_and_gp_disconnect_return_the_offer_to_its_place(world: World) -> None:
    w = world
    first = await w.room.request_video(w.patients[0])
    await w.room.request_video(w.patients[1])
    g1, g2 = w.gps
    await w.room.gp_available(g1)
    with pytest.raises(OfferNotFound):
        await w.room.accept(g2, first.request.id)
    await w.room.decline(g1, first.request.id)
    assert w.notes.last_gp(g1).status is GpStatus.UNAVAILABLE
    back = await w.requests.get(first.request.id)
    assert back is not None and back.state is RequestState.WAITING and back.gp_id is None
    assert (await w.room.patient_view(back)).position == 1
    await w.room.gp_available(g2)
    assert w.notes.last_gp(g2).offer.id == first.request.id  # type: ignore[union-attr]
    await w.room.gp_disconnected(g2)
    again = await w.requests.get(first.request.id)
    assert again is not None and again.state is RequestState.WAITING
    assert (await w.room.patient_view(again)).position == 1
    with pytest.raises(OfferNotFound):
        await w.room.decline(g2, first.request.id)


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
    assert (await w.room.gp_view(w.gps[0])).status is GpStatus.UNAVAILABLE


async def test_gp_in_call_cannot_change_availability(world: World) -> None:
    w = world
    view = await w.room.request_video(w.patients[0])
    await w.room.gp_available(w.gps[0])
    await w.room.accept(w.gps[0], view.request.id)
    for change in (w.room.gp_available, w.room.gp_unavailable):
        with pytest.raises(InCall):
            await change(w.gps[0])
    await w.room.gp_disconnected(w.gps[0])  # keeps the call
    assert (await w.room.gp_view(w.gps[0])).status is GpStatus.IN_CALL


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


async def test_rebuild_restores_order_and_returns_offers_to_waiting(world: World) -> None:
    w = world
    views = []
    for patient in w.patients[:3]:
        views.append(await w.room.request_video(patient))
        w.clock.advance(0.001)
    await w.room.gp_available(w.gps[0])  # the first request is now offered
    assert await w.room.rebuild() == 3
    first = await w.requests.get(views[0].request.id)
    assert first is not None and first.state is RequestState.WAITING
    positions = [(await w.room.patient_view(v.request)).position for v in views]
    assert positions == [1, 2, 3]
    entries = await w.live.queue_entries()
    assert [e.arrival_ts for e in entries] == [v.request.arrival_at.timestamp() for v in views]


async def test_a_request_is_offered_at_once_to_an_available_gp(world: World) -> None:
    w = world
    await w.room.gp_available(w.gps[0])
    view = await w.room.request_video(w.patients[0])
    assert view.request.state is RequestState.OFFERED and view.position == 1
    assert w.notes.last_gp(w.gps[0]).offer.id == view.request.id  # type: ignore[union-attr]
