"""The feed's throttle: 10,000 waiting patients, a queue that moves every second, and a bounded
number of messages (each patient at most once per interval, only on change)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from signaling.feed import Feed, FeedSettings
from signaling.handlers import LocalSessions, Session, SocketHandlers
from waiting_room.model import Role, UserId
from waiting_room.sla import Forecast
from waiting_room.store import QueuedEntry

N = 10_000


class RecordingEmitter:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any, str | None, bool]] = []

    async def emit(
        self, event: str, data: Any = None, to: str | None = None, ignore_queue: bool = False
    ) -> None:
        self.sent.append((event, data, to, ignore_queue))


class Handlers:
    at_risk: Any = None


def _feed(emitter: RecordingEmitter, sessions: LocalSessions, now: list[float]) -> Feed:
    unused = cast(Any, None)
    return Feed(
        emitter,
        unused,
        unused,
        unused,
        unused,
        unused,
        unused,
        sessions,
        cast(SocketHandlers, Handlers()),
        unused,
        settings=FeedSettings(),
        monotonic=lambda: now[0],
    )


def _queue(first: int) -> list[QueuedEntry]:
    """Patients ``first``..N-1 waiting, in order."""
    return [
        QueuedEntry(f"{i:012d}:{i:032x}", float(i), UserId(f"p{i}"), 1000.0 + i, 2800.0 + i)
        for i in range(first, N)
    ]


def _forecasts(queue: list[QueuedEntry]) -> dict[str, Forecast]:
    return {
        e.member: Forecast(2000.0 + 60 * i, 2000.0 + 90 * i, 2000.0 + 120 * i, False)
        for i, e in enumerate(queue)
    }


async def test_pushes_are_bounded_per_patient_and_only_on_change() -> None:
    emitter = RecordingEmitter()
    sessions = LocalSessions()
    for i in range(N):
        sessions.add(Session(f"sid{i}", UserId(f"p{i}"), Role.PATIENT))
        sessions.mark_ready(f"sid{i}")
    now = [0.0]
    feed = _feed(emitter, sessions, now)

    queue = _queue(0)
    await feed._push_places(queue, _forecasts(queue), 2000.0)
    assert len(emitter.sent) == N  # everyone gets their place once
    event, payload, to, local = emitter.sent[0]
    assert (event, to, local) == ("patient:state", "sid0", True)
    assert payload["request"]["position"] == 1 and payload["request"]["eta"] is not None

    # Nothing changed: nothing is sent.
    emitter.sent.clear()
    now[0] = 10.0
    await feed._push_places(queue, _forecasts(queue), 2000.0)
    assert emitter.sent == []

    # The head is served every second for 4 seconds: every place changes each second, but each
    # patient hears at most once per interval.
    for second in range(1, 5):
        now[0] = 10.0 + second
        queue = _queue(second)
        await feed._push_places(queue, _forecasts(queue), 2000.0)
    per_patient: dict[str, int] = {}
    for _, _, to, _ in emitter.sent:
        assert to is not None
        per_patient[to] = per_patient.get(to, 0) + 1
    assert max(per_patient.values()) == 1
    assert len(emitter.sent) <= N

    # After the interval, the latest place goes out (within 5 s of the change).
    emitter.sent.clear()
    now[0] = 11.0 + FeedSettings().patient_min_interval
    await feed._push_places(queue, _forecasts(queue), 2000.0)
    assert emitter.sent
    latest = {to: data["request"]["position"] for _, data, to, _ in emitter.sent}
    assert latest["sid4"] == 1


async def test_patients_not_connected_here_get_nothing() -> None:
    emitter = RecordingEmitter()
    sessions = LocalSessions()
    sessions.add(Session("only", UserId("p3"), Role.PATIENT))
    sessions.mark_ready("only")
    feed = _feed(emitter, sessions, [0.0])
    await feed._push_places(_queue(0), None, 2000.0)
    assert [
        (to, d["request"]["position"], d["request"]["eta"]) for _, d, to, _ in emitter.sent
    ] == [("only", 4, None)]


async def test_offered_requests_keep_their_place_in_the_line_and_are_not_pushed() -> None:
    emitter = RecordingEmitter()
    sessions = LocalSessions()
    for i in range(3):
        sessions.add(Session(f"sid{i}", UserId(f"p{i}"), Role.PATIENT))
        sessions.mark_ready(f"sid{i}")
    feed = _feed(emitter, sessions, [0.0])
    line = [
        QueuedEntry(f"{i:012d}:{i:032x}", float(i), UserId(f"p{i}"), 1.0, 2.0, offered=(i == 0))
        for i in range(3)
    ]
    await feed._push_places(line, None, 2000.0)
    positions = {to: d["request"]["position"] for _, d, to, _ in emitter.sent}
    assert positions == {"sid1": 2, "sid2": 3}
    assert all(d["request"]["queue_size"] == 3 for _, d, _, _ in emitter.sent)


async def test_a_long_line_stretches_the_interval_but_not_for_its_head() -> None:
    """10,000 queued patients here and a budget of 250 pushes a second: each hears every 40 s,
    except the first 20 places (every 4 s); the push rate stays within the budget."""
    emitter = RecordingEmitter()
    sessions = LocalSessions()
    for i in range(N):
        sessions.add(Session(f"sid{i}", UserId(f"p{i}"), Role.PATIENT))
        sessions.mark_ready(f"sid{i}")
    now = [0.0]
    feed = _feed(emitter, sessions, now)
    settings = FeedSettings()
    interval = N / settings.place_pushes_per_second
    assert interval == 40.0

    await feed._push_places(_queue(0), None, 2000.0)  # everyone once
    emitter.sent.clear()
    sent_per_second = []
    for second in range(1, 61):  # the head is served every second for a minute
        now[0] = float(second)
        before = len(emitter.sent)
        await feed._push_places(_queue(second), None, 2000.0)
        sent_per_second.append(len(emitter.sent) - before)
    by_patient: dict[str, list[int]] = {}
    for _, data, to, _ in emitter.sent:
        assert to is not None
        by_patient.setdefault(to, []).append(data["request"]["position"])
    # Place 71 at first, moving up a place a second: heard once at 40 s (place 31), then every
    # 4 seconds once in the head of the line.
    assert by_patient["sid70"] == [31, 20, 16, 12]
    # ...the back of the line once in the minute, after 40 s.
    assert len(by_patient["sid9000"]) == 1
    # The budget holds over the minute (the one burst is when the first interval ends).
    assert sum(sent_per_second) <= 60 * settings.place_pushes_per_second + N / 10


async def test_no_place_push_before_the_connect_packet() -> None:
    """A connection whose connect handler is still running (no connect packet yet) gets no
    place push: a client must not receive events before it is connected."""
    emitter = RecordingEmitter()
    sessions = LocalSessions()
    sessions.add(Session("early", UserId("p0"), Role.PATIENT))
    sessions.add(Session("ready", UserId("p1"), Role.PATIENT))
    sessions.mark_ready("ready")
    feed = _feed(emitter, sessions, [0.0])
    queue = _queue(0)
    await feed._push_places(queue, _forecasts(queue), 2000.0)
    assert [to for _, _, to, _ in emitter.sent] == ["ready"]
    sessions.mark_ready("early")
    await feed._push_places(queue, _forecasts(queue), 2000.0)
    assert [to for _, _, to, _ in emitter.sent] == ["ready", "early"]
    assert sessions.remove("early") is not None
    assert sessions.ready_sids_of(UserId("p0")) == frozenset()


async def test_a_burst_of_place_pushes_lets_the_event_loop_run_between_batches() -> None:
    """10,000 patients due in one tick: other tasks run while the pushes go out."""
    emitter = RecordingEmitter()
    sessions = LocalSessions()
    for i in range(N):
        sessions.add(Session(f"sid{i}", UserId(f"p{i}"), Role.PATIENT))
        sessions.mark_ready(f"sid{i}")
    feed = _feed(emitter, sessions, [0.0])
    seen: list[int] = []

    async def other() -> None:
        while len(emitter.sent) < N:
            seen.append(len(emitter.sent))
            await asyncio.sleep(0)

    watcher = asyncio.create_task(other())
    await feed._push_places(_queue(0), None, 2000.0)
    await watcher
    assert len(emitter.sent) == N
    assert len([n for n in seen if 0 < n < N]) >= N // 400  # ran between the batches
