"""Appointments (R7): slots offered to patients, booking, moving, cancelling, and admission into
the queue at their time. Capacity comes from the GP rosters, minus what immediate requests keep."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from waiting_room import schedule
from waiting_room.clock import Clock
from waiting_room.errors import AlreadyActive, WaitingRoomError
from waiting_room.model import Appointment, AppointmentState, RequestId, UserId
from waiting_room.schedule import Slot
from waiting_room.service import WaitingRoom

logger = logging.getLogger(__name__)


class ScheduleStore(Protocol):
    async def shifts_between(
        self, start: datetime, end: datetime
    ) -> list[tuple[int, UserId, str, datetime, datetime]]: ...
    async def book(
        self, patient_id: UserId, slot: Slot, capacity: int, now: datetime
    ) -> Appointment: ...
    async def move(
        self, appointment: Appointment, slot: Slot, capacity: int, now: datetime
    ) -> Appointment: ...
    async def set_state(
        self,
        appointment: Appointment,
        target: AppointmentState,
        now: datetime,
        request_id: RequestId | None = None,
    ) -> Appointment: ...
    async def own(self, patient_id: UserId, appointment_id: str) -> Appointment: ...
    async def for_patient(self, patient_id: UserId, limit: int = 20) -> list[Appointment]: ...
    async def taken(self, start: datetime, end: datetime) -> dict[datetime, int]: ...
    async def due(self, until: datetime, limit: int = 200) -> list[Appointment]: ...


@dataclass(frozen=True, slots=True)
class SlotView:
    slot: Slot
    capacity: int
    free: int


@dataclass(frozen=True, slots=True)
class HourLoad:
    hour_start: datetime
    booked: int
    capacity: int
    rostered_gps: int


class AppointmentBook:
    def __init__(
        self,
        store: ScheduleStore,
        room: WaitingRoom,
        clock: Clock,
        share: float = 0.5,
    ) -> None:
        schedule.slot_capacity(1, share)  # validates the share
        self._store = store
        self._room = room
        self._clock = clock
        self.share = share
        """Share of the rostered capacity that appointments may take (the rest stays for
        immediate requests, R6)."""

    async def _capacity(self, slot: Slot) -> int:
        shifts = await self._store.shifts_between(slot.start, slot.end)
        covering = schedule.rostered_over(((s[3], s[4]) for s in shifts), slot)
        return schedule.slot_capacity(covering, self.share)

    async def slots(self, day: date) -> list[SlotView]:
        """The day's bookable slots (Paris calendar) with their room left."""
        now = self._clock.now()
        schedule.check_day(day, now)
        slots = schedule.day_slots(day, now)
        if not slots:
            return []
        start, end = slots[0].start, slots[-1].end
        shifts = [(s[3], s[4]) for s in await self._store.shifts_between(start, end)]
        taken = await self._store.taken(start, end)
        views = []
        for slot in slots:
            capacity = schedule.slot_capacity(schedule.rostered_over(shifts, slot), self.share)
            views.append(SlotView(slot, capacity, max(capacity - taken.get(slot.start, 0), 0)))
        return views

    async def book(self, patient_id: UserId, start: datetime) -> Appointment:
        """R7: book a slot; refused with the reason (outside hours, too far ahead, full...)."""
        slot = schedule.check_slot(start, self._clock.now())
        await self._room.screen(patient_id)
        capacity = await self._capacity(slot)
        if capacity == 0:
            raise schedule.SlotFull("no GP has room at this time")
        appointment = await self._store.book(patient_id, slot, capacity, self._clock.now())
        logger.info("appointment %s booked", appointment.id)
        return appointment

    async def move(self, patient_id: UserId, appointment_id: str, start: datetime) -> Appointment:
        appointment = await self._store.own(patient_id, appointment_id)
        slot = schedule.check_slot(start, self._clock.now())
        capacity = await self._capacity(slot)
        if capacity == 0:
            raise schedule.SlotFull("no GP has room at this time")
        moved = await self._store.move(appointment, slot, capacity, self._clock.now())
        logger.info("appointment %s moved", appointment.id)
        return moved

    async def cancel(self, patient_id: UserId, appointment_id: str) -> Appointment:
        appointment = await self._store.own(patient_id, appointment_id)
        return await self._store.set_state(
            appointment, AppointmentState.CANCELLED, self._clock.now()
        )

    async def mine(self, patient_id: UserId) -> list[Appointment]:
        return await self._store.for_patient(patient_id)

    async def admit_due(self) -> int:
        """Appointments whose slot starts within the admission lead enter the queue, with their
        slot as deadline (earliest deadline first puts them before later immediate requests).
        Safe on several nodes: the booked -> queued update decides who admits."""
        now = self._clock.now()
        admitted = 0
        for appointment in await self._store.due(now + schedule.ADMISSION_LEAD):
            try:
                view = await self._room.admit_appointment(
                    appointment.patient_id, appointment.slot_start
                )
            except AlreadyActive:
                await self._settle(appointment, AppointmentState.SUPERSEDED, None)
                continue
            except WaitingRoomError as exc:
                logger.warning("appointment %s not admitted: %s", appointment.id, exc.code)
                await self._settle(appointment, AppointmentState.SUPERSEDED, None)
                continue
            if await self._settle(appointment, AppointmentState.QUEUED, view.request.id):
                admitted += 1
            else:
                # Another node admitted it first: withdraw the duplicate request.
                await self._room.cancel(appointment.patient_id, view.request.id)
        return admitted

    async def _settle(
        self, appointment: Appointment, target: AppointmentState, request_id: RequestId | None
    ) -> bool:
        try:
            await self._store.set_state(appointment, target, self._clock.now(), request_id)
        except WaitingRoomError:
            return False
        return True

    async def load_by_hour(self, hours: int = 4) -> list[HourLoad]:
        """The next hours: appointments booked against the appointment capacity of the roster."""
        now = self._clock.now()
        first = now.replace(minute=0, second=0, microsecond=0)
        end = first + timedelta(hours=hours)
        shifts = [(s[1], s[3], s[4]) for s in await self._store.shifts_between(first, end)]
        taken = await self._store.taken(first, end)
        loads = []
        for h in range(hours):
            hour_start = first + timedelta(hours=h)
            hour_end = hour_start + timedelta(hours=1)
            capacity = 0
            cursor = hour_start
            while cursor < hour_end:
                slot = Slot(cursor, cursor + schedule.SLOT)
                local = cursor.astimezone(schedule.PARIS)
                if schedule.OPENS <= local.time() and (
                    (cursor + schedule.SLOT).astimezone(schedule.PARIS).time() <= schedule.CLOSES
                    and local.time() < schedule.CLOSES
                ):
                    covering = schedule.rostered_over(((s, e) for _, s, e in shifts), slot)
                    capacity += schedule.slot_capacity(covering, self.share)
                cursor += schedule.SLOT
            booked = sum(n for t, n in taken.items() if hour_start <= t < hour_end)
            on_shift = {gp for gp, s, e in shifts if s < hour_end and e > hour_start}
            loads.append(HourLoad(hour_start, booked, capacity, len(on_shift)))
        return loads
