"""Consultation requests in SQL: the waiting room's RequestStore ("SQL decides")."""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from records.schema import consultation_requests as t
from records.schema import request_events
from waiting_room.errors import AlreadyActive, Conflict
from waiting_room.lifecycle import KEEP, QUEUED, TERMINAL, Transition
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

PARIS = ZoneInfo("Europe/Paris")
_PARTITION = 500


def _row_to_request(row: Any) -> ConsultationRequest:
    return ConsultationRequest(
        id=RequestId(row.id),
        patient_id=UserId(row.patient_id),
        kind=RequestKind(row.kind),
        channel=Channel(row.channel),
        state=RequestState(row.state),
        version=row.version,
        seq=row.seq,
        arrival_at=row.arrival_at,
        deadline=row.deadline,
        updated_at=row.updated_at,
        gp_id=UserId(row.gp_id) if row.gp_id else None,
        room_id=RoomId(row.room_id) if row.room_id else None,
        ended_reason=EndReason(row.ended_reason) if row.ended_reason else None,
        priority_credit=float(row.priority_credit or 0.0),
        phone_number=row.phone_number,
        phone_attempts=int(row.phone_attempts or 0),
        not_before=row.not_before,
    )


class _ActiveLookups:
    """Concurrent look-ups of patients' active requests, answered by one query per batch: a burst
    of connections (a reconnect storm) would otherwise queue one round trip each behind the
    others on a single-connection pool. A look-up always waits for a query that starts after it
    was asked (never an answer read before its call), so it sees every commit made before."""

    def __init__(self, engine: AsyncEngine, max_batch: int = 500) -> None:
        self._engine = engine
        self._max = max_batch
        self._waiting: dict[str, list[asyncio.Future[ConsultationRequest | None]]] = {}
        self._runner: asyncio.Task[None] | None = None

    async def get(self, patient_id: UserId) -> ConsultationRequest | None:
        future: asyncio.Future[ConsultationRequest | None] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiting.setdefault(patient_id, []).append(future)
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self._waiting:
            keys = list(self._waiting)[: self._max]
            batch = {k: self._waiting.pop(k) for k in keys}
            try:
                async with self._engine.connect() as conn:
                    rows = (
                        await conn.execute(select(t).where(t.c.active_patient_id.in_(keys)))
                    ).all()
                found = {row.active_patient_id: _row_to_request(row) for row in rows}
            except asyncio.CancelledError:
                for futures in [*batch.values(), *self._waiting.values()]:
                    for f in futures:
                        f.cancel()
                self._waiting.clear()
                raise
            except Exception as exc:
                for futures in batch.values():
                    for f in futures:
                        if not f.done():
                            f.set_exception(exc)
                continue
            for key, futures in batch.items():
                for f in futures:
                    if not f.done():
                        f.set_result(found.get(key))


class SqlRequestStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._active = _ActiveLookups(engine)

    async def create(
        self,
        patient_id: UserId,
        kind: RequestKind,
        channel: Channel,
        at: datetime,
        deadline: datetime,
        phone_number: str | None = None,
    ) -> ConsultationRequest:
        request_id = secrets.token_hex(16)
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    insert(t).values(
                        id=request_id,
                        patient_id=patient_id,
                        kind=kind.value,
                        channel=channel.value,
                        state=RequestState.REQUESTED.value,
                        version=1,
                        arrival_at=at,
                        deadline=deadline,
                        updated_at=at,
                        active_patient_id=patient_id,
                        phone_number=phone_number,
                    )
                )
                await conn.execute(
                    insert(request_events).values(
                        request_id=request_id,
                        from_state=None,
                        to_state="requested",
                        version=1,
                        at=at,
                        actor=f"patient:{patient_id}",
                    )
                )
                row = (await conn.execute(select(t).where(t.c.id == request_id))).one()
        except IntegrityError as exc:
            raise AlreadyActive("a consultation request is already under way") from exc
        return _row_to_request(row)

    async def apply(self, transition: Transition) -> ConsultationRequest:
        values: dict[str, Any] = {
            "state": transition.to_state.value,
            "version": transition.expected_version + 1,
            "updated_at": transition.at,
        }
        if transition.gp_id is not KEEP:
            values["gp_id"] = transition.gp_id
        if transition.room_id is not KEEP:
            values["room_id"] = transition.room_id
        if transition.ended_reason is not KEEP:
            values["ended_reason"] = transition.ended_reason
        if transition.channel is not KEEP:
            values["channel"] = transition.channel
        if transition.phone_number is not KEEP:
            values["phone_number"] = transition.phone_number
        if transition.phone_attempts is not KEEP:
            values["phone_attempts"] = transition.phone_attempts
        if transition.not_before is not KEEP:
            values["not_before"] = transition.not_before
        if transition.to_state in TERMINAL or transition.to_state is RequestState.WRAP_UP:
            # The patient may ask again once their call is over (the GP's wrap-up is not theirs).
            values["active_patient_id"] = None
        if transition.to_state is RequestState.ACCEPTED:
            values["accepted_at"] = func.coalesce(t.c.accepted_at, transition.at)
        if transition.to_state is RequestState.IN_CALL:
            values["started_at"] = func.coalesce(t.c.started_at, transition.at)
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(t)
                .where(
                    and_(
                        t.c.id == transition.request_id,
                        t.c.state == transition.from_state.value,
                        t.c.version == transition.expected_version,
                    )
                )
                .values(**values)
            )
            if result.rowcount != 1:
                raise Conflict("the request changed meanwhile")
            await conn.execute(
                insert(request_events).values(
                    request_id=transition.request_id,
                    from_state=transition.from_state.value,
                    to_state=transition.to_state.value,
                    version=transition.expected_version + 1,
                    at=transition.at,
                    actor=transition.actor,
                )
            )
            row = (await conn.execute(select(t).where(t.c.id == transition.request_id))).one()
        return _row_to_request(row)

    async def get(self, request_id: RequestId) -> ConsultationRequest | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(t).where(t.c.id == request_id))).one_or_none()
        return None if row is None else _row_to_request(row)

    async def active_for_patient(self, patient_id: UserId) -> ConsultationRequest | None:
        """The patient's request under way (batched with concurrent look-ups)."""
        return await self._active.get(patient_id)

    async def queued(self) -> list[ConsultationRequest]:
        """Every queued request, oldest first. Read and converted in partitions, giving the event
        loop back between them: the periodic reconciliation reads the whole line (20,000 rows
        took a third of a second in one piece)."""
        out: list[ConsultationRequest] = []
        async with self._engine.connect() as conn:
            result = await conn.stream(
                select(t)
                .where(t.c.state.in_([s.value for s in QUEUED]))
                .order_by(t.c.arrival_at, t.c.seq)
            )
            async for rows in result.partitions(_PARTITION):
                out.extend(_row_to_request(r) for r in rows)
                await asyncio.sleep(0)
        return out

    async def _in_states(self, states: list[RequestState]) -> list[ConsultationRequest]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(t).where(t.c.state.in_([s.value for s in states])).order_by(t.c.seq)
                )
            ).all()
        return [_row_to_request(r) for r in rows]

    async def in_rooms(self) -> list[ConsultationRequest]:
        return await self._in_states([RequestState.ACCEPTED, RequestState.IN_CALL])

    async def in_wrap_up(self) -> list[ConsultationRequest]:
        return await self._in_states([RequestState.WRAP_UP])

    async def started_count(self, patient_id: UserId, year: int) -> int:
        start = datetime(year, 1, 1, tzinfo=PARIS)
        end = datetime(year + 1, 1, 1, tzinfo=PARIS)
        async with self._engine.connect() as conn:
            count = (
                await conn.execute(
                    select(func.count())
                    .select_from(t)
                    .where(
                        t.c.patient_id == patient_id,
                        t.c.started_at.is_not(None),
                        t.c.started_at >= start,
                        t.c.started_at < end,
                    )
                )
            ).scalar_one()
        return int(count)

    async def history(self, request_id: RequestId) -> list[tuple[str | None, str, datetime, str]]:
        """Every transition of one request, oldest first: (from, to, at, actor)."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(request_events)
                    .where(request_events.c.request_id == request_id)
                    .order_by(request_events.c.id)
                )
            ).all()
        return [(r.from_state, r.to_state, r.at, r.actor) for r in rows]
