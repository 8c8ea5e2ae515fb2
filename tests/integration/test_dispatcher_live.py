"""The dispatcher through a real node: live places and estimated waits, SLA alerts, offer
timeouts, grace periods, and the Prometheus metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.clients import connect_as
from tests.support.processes import RedisServer, ServerProcess

SHORT = {
    "TELECONSULT_OFFER_TIMEOUT_SECONDS": "1.5",
    "TELECONSULT_PATIENT_GRACE_SECONDS": "2",
    "TELECONSULT_CALL_GRACE_SECONDS": "2",
    "TELECONSULT_WRAP_UP_SECONDS": "2",
}


@pytest.fixture
def short_server(tmp_path: Path, redis_server: RedisServer) -> Iterator[ServerProcess]:
    """A node whose business timers are a few seconds long."""
    redis_server.flush()
    proc = ServerProcess(tmp_path / "node", redis_url=redis_server.url, env=SHORT).start()
    yield proc
    proc.stop()


def _state(s: dict[str, Any]) -> str | None:
    return None if s["request"] is None else str(s["request"]["state"])


async def test_places_and_estimated_waits_are_pushed_and_alerts_raised(
    fresh_server: ServerProcess,
) -> None:
    gp = await connect_as(fresh_server.url, "gp1@demo.test")
    patients = [await connect_as(fresh_server.url, f"patient{i}@demo.test") for i in (1, 2, 3)]
    try:
        # No GP on duty: every request is predicted to miss its deadline, before it does.
        ids = [(await p.call("patient:request_video"))["request"]["id"] for p in patients]

        def alerted() -> set[str]:
            return {a["request_id"] for batch in gp.events["sla:alert"] for a in batch["alerts"]}

        await gp.wait("sla:alert", lambda _: alerted() == set(ids))
        for batch in gp.events["sla:alert"]:
            assert batch["count"] == len(batch["alerts"])
            assert all(a["predicted_start"] is None for a in batch["alerts"])  # no GP on duty
        stats = await gp.wait("queue:stats", lambda s: s["size"] == 3 and s["at_risk"] == 3)
        assert stats["oldest_wait_seconds"] >= 0
        # One GP on duty: the first patient is offered at once, the others get a place and an
        # estimated wait (a range), pushed by the feed within 5 seconds.
        await gp.call("gp:available")
        # The offered request keeps its place until accepted: the others are 2nd and 3rd.
        for place, peer in ((2, patients[1]), (3, patients[2])):
            pushed = await peer.wait(
                "patient:state",
                lambda s, place=place: (
                    s["request"] is not None
                    and s["request"]["position"] == place
                    and s["request"]["eta"] is not None
                ),
                timeout=6,
            )
            eta = pushed["request"]["eta"]
            assert 0 <= eta["min_seconds"] <= eta["max_seconds"]
            assert eta["max_seconds"] % 60 == 0
        # Alerts are raised once per request (recorded in SQL), not at every tick.
        assert sum(batch["count"] for batch in gp.events["sla:alert"]) == 3
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{fresh_server.url}/metrics") as resp:
                text = await resp.text()
        assert resp.status == 200
        assert "tc_predicted_breaches_total 3.0" in text
        assert "tc_offers_total 1.0" in text
        assert 'tc_gps{status="offered"} 1.0' in text
        assert "tc_queue_length 3.0" in text  # waiting or held by an offer
        assert "tc_dispatch_latency_seconds_bucket" in text
    finally:
        for peer in (gp, *patients):
            await peer.close()


async def test_missed_offers_are_reoffered_and_pause_the_gp(short_server: ServerProcess) -> None:
    gp = await connect_as(short_server.url, "gp1@demo.test")
    patient = await connect_as(short_server.url, "patient1@demo.test")
    try:
        request_id = (await patient.call("patient:request_video"))["request"]["id"]
        await gp.call("gp:available")
        first = await gp.wait("gp:state", lambda s: s["status"] == "offered")
        assert 0 < first["offer"]["expires_in_seconds"] <= 1.5
        # Nobody answers: re-offered at once (the only GP), then paused after the second miss.
        again = await gp.wait(
            "gp:state", lambda s: s["status"] == "offered" and s["missed_offers"] == 1, timeout=6
        )
        assert again["offer"]["request_id"] == request_id
        paused = await gp.wait("gp:state", lambda s: s["status"] == "paused", timeout=6)
        assert paused["missed_offers"] == 2
        place = await patient.wait(
            "patient:state",
            lambda s: _state(s) == "waiting" and s["request"]["position"] == 1,
        )
        assert place["request"]["id"] == request_id
        # Confirming availability resumes offers.
        await gp.call("gp:available")
        resumed = await gp.wait(
            "gp:state", lambda s: s["status"] == "offered" and s["missed_offers"] == 0
        )
        assert resumed["offer"]["request_id"] == request_id
        assert (await gp.call("offer:accept", {"request_id": request_id}))["ok"] is True
    finally:
        await gp.close()
        await patient.close()


async def test_waiting_patient_grace_then_abandoned(short_server: ServerProcess) -> None:
    first = await connect_as(short_server.url, "patient1@demo.test")
    second = await connect_as(short_server.url, "patient2@demo.test")
    try:
        r1 = (await first.call("patient:request_video"))["request"]
        await second.call("patient:request_video")
        # Drop and come back within the grace period: same place, state pushed on connect.
        await first.close()
        back = await connect_as(short_server.url, "patient1@demo.test")
        resumed = await back.wait("patient:state")
        assert resumed["request"]["id"] == r1["id"] and resumed["request"]["position"] == 1
        assert resumed["request"]["created_at"] == r1["created_at"]
        # Gone past the grace period: abandoned, and the next patient moves up.
        await back.close()
        moved = await second.wait(
            "patient:state",
            lambda s: s["request"] is not None and s["request"]["position"] == 1,
            timeout=8,
        )
        assert moved["request"]["queue_size"] == 1
        gone = await connect_as(short_server.url, "patient1@demo.test")
        assert await gone.wait("patient:state") == {"request": None}
        await gone.close()
    finally:
        await second.close()


async def test_call_member_drop_is_told_to_the_peer(short_server: ServerProcess) -> None:
    gp = await connect_as(short_server.url, "gp1@demo.test")
    patient = await connect_as(short_server.url, "patient1@demo.test")
    try:
        request_id = (await patient.call("patient:request_video"))["request"]["id"]
        await gp.call("gp:available")
        room_id = (await gp.call("offer:accept", {"request_id": request_id}))["room_id"]
        await patient.call("call:connected", {"room_id": room_id, "media": "video"})
        await patient.close()
        left = await gp.wait("call:peer")
        assert left == {"room_id": room_id, "state": "left", "grace_seconds": 2.0}
        back = await connect_as(short_server.url, "patient1@demo.test")
        await gp.wait("call:peer", lambda p: p["state"] == "back")
        resume = await back.wait("call:start")
        assert resume["room_id"] == room_id and resume["resume"] is True
        await back.close()
        ended = await gp.wait("call:ended", timeout=8)
        assert ended["reason"] == "patient_lost"
        await gp.wait("gp:state", lambda s: s["status"] == "wrap_up")
        # The wrap-up timer makes the GP available again by itself.
        await gp.wait("gp:state", lambda s: s["status"] == "available", timeout=8)
    finally:
        await gp.close()
