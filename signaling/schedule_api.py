"""HTTP routes for appointments (R7), rosters, the phone platform (R9) and the test clock."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web

from records.accounts import Accounts
from records.schedule import SqlScheduleStore
from signaling.errors import BadRequest
from signaling.http_api import AuthApi, read_json
from signaling.registration import parse_email, parse_mobile
from waiting_room.appointments import AppointmentBook
from waiting_room.clock import Clock, OffsetClock
from waiting_room.errors import NotFound
from waiting_room.hours import NurseHours, Route, phone_route
from waiting_room.model import Appointment, Role, UserId
from waiting_room.schedule import PARIS
from waiting_room.service import WaitingRoom

logger = logging.getLogger(__name__)

MAX_SHIFT = timedelta(hours=24)
MAX_ROSTER_WINDOW = timedelta(days=31)


def appointment_body(a: Appointment) -> dict[str, Any]:
    return {
        "id": a.id,
        "slot_start": a.slot_start.isoformat(),
        "slot_end": a.slot_end.isoformat(),
        "state": a.state.value,
        "request_id": a.request_id,
    }


def parse_time(raw: Any, name: str) -> datetime:
    if not isinstance(raw, str) or len(raw) > 40:
        raise BadRequest("invalid_field", f"{name} must be an ISO 8601 time with an offset")
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest(
            "invalid_field", f"{name} must be an ISO 8601 time with an offset"
        ) from None
    if value.tzinfo is None:
        raise BadRequest("invalid_field", f"{name} needs a timezone offset")
    return value


@dataclass
class ScheduleApi:
    auth: AuthApi
    book: AppointmentBook
    store: SqlScheduleStore
    accounts: Accounts
    room: WaitingRoom
    clock: Clock
    nurse_hours: NurseHours
    telephony_key: str | None

    # -- appointments (patient) ------------------------------------------------------------------
    async def slots(self, request: web.Request) -> web.Response:
        await self.auth.user(request, Role.PATIENT)
        raw = request.query.get("date", "")
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            raise BadRequest("invalid_field", "date must be YYYY-MM-DD") from None
        views = await self.book.slots(day)
        return web.json_response(
            {
                "date": day.isoformat(),
                "timezone": "Europe/Paris",
                "slots": [
                    {
                        "start": v.slot.start.astimezone(PARIS).isoformat(),
                        "end": v.slot.end.astimezone(PARIS).isoformat(),
                        "free": v.free,
                        "capacity": v.capacity,
                    }
                    for v in views
                ],
            }
        )

    async def list(self, request: web.Request) -> web.Response:
        user = await self.auth.user(request, Role.PATIENT)
        mine = await self.book.mine(user.id)
        return web.json_response({"appointments": [appointment_body(a) for a in mine]})

    async def create(self, request: web.Request) -> web.Response:
        user = await self.auth.user(request, Role.PATIENT)
        start = parse_time((await read_json(request)).get("slot_start"), "slot_start")
        appointment = await self.book.book(user.id, start)
        return web.json_response({"appointment": appointment_body(appointment)}, status=201)

    async def move(self, request: web.Request) -> web.Response:
        user = await self.auth.user(request, Role.PATIENT)
        start = parse_time((await read_json(request)).get("slot_start"), "slot_start")
        moved = await self.book.move(user.id, _id(request), start)
        return web.json_response({"appointment": appointment_body(moved)})

    async def cancel(self, request: web.Request) -> web.Response:
        user = await self.auth.user(request, Role.PATIENT)
        cancelled = await self.book.cancel(user.id, _id(request))
        return web.json_response({"appointment": appointment_body(cancelled)})

    # -- rosters (supervisor) --------------------------------------------------------------------
    async def roster(self, request: web.Request) -> web.Response:
        await self.auth.user(request, Role.SUPERVISOR)
        start = parse_time(request.query.get("from"), "from")
        end = parse_time(request.query.get("to"), "to")
        if not start < end <= start + MAX_ROSTER_WINDOW:
            raise BadRequest("invalid_field", "to must be after from, at most 31 days later")
        shifts = await self.store.shifts_between(start, end)
        return web.json_response(
            {
                "shifts": [
                    {
                        "id": i,
                        "gp_id": gp,
                        "gp_name": name,
                        "start": s.isoformat(),
                        "end": e.isoformat(),
                    }
                    for i, gp, name, s, e in shifts
                ]
            }
        )

    async def add_shift(self, request: web.Request) -> web.Response:
        await self.auth.user(request, Role.SUPERVISOR)
        body = await read_json(request)
        email = parse_email({"email": body.get("gp_email")})
        start = parse_time(body.get("start"), "start")
        end = parse_time(body.get("end"), "end")
        if not start < end <= start + MAX_SHIFT:
            raise BadRequest("invalid_field", "a shift ends after it starts, at most 24 h later")
        gp = await self.accounts.by_email(email)
        if gp is None or gp.role is not Role.PHYSICIAN:
            raise NotFound("no physician with this email")
        shift_id = await self.store.add_shift(gp.id, start, end)
        logger.info("shift %d added", shift_id)
        return web.json_response(
            {
                "shift": {
                    "id": shift_id,
                    "gp_id": gp.id,
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                }
            },
            status=201,
        )

    # -- phone platform (R9) ----------------------------------------------------------------------
    async def incoming_call(self, request: web.Request) -> web.Response:
        if self.telephony_key is None:
            raise web.HTTPNotFound()
        given = request.headers.get("X-Telephony-Key", "")
        if not hmac.compare_digest(given.encode(), self.telephony_key.encode()):
            raise BadRequest("bad_key", "the telephony key is missing or wrong", 403)
        body = await read_json(request)
        raw = body.get("caller")
        if not isinstance(raw, str) or len(raw) > 32:
            raise BadRequest("invalid_field", "caller must be a phone number")
        caller = parse_mobile(raw)
        route = phone_route(self.clock.now(), self.nurse_hours)
        if route is Route.NURSE:
            return web.json_response({"route": route.value})
        patient = await self.accounts.patient_by_mobile(caller)
        if patient is None:
            raise BadRequest("unknown_caller", "no account with this mobile number (R16)", 404)
        view = await self.room.request_phone_callback(
            UserId(patient.id), caller, "system:telephony"
        )
        logger.info("request %s recorded for a GP callback", view.request.id)
        return web.json_response(
            {
                "route": route.value,
                "request": {
                    "id": view.request.id,
                    "state": view.request.state.value,
                    "position": view.position,
                    "deadline": view.request.deadline.isoformat(),
                },
            },
            status=201,
        )

    # -- test clock ------------------------------------------------------------------------------
    async def advance_clock(self, request: web.Request) -> web.Response:
        assert isinstance(self.clock, OffsetClock)
        seconds = (await read_json(request)).get("advance_seconds")
        if (
            not isinstance(seconds, int | float)
            or isinstance(seconds, bool)
            or not 0 <= seconds <= 31 * 86400
        ):
            raise BadRequest("invalid_field", "advance_seconds must be a number of seconds >= 0")
        return web.json_response({"now": self.clock.advance(float(seconds)).isoformat()})

    def add_routes(self, app: web.Application, test_clock: bool) -> None:
        app.router.add_get("/api/appointments/slots", self.slots)
        app.router.add_get("/api/appointments", self.list)
        app.router.add_post("/api/appointments", self.create)
        app.router.add_patch("/api/appointments/{id}", self.move)
        app.router.add_delete("/api/appointments/{id}", self.cancel)
        app.router.add_get("/api/roster", self.roster)
        app.router.add_post("/api/roster", self.add_shift)
        app.router.add_post("/api/phone/incoming", self.incoming_call)
        if test_clock:
            app.router.add_post("/api/test/clock", self.advance_clock)


def _id(request: web.Request) -> str:
    value = request.match_info["id"]
    if len(value) != 32 or any(c not in "0123456789abcdef" for c in value):
        raise NotFound("no such appointment")
    return value
