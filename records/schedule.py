"""Rosters (shifts) and appointments in SQL (R7). Capacity and the one-booking-per-patient rule
are decided by the database in the statement that writes, not by a prior read."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from records.schema import UTCDateTime, appointments, shifts, users
from waiting_room.errors import IllegalTransition, NotFound
from waiting_room.model import Appointment, AppointmentState, RequestId, UserId
from waiting_room.schedule import AlreadyBooked, Slot, SlotFull

A = AppointmentState
HOLDING = (A.BOOKED.value, A.QUEUED.value)
"""States that take a place in their slot."""

_BOOK = text(
    """
    INSERT INTO appointments (id, patient_id, slot_start, slot_end, state, version, created_at,
                              updated_at, booked_patient_id)
    SELECT :id, :patient_id, :slot_start, :slot_end, 'booked', 1, :now, :now, :patient_id
    WHERE (SELECT count(*) FROM appointments
           WHERE slot_start = :slot_start AND state IN ('booked', 'queued')) < :capacity
    """
).bindparams(
    bindparam("slot_start", type_=UTCDateTime),
    bindparam("slot_end", type_=UTCDateTime),
    bindparam("now", type_=UTCDateTime),
)

_MOVE = text(
    """
    UPDATE appointments SET slot_start = :slot_start, slot_end = :slot_end, version = version + 1,
                            updated_at = :now
    WHERE id = :id AND state = 'booked' AND version = :version
      AND (SELECT count(*) FROM appointments
           WHERE slot_start = :slot_start AND state IN ('booked', 'queued') AND id != :id)
          < :capacity
    """
).bindparams(
    bindparam("slot_start", type_=UTCDateTime),
    bindparam("slot_end", type_=UTCDateTime),
    bindparam("now", type_=UTCDateTime),
)


def _appointment(row: Any) -> Appointment:
    return Appointment(
        id=row.id,
        patient_id=UserId(row.patient_id),
        slot_start=row.slot_start,
        slot_end=row.slot_end,
        state=AppointmentState(row.state),
        version=row.version,
        request_id=RequestId(row.request_id) if row.request_id else None,
    )


class SqlScheduleStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # -- rosters -----------------------------------------------------------------------------
    async def add_shift(self, gp_id: UserId, start: datetime, end: datetime) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                insert(shifts).values(gp_id=gp_id, starts_at=start, ends_at=end)
            )
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    async def has_shift(self, gp_id: UserId, start: datetime, end: datetime) -> bool:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(shifts.c.id).where(
                        shifts.c.gp_id == gp_id,
                        shifts.c.starts_at == start,
                        shifts.c.ends_at == end,
                    )
                )
            ).first()
        return row is not None

    async def shifts_between(
        self, start: datetime, end: datetime
    ) -> list[tuple[int, UserId, str, datetime, datetime]]:
        """Shifts overlapping [start, end): (id, GP, GP's name, start, end)."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        shifts.c.id,
                        shifts.c.gp_id,
                        users.c.first_name,
                        users.c.last_name,
                        shifts.c.starts_at,
                        shifts.c.ends_at,
                    )
                    .join(users, users.c.id == shifts.c.gp_id)
                    .where(shifts.c.starts_at < end, shifts.c.ends_at > start)
                    .order_by(shifts.c.starts_at)
                )
            ).all()
        return [
            (r.id, UserId(r.gp_id), f"{r.first_name} {r.last_name}", r.starts_at, r.ends_at)
            for r in rows
        ]

    # -- appointments --------------------------------------------------------------------------
    async def book(
        self, patient_id: UserId, slot: Slot, capacity: int, now: datetime
    ) -> Appointment:
        appointment_id = secrets.token_hex(16)
        try:
            async with self._engine.begin() as conn:
                result = await conn.execute(
                    _BOOK,
                    {
                        "id": appointment_id,
                        "patient_id": patient_id,
                        "slot_start": slot.start,
                        "slot_end": slot.end,
                        "now": now,
                        "capacity": capacity,
                    },
                )
                if result.rowcount != 1:
                    raise SlotFull("this slot is full")
        except IntegrityError:
            raise AlreadyBooked("you already have an upcoming appointment") from None
        found = await self.get(appointment_id)
        assert found is not None
        return found

    async def move(
        self, appointment: Appointment, slot: Slot, capacity: int, now: datetime
    ) -> Appointment:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                _MOVE,
                {
                    "id": appointment.id,
                    "version": appointment.version,
                    "slot_start": slot.start,
                    "slot_end": slot.end,
                    "now": now,
                    "capacity": capacity,
                },
            )
            updated = result.rowcount == 1
        # Read after the transaction: one connection per process (records/db.py).
        moved = await self.get(appointment.id)
        if not updated:
            if moved is None or moved.state is not A.BOOKED:
                raise IllegalTransition("this appointment can no longer be moved")
            raise SlotFull("this slot is full")
        assert moved is not None
        return moved

    async def set_state(
        self,
        appointment: Appointment,
        target: AppointmentState,
        now: datetime,
        request_id: RequestId | None = None,
    ) -> Appointment:
        """booked -> cancelled | queued | superseded, conditional on state and version."""
        if appointment.state is not A.BOOKED:
            raise IllegalTransition(f"an appointment {appointment.state} cannot become {target}")
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(appointments)
                .where(
                    and_(
                        appointments.c.id == appointment.id,
                        appointments.c.state == A.BOOKED.value,
                        appointments.c.version == appointment.version,
                    )
                )
                .values(
                    state=target.value,
                    version=appointment.version + 1,
                    updated_at=now,
                    request_id=request_id,
                    booked_patient_id=None,
                )
            )
            if result.rowcount != 1:
                raise IllegalTransition("this appointment changed meanwhile")
        changed = await self.get(appointment.id)
        assert changed is not None
        return changed

    async def get(self, appointment_id: str) -> Appointment | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(appointments).where(appointments.c.id == appointment_id))
            ).one_or_none()
        return None if row is None else _appointment(row)

    async def own(self, patient_id: UserId, appointment_id: str) -> Appointment:
        appointment = await self.get(appointment_id)
        if appointment is None or appointment.patient_id != patient_id:
            raise NotFound("no such appointment")
        return appointment

    async def for_patient(self, patient_id: UserId, limit: int = 20) -> list[Appointment]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(appointments)
                    .where(appointments.c.patient_id == patient_id)
                    .order_by(appointments.c.slot_start.desc())
                    .limit(limit)
                )
            ).all()
        return [_appointment(r) for r in rows]

    async def taken(self, start: datetime, end: datetime) -> dict[datetime, int]:
        """Places taken per slot start in [start, end)."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(appointments.c.slot_start, func.count())
                    .where(
                        appointments.c.slot_start >= start,
                        appointments.c.slot_start < end,
                        appointments.c.state.in_(HOLDING),
                    )
                    .group_by(appointments.c.slot_start)
                )
            ).all()
        return {r[0]: int(r[1]) for r in rows}

    async def due(self, until: datetime, limit: int = 200) -> list[Appointment]:
        """Booked appointments whose slot starts by ``until``, earliest first."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(appointments)
                    .where(
                        appointments.c.state == A.BOOKED.value, appointments.c.slot_start <= until
                    )
                    .order_by(appointments.c.slot_start)
                    .limit(limit)
                )
            ).all()
        return [_appointment(r) for r in rows]
