"""The supervisor board's state (`board:state`): live queue and GPs, the share served within 30
minutes (R6), breaches and predicted breaches, appointments against the roster, staffing hint."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from records.duty import SqlDutyStore
from records.reports import SqlReports
from waiting_room.appointments import AppointmentBook
from waiting_room.clock import Clock
from waiting_room.model import GpStatus
from waiting_room.schedule import PARIS
from waiting_room.sla import ServiceTimes
from waiting_room.staffing import gps_needed
from waiting_room.store import GpLive, QueuedEntry

ON_DUTY = (GpStatus.AVAILABLE, GpStatus.OFFERED, GpStatus.IN_CALL, GpStatus.WRAP_UP)


def _window(on_time: int, total: int) -> dict[str, Any]:
    return {
        "on_time": on_time,
        "total": total,
        "share": round(on_time / total, 4) if total else None,
    }


class BoardBuilder:
    def __init__(
        self,
        reports: SqlReports,
        duty: SqlDutyStore,
        book: AppointmentBook,
        clock: Clock,
        service: ServiceTimes,
    ) -> None:
        self._reports = reports
        self._duty = duty
        self._book = book
        self._clock = clock
        self._service = service

    async def build(
        self, line: list[QueuedEntry], gps: dict[Any, GpLive], at_risk: int
    ) -> dict[str, Any]:
        now = self._clock.now()
        ts = now.timestamp()
        midnight = now.astimezone(PARIS).replace(hour=0, minute=0, second=0, microsecond=0)
        hour = await self._reports.served_within_deadline(now - timedelta(hours=1), now)
        day = await self._reports.served_within_deadline(midnight, now)
        arrivals = await self._reports.arrivals_since(now - timedelta(hours=1))
        service_minutes = self._service.mid / 60.0
        hint = gps_needed(float(arrivals), service_minutes)
        alerts = (await self._duty.alerts())[-20:][::-1]
        counts = {status.value: 0 for status in GpStatus}
        for gp in gps.values():
            counts[gp.status] = counts.get(gp.status, 0) + 1
        return {
            "at": now.isoformat(),
            "queue": {
                "size": len(line),
                "oldest_wait_seconds": round(
                    max((ts - e.arrival_ts for e in line), default=0.0), 1
                ),
                "at_risk": at_risk,
                "overdue": sum(1 for e in line if e.deadline_ts < ts),
            },
            "gps": counts,
            "served_within_30": {"hour": _window(*hour), "day": _window(*day)},
            "breaches": {"hour": hour[1] - hour[0], "day": day[1] - day[0]},
            "alerts": [
                {
                    "request_id": r,
                    "raised_at": raised.isoformat(),
                    "deadline": deadline.isoformat(),
                    "predicted_start": start.isoformat(),
                }
                for r, raised, start, deadline in alerts
            ],
            "appointments": [
                {
                    "hour_start": h.hour_start.isoformat(),
                    "booked": h.booked,
                    "capacity": h.capacity,
                    "rostered_gps": h.rostered_gps,
                }
                for h in await self._book.load_by_hour(4)
            ],
            "staffing": {
                "arrivals_per_hour": float(arrivals),
                "service_minutes": service_minutes,
                "gps_needed": hint.gps_needed,
                "gps_on_duty": sum(1 for gp in gps.values() if gp.status in ON_DUTY),
                "target_share": hint.target_share,
                "within_seconds": hint.within_seconds,
            },
        }


def board_changed(previous: dict[str, Any] | None, current: dict[str, Any]) -> bool:
    """Whether a board differs from the last one sent, apart from its timestamp and the oldest
    wait (which moves every second; the page counts it on its own)."""
    if previous is None:
        return True

    def key(board: dict[str, Any]) -> dict[str, Any]:
        return {**board, "at": None, "queue": {**board["queue"], "oldest_wait_seconds": None}}

    return key(previous) != key(current)
