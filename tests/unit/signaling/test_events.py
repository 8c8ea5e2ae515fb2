"""Inbound payloads parse exactly as PROTOCOL.md says; golden payloads round-trip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from signaling import events as ev

DATA = Path(__file__).resolve().parents[2] / "data" / "events"


@pytest.mark.parametrize("name", sorted(p.stem for p in DATA.glob("rtc_signal_*.json")))
def test_rtc_signal_golden_payloads_round_trip(name: str) -> None:
    payload = json.loads((DATA / f"{name}.json").read_text())
    parsed = ev.parse_rtc_signal(payload)
    assert ev.serialize_rtc_signal(parsed, "physician") == {**payload, "from": "physician"}


def test_ref_payloads() -> None:
    accept = json.loads((DATA / "offer_accept.json").read_text())
    assert ev.parse_request_ref(accept).request_id == accept["request_id"]
    hangup = json.loads((DATA / "call_hangup.json").read_text())
    assert ev.parse_room_ref(hangup).room_id == hangup["room_id"]
    connected = json.loads((DATA / "call_connected.json").read_text())
    assert ev.parse_call_connected(connected) == ev.CallConnected(connected["room_id"], "audio")
    assert ev.parse_empty({}) == ev.Empty()


ROOM = "0123456789abcdef0123456789abcdef"
BAD: list[tuple[Any, str]] = [
    (None, "object"),
    ([], "object"),
    ({}, "room_id"),
    ({"room_id": ROOM.upper()}, "room_id"),
    ({"room_id": ROOM, "type": "pranswer", "sdp": "v=0"}, "type"),
    ({"room_id": ROOM, "type": "offer"}, "sdp must be a string"),
    ({"room_id": ROOM, "type": "offer", "sdp": ""}, "sdp must not be empty"),
    ({"room_id": ROOM, "type": "offer", "sdp": "x" * (ev.MAX_SDP + 1)}, "longer"),
    ({"room_id": ROOM, "type": "candidate"}, "candidate must be an object"),
    ({"room_id": ROOM, "type": "candidate", "candidate": {"candidate": None}}, "string"),
    (
        {"room_id": ROOM, "type": "candidate", "candidate": {"candidate": "c", "sdpMid": 0}},
        "sdpMid",
    ),
    (
        {
            "room_id": ROOM,
            "type": "candidate",
            "candidate": {"candidate": "c", "sdpMLineIndex": 64},
        },
        "sdpMLineIndex",
    ),
    (
        {
            "room_id": ROOM,
            "type": "candidate",
            "candidate": {"candidate": "c", "sdpMLineIndex": False},
        },
        "sdpMLineIndex",
    ),
    (
        {
            "room_id": ROOM,
            "type": "candidate",
            "candidate": {"candidate": "c", "usernameFragment": 7},
        },
        "usernameFragment",
    ),
]


@pytest.mark.parametrize(("payload", "message"), BAD)
def test_rtc_signal_refuses_with_an_exact_message(payload: Any, message: str) -> None:
    with pytest.raises(ev.InvalidEvent, match=message):
        ev.parse_rtc_signal(payload)


def test_other_parsers_refuse() -> None:
    with pytest.raises(ev.InvalidEvent, match="object"):
        ev.parse_empty("x")
    with pytest.raises(ev.InvalidEvent, match="request_id"):
        ev.parse_request_ref({"request_id": "1"})
    with pytest.raises(ev.InvalidEvent, match="media"):
        ev.parse_call_connected({"room_id": ROOM, "media": "smell"})


def test_event_names_match_the_web_client() -> None:
    js = (Path(__file__).resolve().parents[3] / "web_client" / "src" / "events.js").read_text()
    for name in (
        ev.PATIENT_REQUEST_VIDEO,
        ev.PATIENT_CANCEL,
        ev.GP_AVAILABLE,
        ev.GP_UNAVAILABLE,
        ev.OFFER_ACCEPT,
        ev.OFFER_DECLINE,
        ev.RTC_SIGNAL,
        ev.CALL_CONNECTED,
        ev.CALL_HANGUP,
        ev.PATIENT_STATE,
        ev.GP_STATE,
        ev.QUEUE_STATS,
        ev.CALL_START,
        ev.CALL_ENDED,
    ):
        assert f'"{name}"' in js, name
