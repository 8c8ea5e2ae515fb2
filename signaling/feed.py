"""The per-node loop: heartbeat, recovery when Redis comes back empty, due timers, and the live
feedback (places and estimated waits to this node's queued patients, queue statistics to its
physicians, SLA alerts) throttled so that a long queue causes no message storm."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from records.duty import SqlDutyStore
from signaling import events as ev
from signaling.board import BoardBuilder, board_changed
from signaling.handlers import LocalSessions, SocketHandlers
from signaling.metrics import Metrics
from signaling.notifier import PHYSICIANS_ROOM, SUPERVISORS_ROOM, Emitter, request_payload
from waiting_room import dispatch
from waiting_room.appointments import AppointmentBook
from waiting_room.clock import Clock
from waiting_room.model import GpStatus, Role, UserId
from waiting_room.redis_store import RedisLiveStore
from waiting_room.service import WaitingRoom
from waiting_room.sla import Forecast, GpLoad, ServiceTimes, forecast
from waiting_room.store import QueuedEntry

logger = logging.getLogger(__name__)

MAX_LISTED_ALERTS = 20
YIELD_EVERY = 200
"""Place pushes between two returns to the event loop."""
HEARTBEAT_TTL_MS = 5_000
"""A node whose heartbeat is older than this is dead: its connections no longer count."""


def _utc(ts: float | None) -> datetime:
    assert ts is not None
    return datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True, slots=True)
class FeedSettings:
    tick_seconds: float = 1.0
    """How often due timers are handled and the feed recomputed (real time)."""
    patient_min_interval: float = 4.0
    """At most one place/ETA push per patient this often (real time): with the tick, a change
    reaches the patient within 5 seconds while the line is short."""
    place_pushes_per_second: float = 250.0
    """A node's budget of place/ETA pushes: with more queued patients connected here than
    ``patient_min_interval`` x this budget (1,000), each patient's interval stretches to
    (connected queued patients / budget) seconds, so 20,000 waiting patients cost 250 messages
    a second instead of 5,000, and the relay of calls keeps the node. The head of the line is
    never slowed: see ``head_places``."""
    head_places: int = 20
    """The first places of the line always hear within ``patient_min_interval``: they are about
    to be called, and few."""
    stats_every: float = 10.0
    """Queue statistics go out on change, and at least this often (real time)."""
    timers_per_tick: int = 500
    reconcile_every: float = 30.0
    """How often (real time) one node checks the live queue against SQL."""


class Feed:
    def __init__(
        self,
        emitter: Emitter,
        room: WaitingRoom,
        live: RedisLiveStore,
        duty: SqlDutyStore,
        clock: Clock,
        service: ServiceTimes,
        metrics: Metrics,
        sessions: LocalSessions,
        handlers: SocketHandlers,
        recover: Callable[[], Awaitable[str]],
        book: AppointmentBook | None = None,
        board: BoardBuilder | None = None,
        settings: FeedSettings | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        """Real time for the throttles (never the scaled business clock)."""
        self._emit = emitter
        self._room = room
        self._live = live
        self._duty = duty
        self._clock = clock
        self._service = service
        self._metrics = metrics
        self._sessions = sessions
        self._handlers = handlers
        self._recover = recover
        self._book = book
        self._board = board
        self._last_board: tuple[dict[str, Any], float] | None = None
        self.settings = settings or FeedSettings()
        self.epoch: str | None = None
        self.at_risk = 0
        self._sent: dict[UserId, tuple[tuple[Any, ...], float]] = {}
        self._alerted: set[str] = set()
        self._last_stats: tuple[tuple[int, int], float] | None = None
        self._last_reconcile = monotonic()
        handlers.at_risk = lambda: self.at_risk
        handlers.board = self.board_now

    # -- loops --------------------------------------------------------------------------------
    async def heartbeat_forever(self) -> None:
        """Separate from the tick so that a slow tick never makes this node look dead."""
        while True:
            try:
                await self._live.heartbeat(HEARTBEAT_TTL_MS)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("heartbeat failed")
            await asyncio.sleep(HEARTBEAT_TTL_MS / 5000)

    async def run_forever(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("feed tick failed")
            elapsed = time.monotonic() - started
            self._metrics.feed_tick.observe(elapsed)
            await asyncio.sleep(max(self.settings.tick_seconds - elapsed, 0.05))

    async def tick(self) -> None:
        await self.check_epoch()
        if self._book is not None:
            await self._book.admit_due()  # R7: appointments enter the queue at their time
        now = self._clock.now().timestamp()
        for timer in await self._live.claim_due(now, self.settings.timers_per_tick):
            try:
                await self._room.on_timer(timer)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("timer %s failed", timer)
        await self.publish()
        if self._monotonic() - self._last_reconcile >= self.settings.reconcile_every:
            self._last_reconcile = self._monotonic()
            lock_ms = int(self.settings.reconcile_every * 1000 * 0.8)
            if await self._live.try_lock("reconcile", lock_ms):
                await self._room.reconcile()

    async def check_epoch(self) -> None:
        """Redis came back empty (no build marker): rebuild from SQL; another node rebuilt it
        (a new marker): register this node's connections again."""
        epoch = await self._live.built_epoch()
        if epoch is None:
            logger.warning("the live state is gone (Redis restarted empty?): recovering")
            epoch = await self._recover()
        if epoch != self.epoch:
            previous, self.epoch = self.epoch, epoch
            if previous is not None:
                await self.reannounce()

    async def reannounce(self) -> None:
        for session in self._sessions.all():
            try:
                await self._handlers.announce(session)
            except Exception:
                logger.exception("re-announcing sid %s failed", session.sid)
        self._sent.clear()

    # -- feedback -------------------------------------------------------------------------------
    async def publish(self) -> None:
        line = await self._live.queue_entries()
        entries = [e for e in line if not e.offered]  # offered ones are about to start
        gps = await self._live.all_gps()
        now = self._clock.now().timestamp()
        loads = [GpLoad(GpStatus(g.status), g.since, g.until) for g in gps.values()]
        deadlines = [e.deadline_ts for e in entries]
        if len(deadlines) < 500:
            predicted = forecast(deadlines, loads, now, self._service)
        else:  # pure and CPU-bound: off the event loop for a long line
            predicted = await asyncio.to_thread(forecast, deadlines, loads, now, self._service)
        at_risk_indices = [
            i for i, e in enumerate(entries) if predicted is None or predicted[i].at_risk
        ]
        self.at_risk = len(at_risk_indices)
        by_member = (
            None
            if predicted is None
            else {e.member: f for e, f in zip(entries, predicted, strict=True)}
        )
        await self._push_places(line, by_member, now)
        await self._raise_alerts(entries, predicted, at_risk_indices, now)
        await self._push_stats(len(line), now - min((e.arrival_ts for e in line), default=now))
        self._metrics.queue_length.set(len(line))
        self._metrics.oldest_wait.set(max((now - e.arrival_ts for e in line), default=0.0))
        self._metrics.at_risk.set(self.at_risk)
        await self._push_board(line, gps)
        for status in GpStatus:
            self._metrics.gps.labels(status.value).set(
                sum(1 for g in gps.values() if g.status == status)
            )

    async def _push_places(
        self, line: list[QueuedEntry], predicted: Mapping[str, Forecast] | None, now: float
    ) -> None:
        """Places in the whole line (offered requests included); estimated waits of the waiting
        ones. Offered patients were told at once and are not pushed here."""
        real_now = self._monotonic()
        size = len(line)
        queued_here: set[UserId] = set()
        pushed = 0
        # The interval for the rest of the line, from the last tick's count of queued patients
        # connected here (a long line stretches it; the budget of pushes holds).
        interval = max(
            self.settings.patient_min_interval,
            len(self._sent) / self.settings.place_pushes_per_second,
        )
        for index, entry in enumerate(line):
            if entry.offered:
                continue
            sids = self._sessions.ready_sids_of(entry.patient_id)
            if not sids:
                continue
            queued_here.add(entry.patient_id)
            previous = self._sent.get(entry.patient_id)
            wait = (
                self.settings.patient_min_interval
                if index < self.settings.head_places
                else interval
            )
            if previous is not None and real_now - previous[1] < wait:
                continue  # not due: the payload is not even built
            eta = None
            if predicted is not None and entry.member in predicted:
                forecast_of = predicted[entry.member]
                eta = (forecast_of.start_low - now, forecast_of.start_high - now)
            payload = request_payload(
                dispatch.request_of_member(entry.member),
                "waiting",
                index + 1,
                size,
                entry.arrival_ts,
                entry.deadline_ts,
                eta,
            )
            shown = (index + 1, size, str(payload["request"]["eta"]))
            if previous is not None and previous[0] == shown:
                continue
            self._sent[entry.patient_id] = (shown, real_now)
            for sid in sids:
                await self._emit.emit(ev.PATIENT_STATE, payload, to=sid, ignore_queue=True)
            pushed += 1
            if pushed % YIELD_EVERY == 0:
                # Patients who connected together fall due together: thousands of pushes in
                # one tick would hold the event loop for a second. Let the rest run meanwhile.
                await asyncio.sleep(0)
        for gone in set(self._sent) - queued_here:
            del self._sent[gone]

    async def _raise_alerts(
        self,
        entries: list[Any],
        predicted: list[Forecast] | None,
        at_risk: list[int],
        now: float,
    ) -> None:
        """R6: each request predicted to miss its deadline raises one alert, recorded in SQL, in
        one batch per tick; the node whose insert wins tells the physicians, in one message."""
        current = {e.member for e in entries}
        self._alerted &= current
        candidates = []
        starts: dict[str, float | None] = {}
        for index in at_risk:
            entry = entries[index]
            if entry.member in self._alerted:
                continue
            self._alerted.add(entry.member)
            if now >= entry.deadline_ts:
                continue  # already late: a breach, not a prediction
            start = predicted[index].start_mid if predicted is not None else None
            request_id = dispatch.request_of_member(entry.member)
            starts[request_id] = start
            candidates.append(
                (
                    request_id,
                    _utc(now),
                    _utc(max(start or entry.deadline_ts, entry.deadline_ts)),
                    _utc(entry.deadline_ts),
                )
            )
        recorded = await self._duty.record_alerts(candidates)
        if not recorded:
            return
        self._metrics.predicted_breaches.inc(len(recorded))
        logger.warning("%d request(s) predicted to miss their deadline", len(recorded))
        deadlines = {c[0]: c[3] for c in candidates}
        listed = [
            {
                "request_id": r,
                "deadline": deadlines[r].isoformat(),
                "predicted_start": None if starts[r] is None else _utc(starts[r]).isoformat(),
            }
            for r in recorded[:MAX_LISTED_ALERTS]
        ]
        await self._emit.emit(
            ev.SLA_ALERT,
            {"alerts": listed, "count": len(recorded), "queue_size": len(entries)},
            to=PHYSICIANS_ROOM,
        )

    async def _push_stats(self, size: int, oldest: float) -> None:
        real_now = self._monotonic()
        shown = (size, self.at_risk)
        if self._last_stats is not None:
            last_shown, last_at = self._last_stats
            if last_shown == shown and real_now - last_at < self.settings.stats_every:
                return
        if not any(s.role is Role.PHYSICIAN for s in self._sessions.all()):
            return
        self._last_stats = (shown, real_now)
        await self._emit.emit(
            ev.QUEUE_STATS,
            {
                "size": size,
                "oldest_wait_seconds": round(max(oldest, 0.0), 1),
                "at_risk": self.at_risk,
            },
            to=PHYSICIANS_ROOM,
            ignore_queue=True,  # each node tells its own physicians
        )

    async def board_now(self) -> dict[str, Any]:
        """The supervisor board as of now (a supervisor's page just connected)."""
        assert self._board is not None
        line = await self._live.queue_entries()
        return await self._board.build(line, await self._live.all_gps(), self.at_risk)

    async def _push_board(self, line: list[QueuedEntry], gps: dict[UserId, Any]) -> None:
        """`board:state` to this node's supervisors, every 2 seconds when it changed, and at
        least every 10 seconds."""
        if self._board is None or not any(s.role is Role.SUPERVISOR for s in self._sessions.all()):
            return
        real_now = self._monotonic()
        if self._last_board is not None and real_now - self._last_board[1] < 2.0:
            return
        board = await self._board.build(line, gps, self.at_risk)
        previous = self._last_board[0] if self._last_board is not None else None
        if (
            not board_changed(previous, board)
            and self._last_board is not None
            and real_now - self._last_board[1] < self.settings.stats_every
        ):
            return
        self._last_board = (board, real_now)
        await self._emit.emit(ev.BOARD_STATE, board, to=SUPERVISORS_ROOM, ignore_queue=True)
