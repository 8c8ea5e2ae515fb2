"""socket.io event names and payloads: one frozen dataclass per inbound event, parsed once at the
boundary. docs/PROTOCOL.md and web_client/src/events.js use the same names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Literal

from waiting_room.model import RequestId, RoomId

# client -> server
PATIENT_REQUEST_VIDEO: Final = "patient:request_video"
PATIENT_CANCEL: Final = "patient:cancel"
GP_AVAILABLE: Final = "gp:available"
GP_UNAVAILABLE: Final = "gp:unavailable"
OFFER_ACCEPT: Final = "offer:accept"
OFFER_DECLINE: Final = "offer:decline"
RTC_SIGNAL: Final = "rtc:signal"
CALL_CONNECTED: Final = "call:connected"
CALL_HANGUP: Final = "call:hangup"
SESSION_SYNC: Final = "session:sync"
# server -> client
PATIENT_STATE: Final = "patient:state"
GP_STATE: Final = "gp:state"
QUEUE_STATS: Final = "queue:stats"
CALL_START: Final = "call:start"
CALL_ENDED: Final = "call:ended"
CALL_PEER: Final = "call:peer"
SLA_ALERT: Final = "sla:alert"
BOARD_STATE: Final = "board:state"
CALL_DEGRADED: Final = "call:degraded"
PATIENT_REQUEST_PHONE: Final = "patient:request_phone"
PHONE_OUTCOME: Final = "phone:outcome"
PHONE_END: Final = "phone:end"
CALL_DEGRADE: Final = "call:degrade"

MAX_SDP: Final = 60_000
MAX_CANDIDATE: Final = 1_024
_ID = re.compile(r"[0-9a-f]{32}")


class InvalidEvent(ValueError):
    """The payload does not match the event's schema; the message says exactly why."""

    code = "invalid_payload"


def _object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidEvent("the payload must be a JSON object")
    return payload


def _id(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidEvent(f"{name} must be an id of 32 hexadecimal characters")
    return value


def _str(payload: dict[str, Any], name: str, max_len: int, allow_empty: bool = False) -> str:
    value = payload.get(name)
    if not isinstance(value, str):
        raise InvalidEvent(f"{name} must be a string")
    if len(value) > max_len:
        raise InvalidEvent(f"{name} is longer than {max_len} characters")
    if not allow_empty and not value:
        raise InvalidEvent(f"{name} must not be empty")
    return value


@dataclass(frozen=True, slots=True)
class Empty:
    pass


def parse_empty(payload: Any) -> Empty:
    _object(payload)
    return Empty()


@dataclass(frozen=True, slots=True)
class RequestRef:
    request_id: RequestId


def parse_request_ref(payload: Any) -> RequestRef:
    return RequestRef(RequestId(_id(_object(payload), "request_id")))


@dataclass(frozen=True, slots=True)
class RoomRef:
    room_id: RoomId


def parse_room_ref(payload: Any) -> RoomRef:
    return RoomRef(RoomId(_id(_object(payload), "room_id")))


@dataclass(frozen=True, slots=True)
class CallConnected:
    room_id: RoomId
    media: Literal["video", "audio"]


def parse_call_connected(payload: Any) -> CallConnected:
    data = _object(payload)
    media = data.get("media")
    if media not in ("video", "audio"):
        raise InvalidEvent('media must be "video" or "audio"')
    return CallConnected(RoomId(_id(data, "room_id")), media)


@dataclass(frozen=True, slots=True)
class IceCandidate:
    candidate: str
    sdp_mid: str | None
    sdp_mline_index: int | None
    username_fragment: str | None


@dataclass(frozen=True, slots=True)
class RtcSignal:
    room_id: RoomId
    type: Literal["offer", "answer", "candidate"]
    sdp: str | None = None
    candidate: IceCandidate | None = None


def _candidate(raw: Any) -> IceCandidate:
    if not isinstance(raw, dict):
        raise InvalidEvent("candidate must be an object")
    text = _str(raw, "candidate", MAX_CANDIDATE, allow_empty=True)
    mid = raw.get("sdpMid")
    if mid is not None and (not isinstance(mid, str) or len(mid) > 32):
        raise InvalidEvent("candidate.sdpMid must be a short string or null")
    index = raw.get("sdpMLineIndex")
    if index is not None and (
        not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 64
    ):
        raise InvalidEvent("candidate.sdpMLineIndex must be an integer from 0 to 63 or null")
    ufrag = raw.get("usernameFragment")
    if ufrag is not None and (not isinstance(ufrag, str) or len(ufrag) > 256):
        raise InvalidEvent("candidate.usernameFragment must be a short string or null")
    return IceCandidate(text, mid, index, ufrag)


def parse_rtc_signal(payload: Any) -> RtcSignal:
    data = _object(payload)
    room_id = RoomId(_id(data, "room_id"))
    kind = data.get("type")
    if kind in ("offer", "answer"):
        return RtcSignal(room_id, kind, sdp=_str(data, "sdp", MAX_SDP))
    if kind == "candidate":
        return RtcSignal(room_id, "candidate", candidate=_candidate(data.get("candidate")))
    raise InvalidEvent('type must be "offer", "answer" or "candidate"')


def serialize_rtc_signal(signal: RtcSignal, sender_role: str) -> dict[str, Any]:
    """The relayed form: the parsed fields only (nothing unvalidated passes through)."""
    out: dict[str, Any] = {"room_id": signal.room_id, "type": signal.type, "from": sender_role}
    if signal.sdp is not None:
        out["sdp"] = signal.sdp
    if signal.candidate is not None:
        c = signal.candidate
        out["candidate"] = {
            "candidate": c.candidate,
            "sdpMid": c.sdp_mid,
            "sdpMLineIndex": c.sdp_mline_index,
            "usernameFragment": c.username_fragment,
        }
    return out


@dataclass(frozen=True, slots=True)
class VideoRequest:
    media: Literal["video", "audio"]


def parse_video_request(payload: Any) -> VideoRequest:
    data = _object(payload)
    media = data.get("media", "video")
    if media not in ("video", "audio"):
        raise InvalidEvent('media must be "video" or "audio"')
    return VideoRequest(media)


@dataclass(frozen=True, slots=True)
class PhoneRequest:
    phone_number: str


def parse_phone_request(payload: Any) -> PhoneRequest:
    return PhoneRequest(_str(_object(payload), "phone_number", 32))


@dataclass(frozen=True, slots=True)
class PhoneOutcome:
    request_id: RequestId
    outcome: Literal["reached", "no_answer", "wrong_number"]


def parse_phone_outcome(payload: Any) -> PhoneOutcome:
    data = _object(payload)
    outcome = data.get("outcome")
    if outcome not in ("reached", "no_answer", "wrong_number"):
        raise InvalidEvent('outcome must be "reached", "no_answer" or "wrong_number"')
    return PhoneOutcome(RequestId(_id(data, "request_id")), outcome)


@dataclass(frozen=True, slots=True)
class Degrade:
    room_id: RoomId
    to: Literal["audio", "phone"]
    reason: str


def parse_degrade(payload: Any) -> Degrade:
    data = _object(payload)
    to = data.get("to")
    if to not in ("audio", "phone"):
        raise InvalidEvent('to must be "audio" or "phone"')
    reason = data.get("reason", "user")
    if reason not in ("ice_failed", "quality", "user"):
        raise InvalidEvent('reason must be "ice_failed", "quality" or "user"')
    return Degrade(RoomId(_id(data, "room_id")), to, reason)
