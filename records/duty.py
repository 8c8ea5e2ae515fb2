"""GP availability intent and SLA alerts in SQL (the waiting room's DutyStore)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from records.schema import physician_duty, sla_alerts
from waiting_room.model import RequestId, UserId


class SqlDutyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def set_intent(self, gp_id: UserId, status: str, at: datetime) -> None:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(physician_duty)
                .where(physician_duty.c.gp_id == gp_id)
                .values(status=status, since=at)
            )
            if result.rowcount == 0:
                await conn.execute(
                    insert(physician_duty).values(gp_id=gp_id, status=status, since=at)
                )

    async def intents(self) -> dict[UserId, tuple[str, datetime]]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(physician_duty))).all()
        return {UserId(r.gp_id): (r.status, r.since) for r in rows}

    async def record_alerts(
        self, alerts: list[tuple[RequestId, datetime, datetime, datetime]]
    ) -> list[RequestId]:
        """Record predicted breaches, once per request; returns those newly recorded (another
        node may have recorded some first)."""
        if not alerts:
            return []
        ids = [a[0] for a in alerts]
        async with self._engine.connect() as conn:
            known = {
                r.request_id
                for r in (
                    await conn.execute(
                        select(sla_alerts.c.request_id).where(sla_alerts.c.request_id.in_(ids))
                    )
                ).all()
            }
        fresh = [a for a in alerts if a[0] not in known]
        rows = [
            {"request_id": r, "raised_at": at, "predicted_start": start, "deadline": deadline}
            for r, at, start, deadline in fresh
        ]
        if not rows:
            return []
        try:
            async with self._engine.begin() as conn:
                await conn.execute(insert(sla_alerts), rows)
            return [a[0] for a in fresh]
        except IntegrityError:
            pass  # a race with another node: decide row by row
        recorded = []
        for request_id, row in zip((a[0] for a in fresh), rows, strict=True):
            try:
                async with self._engine.begin() as conn:
                    await conn.execute(insert(sla_alerts).values(**row))
                recorded.append(request_id)
            except IntegrityError:
                continue
        return recorded

    async def alerts(self) -> list[tuple[RequestId, datetime, datetime, datetime]]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(sla_alerts).order_by(sla_alerts.c.raised_at))).all()
        return [(RequestId(r.request_id), r.raised_at, r.predicted_start, r.deadline) for r in rows]
