"""HTTP routes of the pre-call check (PROTOCOL.md, "Pre-call check: network test against the
server's echo peer"): the echo offer and the verdict (R8, R15).

Every field is validated here, once; ``media/`` only sees typed values. Neither SDPs (they hold
addresses) nor stats are logged: only session ids, by ``media.echo``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Final, Protocol

from aiohttp import web

from media.echo import EchoService
from media.errors import EchoBusy, InvalidOffer
from media.measure import NO_MEASUREMENTS, Measurements, NetworkReport, StatsSample, measure
from media.verdict import Device, Permission, verdict
from records.accounts import User
from signaling.errors import BadRequest
from signaling.events import MAX_SDP
from signaling.http_api import read_json
from waiting_room.model import Role

logger = logging.getLogger(__name__)

MAX_SAMPLES: Final = 20
MAX_CONNECT_MS: Final = 600_000.0
"""Ten minutes: far beyond any ICE timeout."""
MAX_RTT_MS: Final = 600_000.0
MAX_T_MS: Final = 1e15
"""getStats() timestamps are milliseconds since 1970 (about 1.8e12) or since page load."""
MAX_COUNTER: Final = 2**53
"""JavaScript's largest exact integer."""


def _field(name: str, expected: str) -> BadRequest:
    return BadRequest("invalid_field", f"{name} must be {expected}")


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _field(name, "an object")
    return value


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise _field(name, "true or false")
    return value


def _number(value: Any, name: str, low: float, high: float) -> float:
    # json.loads accepts NaN and Infinity: refused by the range check.
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise _field(name, f"a number between {low:g} and {high:g}")
    return float(value)


def _int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _field(name, f"an integer between {low} and {high}")
    return value


def parse_offer(body: dict[str, Any]) -> str:
    """The offer's SDP from ``{"type": "offer", "sdp": "..."}``."""
    if body.get("type") != "offer":
        raise _field("type", '"offer"')
    sdp = body.get("sdp")
    if not isinstance(sdp, str) or not sdp:
        raise _field("sdp", "a non-empty string")
    if len(sdp) > MAX_SDP:
        raise BadRequest("invalid_field", f"sdp is longer than {MAX_SDP} characters")
    return sdp


def parse_device(raw: Any) -> Device:
    device = _object(raw, "device")
    permission = device.get("permission")
    if not isinstance(permission, str) or permission not in {p.value for p in Permission}:
        raise _field("device.permission", '"granted", "denied" or "prompt"')
    return Device(
        camera=_bool(device.get("camera"), "device.camera"),
        microphone=_bool(device.get("microphone"), "device.microphone"),
        permission=Permission(permission),
        in_use=_bool(device.get("in_use"), "device.in_use"),
    )


def parse_sample(raw: Any, name: str) -> StatsSample:
    sample = _object(raw, name)
    rtt = sample.get("rtt_ms")
    return StatsSample(
        t_ms=_number(sample.get("t_ms"), f"{name}.t_ms", 0, MAX_T_MS),
        rtt_ms=None if rtt is None else _number(rtt, f"{name}.rtt_ms", 0, MAX_RTT_MS),
        bytes_received=_int(sample.get("bytes_received"), f"{name}.bytes_received", 0, MAX_COUNTER),
        packets_received=_int(
            sample.get("packets_received"), f"{name}.packets_received", 0, MAX_COUNTER
        ),
        # packetsLost may be negative (duplicated packets, RFC 3550 6.4.1).
        packets_lost=_int(
            sample.get("packets_lost"), f"{name}.packets_lost", -MAX_COUNTER, MAX_COUNTER
        ),
    )


def parse_network(raw: Any) -> NetworkReport | None:
    if raw is None:
        return None
    network = _object(raw, "network")
    samples = network.get("samples")
    if not isinstance(samples, list) or len(samples) > MAX_SAMPLES:
        raise _field("network.samples", f"a list of at most {MAX_SAMPLES} samples")
    return NetworkReport(
        connect_ms=_number(network.get("connect_ms"), "network.connect_ms", 0, MAX_CONNECT_MS),
        samples=tuple(parse_sample(s, f"network.samples[{i}]") for i, s in enumerate(samples)),
    )


def measurements_body(m: Measurements) -> dict[str, float | None]:
    return {
        "connect_ms": m.connect_ms,
        "rtt_ms": m.rtt_ms,
        "loss": m.loss,
        "bitrate_kbps": m.bitrate_kbps,
    }


def _seconds(value: float) -> int | float:
    return int(value) if value.is_integer() else value


class Authenticator(Protocol):
    """``signaling.http_api.AuthApi`` as these routes use it."""

    async def user(self, request: web.Request, *roles: Role) -> User: ...


@dataclass
class EchoApi:
    auth: Authenticator
    """``AuthApi`` in the app: Bearer access token, patients only."""
    echo: EchoService

    async def post_offer(self, request: web.Request) -> web.Response:
        """Answer a patient's complete offer with the echo peer's (PROTOCOL.md, pre-call check)."""
        user = await self.auth.user(request, Role.PATIENT)
        sdp = parse_offer(await read_json(request))
        try:
            answer, session_id = await self.echo.answer(sdp, owner=user.id)
        except EchoBusy as exc:
            raise BadRequest(exc.code, str(exc), 503) from None
        except InvalidOffer as exc:
            raise BadRequest(exc.code, f"sdp: {exc}") from None
        return web.json_response(
            {
                "type": "answer",
                "sdp": answer,
                "session_id": session_id,
                "max_seconds": _seconds(self.echo.max_seconds),
            }
        )

    async def post_verdict(self, request: web.Request) -> web.Response:
        """Video, audio or phone from the device check and the echo test's stats (R8, R15)."""
        await self.auth.user(request, Role.PATIENT)
        body = await read_json(request)
        device = parse_device(body.get("device"))
        if "network" not in body:
            raise _field("network", "null or an object")
        report = parse_network(body["network"])
        measurements = None if report is None else measure(report)
        result, reasons = verdict(device, measurements)
        return web.json_response(
            {
                "verdict": result.value,
                "reasons": [r.value for r in reasons],
                "measurements": measurements_body(measurements or NO_MEASUREMENTS),
            }
        )

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/api/echo/offer", self.post_offer)
        app.router.add_post("/api/echo/verdict", self.post_verdict)

    async def close(self) -> None:
        """Close every echo session (app cleanup)."""
        await self.echo.close()
