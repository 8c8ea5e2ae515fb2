"""What a connection and the feed read, under a long line (issue 6): patients' active requests
looked up in batches, and the live line read from the entries each node has already parsed.
Behaviour only (the same answers as one query or one full read each), not speed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from loadtests.capacity.population import seed_population
from records.db import create_engine, default_url
from records.requests import SqlRequestStore
from waiting_room import redis_store
from waiting_room.lifecycle import plan_transition
from waiting_room.model import RequestState, UserId
from waiting_room.store import QueuedEntry


async def test_concurrent_lookups_of_active_requests_answer_each_patient(tmp_path: Path) -> None:
    pop = await seed_population(tmp_path, 60, 2, 0)
    engine = create_engine(default_url(tmp_path))
    store = SqlRequestStore(engine)
    try:
        asked = [UserId(p) for p in pop.waiting] + [UserId(p) for p in pop.patients]
        asked += [UserId(pop.waiting[0])]  # the same patient twice in one batch
        found = await asyncio.gather(*(store.active_for_patient(p) for p in asked))
        for patient, request in zip(asked, found, strict=True):
            if patient in pop.waiting:
                assert request is not None and request.patient_id == patient
                assert request.state is RequestState.WAITING
            else:
                assert request is None  # no request under way
        # A look-up made after a commit sees it (never an answer read before it was asked).
        first = found[0]
        assert first is not None
        ended = plan_transition(first, RequestState.CANCELLED, datetime.now(UTC), "test")
        await store.apply(ended)
        again = await asyncio.gather(
            store.active_for_patient(UserId(pop.waiting[0])),
            store.active_for_patient(UserId(pop.waiting[1])),
        )
        assert again[0] is None and again[1] is not None
        # The whole line, read in partitions, in arrival order.
        queued = await store.queued()
        assert [r.patient_id for r in queued] == pop.waiting[1:]
    finally:
        await engine.dispose()


def _entry(i: int, offset: float = 0.0) -> QueuedEntry:
    return QueuedEntry(
        f"{i:012d}:{i:032x}", 1000.0 + i + offset, UserId(f"p{i}"), 10.0 + i, 1000.0 + i
    )


async def test_the_line_read_from_parsed_entries_follows_every_change() -> None:
    live = redis_store.RedisLiveStore(redis_store.connect(None))
    other = redis_store.RedisLiveStore(live._r)  # another node: nothing parsed yet
    try:
        entries = [_entry(i) for i in range(600)]  # long enough to parse off the event loop
        for e in entries:
            await live.enqueue(e)
        line = await live.queue_entries()
        assert line == entries
        # Changes after the entries were parsed: one leaves, one arrives ahead of everyone,
        # the head is offered (still in the line, flagged).
        await live.dequeue(entries[5].member)
        early = _entry(9999, offset=-20000.0)
        await live.enqueue(early)
        await live.set_idle(UserId("gp"), 1.0)
        picked = await live.pick()
        assert picked is not None and picked.member == early.member
        expected = [early, *entries[:5], *entries[6:]]
        for node in (live, other):
            line = await node.queue_entries()
            assert [e.member for e in line] == [e.member for e in expected]
            assert [e.offered for e in line[:2]] == [True, False]
            assert line[1:] == expected[1:]
        await live.enqueue(early)  # the offer returns: waiting again at its place
        assert (await live.queue_entries())[0] == early
    finally:
        await live.close()
