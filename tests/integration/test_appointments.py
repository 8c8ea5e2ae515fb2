"""Appointments (R7), the phone platform (R9) and the supervisor board, against a real node whose
business clock a test can move forward (TELECONSULT_TEST_CLOCK)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from tests.support.clients import connect_as, login
from tests.support.processes import RedisServer, ServerProcess

PARIS = ZoneInfo("Europe/Paris")
KEY = "telephony-key-for-tests-0123456789"


@pytest.fixture
def clock_server(tmp_path: Path, redis_server: RedisServer) -> Iterator[ServerProcess]:
    redis_server.flush()
    proc = ServerProcess(
        tmp_path / "node",
        redis_url=redis_server.url,
        env={"TELECONSULT_TEST_CLOCK": "1", "TELECONSULT_TELEPHONY_KEY": KEY},
    ).start()
    yield proc
    proc.stop()


class Api:
    def __init__(self, base: str, token: str | None = None) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def call(
        self, method: str, path: str, body: Any = None, **headers: str
    ) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as http:
            async with http.request(
                method, self.base + path, json=body, headers={**self.headers, **headers}
            ) as resp:
                return resp.status, await resp.json()


async def api_as(server: ServerProcess, email: str) -> Api:
    return Api(server.url, await login(server.url, email))


async def now_of(server: ServerProcess) -> datetime:
    status, body = await Api(server.url).call("POST", "/api/test/clock", {"advance_seconds": 0})
    assert status == 200
    return datetime.fromisoformat(body["now"])


async def advance(server: ServerProcess, seconds: float) -> datetime:
    status, body = await Api(server.url).call(
        "POST", "/api/test/clock", {"advance_seconds": seconds}
    )
    assert status == 200, body
    return datetime.fromisoformat(body["now"])


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)


async def test_slots_and_booking_rules(clock_server: ServerProcess) -> None:
    now = await now_of(clock_server)
    tomorrow = (now.astimezone(PARIS) + timedelta(days=1)).date()
    p1 = await api_as(clock_server, "patient1@demo.test")
    p2 = await api_as(clock_server, "patient2@demo.test")

    status, day = await p1.call("GET", f"/api/appointments/slots?date={tomorrow}")
    assert status == 200 and day["timezone"] == "Europe/Paris"
    assert len(day["slots"]) == 52  # 09:00-22:00, 15 minutes each
    # The demo roster has 3 GPs; half of their capacity stays for immediate requests.
    assert {(s["capacity"], s["free"]) for s in day["slots"]} == {(1, 1)}
    assert datetime.fromisoformat(day["slots"][0]["start"]) == paris(tomorrow, 9)
    far = (now.astimezone(PARIS) + timedelta(days=15)).date()
    for query, code in (
        (far, "too_far_ahead"),
        (now.date() - timedelta(days=1), "in_the_past"),
        ("tomorrow", "invalid_field"),
    ):
        status, body = await p1.call("GET", f"/api/appointments/slots?date={query}")
        assert (status, body["error"]["code"]) in ((400, code),), (query, body)

    ten = paris(tomorrow, 10).isoformat()
    refusals = [
        (paris(tomorrow, 8, 45), "outside_hours"),
        (paris(tomorrow, 22, 0), "outside_hours"),
        (paris(tomorrow, 10, 10), "not_a_slot"),
        (paris(far, 10), "too_far_ahead"),
        (paris(tomorrow - timedelta(days=2), 10), "in_the_past"),
    ]
    for start, code in refusals:
        status, body = await p1.call("POST", "/api/appointments", {"slot_start": start.isoformat()})
        assert status == 400 and body["error"]["code"] == code, (start, body)
    for bad in ({}, {"slot_start": "demain"}, {"slot_start": "2026-11-28T10:00:00"}, [1]):
        status, body = await p1.call("POST", "/api/appointments", bad)
        assert status == 400 and body["error"]["code"] in ("invalid_field", "invalid_json")

    status, booked = await p1.call("POST", "/api/appointments", {"slot_start": ten})
    assert status == 201 and booked["appointment"]["state"] == "booked"
    appointment = booked["appointment"]
    assert datetime.fromisoformat(appointment["slot_start"]) == paris(tomorrow, 10)
    # The slot is full now; one upcoming appointment per patient.
    status, body = await p2.call("POST", "/api/appointments", {"slot_start": ten})
    assert (status, body["error"]["code"]) == (409, "slot_full")
    status, body = await p1.call(
        "POST", "/api/appointments", {"slot_start": paris(tomorrow, 11).isoformat()}
    )
    assert (status, body["error"]["code"]) == (409, "already_booked")
    status, day = await p2.call("GET", f"/api/appointments/slots?date={tomorrow}")
    assert [s["free"] for s in day["slots"] if s["start"] == ten] == [0]

    # Move, then the old slot is free again; cancel; a cancelled one can't move.
    status, moved = await p1.call(
        "PATCH",
        f"/api/appointments/{appointment['id']}",
        {"slot_start": paris(tomorrow, 10, 15).isoformat()},
    )
    assert status == 200
    assert datetime.fromisoformat(moved["appointment"]["slot_start"]) == paris(tomorrow, 10, 15)
    status, _ = await p2.call("POST", "/api/appointments", {"slot_start": ten})
    assert status == 201
    status, body = await p1.call(
        "PATCH", f"/api/appointments/{appointment['id']}", {"slot_start": ten}
    )
    assert (status, body["error"]["code"]) == (409, "slot_full")
    status, body = await p2.call("DELETE", f"/api/appointments/{appointment['id']}")
    assert (status, body["error"]["code"]) == (404, "not_found")  # not theirs
    status, cancelled = await p1.call("DELETE", f"/api/appointments/{appointment['id']}")
    assert status == 200 and cancelled["appointment"]["state"] == "cancelled"
    status, body = await p1.call("DELETE", f"/api/appointments/{appointment['id']}")
    assert (status, body["error"]["code"]) == (409, "illegal_transition")
    status, mine = await p1.call("GET", "/api/appointments")
    assert [a["state"] for a in mine["appointments"]] == ["cancelled"]

    # Only patients book; everyone authenticates.
    gp = await api_as(clock_server, "gp1@demo.test")
    status, body = await gp.call("POST", "/api/appointments", {"slot_start": ten})
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = await Api(clock_server.url).call("GET", "/api/appointments")
    assert (status, body["error"]["code"]) == (401, "auth_required")


async def test_the_appointment_enters_the_queue_at_its_time_before_later_deadlines(
    clock_server: ServerProcess,
) -> None:
    now = await now_of(clock_server)
    tomorrow = (now.astimezone(PARIS) + timedelta(days=1)).date()
    slot = paris(tomorrow, 10)
    booker = await api_as(clock_server, "patient1@demo.test")
    status, booked = await booker.call(
        "POST", "/api/appointments", {"slot_start": slot.isoformat()}
    )
    assert status == 201
    patient = await connect_as(clock_server.url, "patient1@demo.test")
    walk_in = await connect_as(clock_server.url, "patient2@demo.test")
    gp = await connect_as(clock_server.url, "gp1@demo.test")
    try:
        # Six minutes before the slot: not yet in the queue.
        await advance(clock_server, (slot - now).total_seconds() - 6 * 60)
        immediate = (await walk_in.call("patient:request_video"))["request"]
        await patient.wait("patient:state", lambda s: s["request"] is None)
        status, mine = await booker.call("GET", "/api/appointments")
        assert mine["appointments"][0]["state"] == "booked"
        # Five minutes before: it enters the queue with the slot as deadline, ahead of the
        # immediate request that arrived earlier but whose deadline (arrival + 30 min) is later.
        await advance(clock_server, 60)
        queued = await patient.wait(
            "patient:state",
            lambda s: s["request"] is not None and s["request"]["position"] == 1,
            timeout=6,
        )
        assert datetime.fromisoformat(queued["request"]["deadline"]) == slot
        await walk_in.wait(
            "patient:state",
            lambda s: s["request"] is not None and s["request"]["position"] == 2,
            timeout=8,
        )
        status, mine = await booker.call("GET", "/api/appointments")
        assert mine["appointments"][0]["state"] == "queued"
        assert mine["appointments"][0]["request_id"] == queued["request"]["id"]
        await gp.call("gp:available")
        offered = await gp.wait("gp:state", lambda s: s["status"] == "offered")
        assert offered["offer"]["request_id"] == queued["request"]["id"] != immediate["id"]
    finally:
        for peer in (patient, walk_in, gp):
            await peer.close()


async def test_phone_calls_go_to_the_nurse_by_day_and_to_a_gp_callback_at_night(
    clock_server: ServerProcess,
) -> None:
    api = Api(clock_server.url)
    call = {"caller": "+33600000003"}  # patient3@demo.test's mobile
    status, body = await api.call("POST", "/api/phone/incoming", call, **{"X-Telephony-Key": "x"})
    assert (status, body["error"]["code"]) == (403, "bad_key")
    now = await now_of(clock_server)
    local = now.astimezone(PARIS)
    # Next weekday (not a holiday in late November / December 2026) at 10:00 Paris.
    day = local.date() + timedelta(days=1)
    while day.weekday() >= 5 or day in (date(2026, 12, 25),):
        day += timedelta(days=1)
    await advance(clock_server, (paris(day, 10) - now).total_seconds())
    status, body = await api.call("POST", "/api/phone/incoming", call, **{"X-Telephony-Key": KEY})
    assert (status, body) == (200, {"route": "nurse"})
    # 21:00 the same day: recorded for a GP callback in the same queue.
    await advance(clock_server, 11 * 3600)
    status, body = await api.call("POST", "/api/phone/incoming", call, **{"X-Telephony-Key": KEY})
    assert status == 201 and body["route"] == "gp_callback"
    assert body["request"]["state"] == "waiting" and body["request"]["position"] == 1
    status, body = await api.call("POST", "/api/phone/incoming", call, **{"X-Telephony-Key": KEY})
    assert (status, body["error"]["code"]) == (409, "already_active")
    status, body = await api.call(
        "POST", "/api/phone/incoming", {"caller": "+33698765432"}, **{"X-Telephony-Key": KEY}
    )
    assert (status, body["error"]["code"]) == (404, "unknown_caller")
    status, body = await api.call(
        "POST", "/api/phone/incoming", {"caller": 33}, **{"X-Telephony-Key": KEY}
    )
    assert (status, body["error"]["code"]) == (400, "invalid_field")


async def test_supervisor_board_follows_the_queue_and_the_served_share(
    clock_server: ServerProcess,
) -> None:
    supervisor = await connect_as(clock_server.url, "supervisor@demo.test")
    patient = await connect_as(clock_server.url, "patient1@demo.test")
    gp = await connect_as(clock_server.url, "gp1@demo.test")
    try:
        first = await supervisor.wait("board:state")
        assert first["queue"]["size"] == 0
        assert first["served_within_30"]["hour"] == {"on_time": 0, "total": 0, "share": None}
        assert len(first["appointments"]) == 4
        assert first["staffing"]["target_share"] == 0.95
        request = (await patient.call("patient:request_video"))["request"]
        await supervisor.wait("board:state", lambda b: b["queue"]["size"] == 1, timeout=6)
        board = supervisor.last("board:state")
        assert board["staffing"]["arrivals_per_hour"] == 1.0
        assert board["staffing"]["gps_needed"] == 1
        await gp.call("gp:available")
        await gp.wait("gp:state", lambda s: s["status"] == "offered")
        await gp.call("offer:accept", {"request_id": request["id"]})
        await supervisor.wait(
            "board:state",
            lambda b: b["queue"]["size"] == 0 and b["gps"]["in_call"] == 1,
            timeout=6,
        )
        # Once its deadline has passed, the request counts in the served share: on time.
        await advance(clock_server, 31 * 60)
        served = await supervisor.wait(
            "board:state",
            lambda b: b["served_within_30"]["hour"]["total"] == 1,
            timeout=12,
        )
        assert served["served_within_30"]["hour"] == {"on_time": 1, "total": 1, "share": 1.0}
        assert served["breaches"]["hour"] == 0
        sync = await supervisor.call("session:sync")
        assert sync["board"]["served_within_30"]["hour"]["share"] == 1.0
    finally:
        for peer in (supervisor, patient, gp):
            await peer.close()


async def test_roster_routes(clock_server: ServerProcess) -> None:
    supervisor = await api_as(clock_server, "supervisor@demo.test")
    now = await now_of(clock_server)
    start = (now + timedelta(days=1)).replace(microsecond=0)
    window = {"from": start.isoformat(), "to": (start + timedelta(days=1)).isoformat()}
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{clock_server.url}/api/roster", params=window, headers=supervisor.headers
        ) as resp:
            status, body = resp.status, await resp.json()
    assert status == 200 and {s["gp_name"].split()[0] for s in body["shifts"]} == {
        "Docteur1",
        "Docteur2",
        "Docteur3",
    }
    shift = {
        "gp_email": "gp1@demo.test",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=4)).isoformat(),
    }
    status, body = await supervisor.call("POST", "/api/roster", shift)
    assert status == 201 and body["shift"]["id"] > 0
    for bad, code in (
        ({**shift, "gp_email": "patient1@demo.test"}, "not_found"),
        ({**shift, "end": shift["start"]}, "invalid_field"),
        ({**shift, "end": (start + timedelta(hours=30)).isoformat()}, "invalid_field"),
    ):
        status, body = await supervisor.call("POST", "/api/roster", bad)
        assert body["error"]["code"] == code
    patient = await api_as(clock_server, "patient1@demo.test")
    status, body = await patient.call("POST", "/api/roster", shift)
    assert (status, body["error"]["code"]) == (403, "forbidden")
