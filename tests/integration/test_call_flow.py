"""One consultation driven by python-socketio clients against a real node on a real Redis."""

from __future__ import annotations

from typing import Any

from tests.support.clients import connect_as
from tests.support.processes import ServerProcess


def _req(state: dict[str, Any]) -> dict[str, Any]:
    request = state["request"]
    assert request is not None
    return dict(request)


def _state(state: dict[str, Any]) -> str | None:
    request = state["request"]
    return None if request is None else str(request["state"])


async def test_patient_and_gp_complete_a_call(fresh_server: ServerProcess) -> None:
    patient = await connect_as(fresh_server.url, "patient1@demo.test")
    gp = await connect_as(fresh_server.url, "gp1@demo.test")
    try:
        # On connect the server pushes each side its current state.
        assert await patient.wait("patient:state") == {"request": None}
        assert (await gp.wait("gp:state"))["status"] == "unavailable"
        assert (await gp.wait("queue:stats"))["size"] == 0

        ack = await patient.call("patient:request_video")
        assert ack["ok"] is True
        request = ack["request"]
        assert request["state"] == "waiting" and request["position"] == 1
        await gp.wait("queue:stats", lambda s: s["size"] == 1)

        assert (await gp.call("gp:available")) == {"ok": True}
        offered = await gp.wait("gp:state", lambda s: s["status"] == "offered")
        assert offered["offer"]["request_id"] == request["id"]
        assert offered["offer"]["patient_first_name"] == "Anne"
        await patient.wait("patient:state", lambda s: _state(s) == "offered")

        accepted = await gp.call("offer:accept", {"request_id": request["id"]})
        assert accepted["ok"] is True
        room_id = accepted["room_id"]
        gp_start = await gp.wait("call:start")
        patient_start = await patient.wait("call:start")
        assert gp_start["room_id"] == patient_start["room_id"] == room_id
        assert (gp_start["role"], patient_start["role"]) == ("caller", "callee")
        assert gp_start["ice_servers"] == [] == patient_start["ice_servers"]

        # Offer, answer and candidates are relayed to the other member only, as parsed.
        offer = {"room_id": room_id, "type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"}
        assert await gp.call("rtc:signal", offer) == {"ok": True}
        relayed = await patient.wait("rtc:signal")
        assert relayed == {**offer, "from": "physician"}
        candidate = {
            "room_id": room_id,
            "type": "candidate",
            "candidate": {
                "candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host",
                "sdpMid": "0",
                "sdpMLineIndex": 0,
                "usernameFragment": "ab",
                "extra": "dropped",
            },
        }
        assert await patient.call("rtc:signal", candidate) == {"ok": True}
        got = await gp.wait("rtc:signal")
        assert got["from"] == "patient" and "extra" not in got["candidate"]
        assert "rtc:signal" not in gp.events or len(gp.events["rtc:signal"]) == 1
        assert len(patient.events["rtc:signal"]) == 1  # nothing echoed back to the sender

        assert await patient.call("call:connected", {"room_id": room_id, "media": "video"}) == {
            "ok": True
        }
        await patient.wait("patient:state", lambda s: _state(s) == "in_call")

        assert await gp.call("call:hangup", {"room_id": room_id}) == {"ok": True}
        for side in (gp, patient):
            ended = await side.wait("call:ended")
            assert ended == {
                "room_id": room_id,
                "request_id": request["id"],
                "reason": "hangup_physician",
            }
        # The call is over for the patient; the GP wraps up before the next offer.
        over = await patient.wait("patient:state", lambda s: _state(s) == "wrap_up")
        assert _req(over)["ended_reason"] == "hangup_physician"
        wrap = await gp.wait("gp:state", lambda s: s["status"] == "wrap_up")
        assert wrap["room_id"] is None and wrap["wrap_up_until"] is not None
        # The patient may ask again at once (the wrap-up is the GP's).
        assert (await patient.call("session:sync"))["patient"] == {"request": None}
        # Going available ends the wrap-up early.
        assert await gp.call("gp:available") == {"ok": True}
        await gp.wait("gp:state", lambda s: s["status"] == "available")

        # The room is gone: signaling into it is refused, and a second hang-up too.
        late = await gp.call("rtc:signal", offer)
        assert late["ok"] is False and late["error"]["code"] == "not_in_room"
        again = await patient.call("call:hangup", {"room_id": room_id})
        assert again["error"]["code"] == "not_in_room"
    finally:
        await patient.close()
        await gp.close()


async def test_a_third_user_cannot_signal_into_a_room(fresh_server: ServerProcess) -> None:
    patient = await connect_as(fresh_server.url, "patient1@demo.test")
    gp = await connect_as(fresh_server.url, "gp1@demo.test")
    intruder = await connect_as(fresh_server.url, "patient2@demo.test")
    other_gp = await connect_as(fresh_server.url, "gp2@demo.test")
    try:
        request = (await patient.call("patient:request_video"))["request"]
        await gp.call("gp:available")
        await gp.wait("gp:state", lambda s: s["status"] == "offered")
        # Another GP cannot take an offer that is not theirs.
        stolen = await other_gp.call("offer:accept", {"request_id": request["id"]})
        assert stolen["error"]["code"] == "offer_not_found"
        room_id = (await gp.call("offer:accept", {"request_id": request["id"]}))["room_id"]
        for outsider in (intruder, other_gp):
            refused = await outsider.call(
                "rtc:signal", {"room_id": room_id, "type": "offer", "sdp": "v=0"}
            )
            assert refused["error"]["code"] == "not_in_room"
            hang = await outsider.call("call:hangup", {"room_id": room_id})
            assert hang["error"]["code"] == "not_in_room"
        assert "rtc:signal" not in patient.events and "call:ended" not in patient.events
    finally:
        for peer in (patient, gp, intruder, other_gp):
            await peer.close()


async def test_decline_returns_the_request_to_its_place(fresh_server: ServerProcess) -> None:
    first = await connect_as(fresh_server.url, "patient1@demo.test")
    second = await connect_as(fresh_server.url, "patient2@demo.test")
    gp = await connect_as(fresh_server.url, "gp1@demo.test")
    gp2 = await connect_as(fresh_server.url, "gp2@demo.test")
    try:
        r1 = (await first.call("patient:request_video"))["request"]
        r2 = (await second.call("patient:request_video"))["request"]
        assert (r1["position"], r2["position"]) == (1, 2)
        await gp.call("gp:available")
        offered = await gp.wait("gp:state", lambda s: s["status"] == "offered")
        assert offered["offer"]["request_id"] == r1["id"]  # oldest first
        assert await gp.call("offer:decline", {"request_id": r1["id"]}) == {"ok": True}
        await gp.wait("gp:state", lambda s: s["status"] == "unavailable")
        await first.wait(
            "patient:state", lambda s: _state(s) == "waiting" and _req(s)["position"] == 1
        )
        # The next GP gets the declined request first: it kept its original place.
        await gp2.call("gp:available")
        offered2 = await gp2.wait("gp:state", lambda s: s["status"] == "offered")
        assert offered2["offer"]["request_id"] == r1["id"]
    finally:
        for peer in (first, second, gp, gp2):
            await peer.close()


async def test_patient_cancels_while_waiting(fresh_server: ServerProcess) -> None:
    patient = await connect_as(fresh_server.url, "patient3@demo.test")
    try:
        request = (await patient.call("patient:request_video"))["request"]
        again = await patient.call("patient:request_video")
        assert again["error"]["code"] == "already_active"
        assert await patient.call("patient:cancel", {"request_id": request["id"]}) == {"ok": True}
        cancelled = await patient.wait("patient:state", lambda s: _state(s) == "cancelled")
        assert _req(cancelled)["ended_reason"] == "cancelled"
        # A new request is possible once the previous one is over.
        assert (await patient.call("patient:request_video"))["ok"] is True
    finally:
        await patient.close()
