"""Figures for the supervisor board, computed in SQL (statistics carry no health data, R29)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from records.schema import consultation_requests as t


class SqlReports:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def served_within_deadline(self, start: datetime, end: datetime) -> tuple[int, int]:
        """(on time, total) for the requests whose deadline fell in [start, end): on time when a
        GP accepted them by their deadline (R6; appointments: by their slot). Requests the
        patient cancelled or left before their deadline are left out."""
        left_early = and_(t.c.state.in_(("cancelled", "abandoned")), t.c.updated_at < t.c.deadline)
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        func.count(),
                        func.coalesce(
                            func.sum(
                                case(
                                    (
                                        and_(
                                            t.c.accepted_at.is_not(None),
                                            t.c.accepted_at <= t.c.deadline,
                                        ),
                                        1,
                                    ),
                                    else_=0,
                                )
                            ),
                            0,
                        ),
                    ).where(
                        t.c.deadline >= start,
                        t.c.deadline < end,
                        or_(t.c.accepted_at.is_not(None), ~left_early),
                    )
                )
            ).one()
        return int(row[1]), int(row[0])

    async def arrivals_since(self, since: datetime) -> int:
        """Immediate requests that arrived since ``since`` (the arrival rate for staffing)."""
        async with self._engine.connect() as conn:
            count = (
                await conn.execute(
                    select(func.count()).where(t.c.kind == "immediate", t.c.arrival_at >= since)
                )
            ).scalar_one()
        return int(count)
