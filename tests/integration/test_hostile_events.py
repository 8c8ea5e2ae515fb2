"""Bad input never crashes anything: every socket.io event answers a clear error ack for hostile
payloads, changes nothing, and the connection and other users keep working."""

from __future__ import annotations

from typing import Any

import pytest
import socketio

from tests.support.clients import connect_as, login
from tests.support.processes import ServerProcess

ROOM = "ab" * 16
HOSTILE: list[Any] = [
    {"phone_number": 612345678},
    {"phone_number": "0" * 40},
    {"phone_number": "01 42 00 00 00"},  # a landline: no callback there (R15)
    {"request_id": "ab" * 16, "outcome": "maybe"},
    {"room_id": ROOM, "to": "fax"},
    {"room_id": ROOM, "to": "phone", "reason": "bored"},
    None,
    42,
    "text",
    [1, 2, 3],
    True,
    {"request_id": 1},
    {"request_id": "../../etc/passwd"},
    {"request_id": "A" * 32},
    {"request_id": "a" * 33},
    {"room_id": None},
    {"room_id": ROOM, "type": "offer"},
    {"room_id": ROOM, "type": "offer", "sdp": 12},
    {"room_id": ROOM, "type": "offer", "sdp": "v" * 60_001},
    {"room_id": ROOM, "type": "answer", "sdp": ""},
    {"room_id": ROOM, "type": "candidate", "candidate": "x"},
    {"room_id": ROOM, "type": "candidate", "candidate": {"candidate": 5}},
    {"room_id": ROOM, "type": "candidate", "candidate": {"candidate": "c", "sdpMLineIndex": True}},
    {"room_id": ROOM, "type": "candidate", "candidate": {"candidate": "c", "sdpMLineIndex": -1}},
    {"room_id": ROOM, "type": "candidate", "candidate": {"candidate": "c" * 1025}},
    {"room_id": ROOM, "type": "__proto__"},
    {"room_id": ROOM, "media": "hologram"},
]

PATIENT_EVENTS = [
    "patient:request_phone",
    "call:degrade",
    "patient:request_video",
    "patient:cancel",
    "rtc:signal",
    "call:connected",
    "call:hangup",
    "session:sync",
]
GP_EVENTS = [
    "phone:outcome",
    "phone:end",
    "call:degrade",
    "gp:available",
    "gp:unavailable",
    "offer:accept",
    "offer:decline",
    "rtc:signal",
    "call:connected",
    "call:hangup",
]


def _is_error(ack: Any) -> bool:
    return (
        isinstance(ack, dict)
        and ack.get("ok") is False
        and isinstance(ack["error"].get("code"), str)
        and isinstance(ack["error"].get("message"), str)
    )


async def test_hostile_payloads_get_error_acks_and_change_nothing(
    fresh_server: ServerProcess,
) -> None:
    patient = await connect_as(fresh_server.url, "patient1@demo.test")
    gp = await connect_as(fresh_server.url, "gp1@demo.test")
    bystander = await connect_as(fresh_server.url, "patient2@demo.test")
    try:
        for peer, names in ((patient, PATIENT_EVENTS), (gp, GP_EVENTS)):
            for name in names:
                for payload in HOSTILE:
                    ack = await peer.sio.call(name, payload, timeout=5)
                    if ack.get("ok") is True:
                        # Only events whose payload is {} may accept a dict with extra keys.
                        assert name in (
                            "session:sync",
                            "gp:available",
                            "gp:unavailable",
                            "patient:request_video",
                        ), (name, payload)
                        assert isinstance(payload, dict)
                        if name == "patient:request_video":
                            await peer.call("patient:cancel", {"request_id": ack["request"]["id"]})
                        if name == "gp:available":
                            await peer.call("gp:unavailable")
                        continue
                    assert _is_error(ack), (name, payload, ack)
        # Several arguments, or none, are refused too.
        no_arg = await patient.sio.call("session:sync", timeout=5)
        assert _is_error(no_arg) and no_arg["error"]["code"] == "invalid_payload"
        # A role may not send the other's events.
        forbidden = await patient.call("gp:available")
        assert forbidden["error"]["code"] == "forbidden"
        forbidden = await gp.call("patient:request_video")
        assert forbidden["error"]["code"] == "forbidden"
        # Nothing changed, and both connections still work: a real consultation goes through.
        assert patient.sio.connected and gp.sio.connected
        request = (await bystander.call("patient:request_video"))["request"]
        assert request["position"] == 1
        await gp.call("gp:available")
        offered = await gp.wait("gp:state", lambda s: s["status"] == "offered")
        assert offered["offer"]["request_id"] == request["id"]
    finally:
        for peer in (patient, gp, bystander):
            await peer.close()


async def test_an_oversized_message_closes_only_that_connection(
    fresh_server: ServerProcess,
) -> None:
    other = await connect_as(fresh_server.url, "patient2@demo.test")
    big = socketio.AsyncClient(reconnection=False)
    await big.connect(
        fresh_server.url,
        auth={"token": await login(fresh_server.url, "patient1@demo.test")},
        transports=["websocket"],
    )
    try:
        with pytest.raises(
            (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError)
        ):
            await big.call("session:sync", {"pad": "x" * 70_000}, timeout=3)
        ack = await other.call("session:sync")
        assert ack["ok"] is True
    finally:
        await big.disconnect()
        await other.close()
