"""The pre-call echo peer (PROTOCOL.md, "Pre-call check"): an aiortc client with synthetic tracks
offers to ``EchoService``, connects over loopback and gets its media back; the session cap, the
time limit and the closing rules hold.

Runs inside the loopback-only namespace of scripts/test (127.0.0.2 on lo: aioice leaves out
127.0.0.1). ICE servers are always explicit and empty: nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import fractions
import json
import socket
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import av
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiortc import (
    AudioStreamTrack,
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from media.echo import EchoService
from media.errors import EchoBusy, InvalidOffer
from records.accounts import User
from signaling.echo_api import EchoApi
from signaling.errors import BadRequest, Forbidden
from signaling.http_api import MAX_BODY, errors_middleware
from waiting_room.model import Role, UserId

pytestmark = pytest.mark.timeout(60)

VIDEO_CLOCK = 90_000


def loopback_only() -> bool:
    return [name for _, name in socket.if_nameindex()] == ["lo"]


@pytest.fixture(autouse=True)
def _loopback_namespace() -> None:
    if not loopback_only():
        pytest.fail("echo tests run inside the loopback-only namespace: use scripts/test")


class SolidColourTrack(MediaStreamTrack):
    """640x480 frames of one colour at about ``fps`` frames per second, with a 90 kHz clock."""

    kind = "video"

    def __init__(self, fps: float = 10.0, width: int = 640, height: int = 480) -> None:
        super().__init__()
        self.fps = fps
        self.width = width
        self.height = height
        self._count = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        else:
            await asyncio.sleep(max(0.0, self._start + self._count / self.fps - loop.time()))
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        for plane, value in zip(frame.planes, (81, 90, 240), strict=True):  # red, in YUV
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts = int(self._count * VIDEO_CLOCK / self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._count += 1
        return frame


class Client:
    """The patient's side: an aiortc peer that sends synthetic audio and video and records what
    comes back."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.received: Counter[str] = Counter()
        self.sizes: set[tuple[int, int]] = set()
        self._readers: list[asyncio.Task[None]] = []
        self.pc.addTrack(AudioStreamTrack())
        self.pc.addTrack(SolidColourTrack())
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._readers.append(asyncio.get_running_loop().create_task(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                self.received[track.kind] += 1
                if isinstance(frame, av.VideoFrame):
                    self.sizes.add((frame.width, frame.height))
        except MediaStreamError:
            pass

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def accept(self, answer_sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))

    async def close(self) -> None:
        await self.pc.close()
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)


async def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)
    assert check(), what


@pytest.fixture
async def clients() -> AsyncIterator[Callable[[], Client]]:
    made: list[Client] = []

    def make() -> Client:
        made.append(Client())
        return made[-1]

    yield make
    await asyncio.gather(*(c.close() for c in made))


@pytest.fixture
async def services() -> AsyncIterator[Callable[..., EchoService]]:
    made: list[EchoService] = []

    def make(max_sessions: int = 4, max_seconds: float = 8.0) -> EchoService:
        made.append(EchoService(max_sessions, max_seconds, ice_servers=[]))
        return made[-1]

    yield make
    await asyncio.gather(*(s.close() for s in made))


async def connect(echo: EchoService, client: Client) -> str:
    answer, session_id = await echo.answer(await client.offer())
    await client.accept(answer)
    return session_id


async def test_media_comes_back_downscaled(
    services: Callable[..., EchoService], clients: Callable[[], Client]
) -> None:
    echo = services()
    client = clients()
    session_id = await connect(echo, client)
    assert len(session_id) == 32 and int(session_id, 16) >= 0
    await until(lambda: client.pc.connectionState == "connected", 5, "client connected")
    await until(
        lambda: client.received["video"] > 0 and client.received["audio"] > 0,
        5,
        "video and audio frames echoed",
    )
    assert client.sizes and all(w <= 320 and h <= 240 for w, h in client.sizes), client.sizes


async def test_answer_carries_candidates_and_no_public_stun(
    services: Callable[..., EchoService], clients: Callable[[], Client]
) -> None:
    answer, _ = await services().answer(await clients().offer())
    candidates = [line for line in answer.splitlines() if line.startswith("a=candidate:")]
    assert candidates, "the answer holds its candidates: the echo peer does not trickle"
    assert all("typ host" in line for line in candidates), "no server reflexive: no STUN used"
    assert "a=end-of-candidates" in answer


async def test_the_cap_refuses_one_more_session(
    services: Callable[..., EchoService], clients: Callable[[], Client]
) -> None:
    echo = services(max_sessions=2, max_seconds=20)
    offers = [await clients().offer() for _ in range(3)]
    results = await asyncio.gather(*(echo.answer(o) for o in offers), return_exceptions=True)
    refused = [r for r in results if isinstance(r, EchoBusy)]
    assert len(refused) == 1, results
    assert len(echo.session_ids) == 2
    with pytest.raises(EchoBusy):
        await echo.answer(await clients().offer())


async def test_an_owner_replaces_their_own_session(
    services: Callable[..., EchoService], clients: Callable[[], Client]
) -> None:
    echo = services(max_sessions=1, max_seconds=20)
    _, first = await echo.answer(await clients().offer(), owner="patient-a")
    with pytest.raises(EchoBusy):
        await echo.answer(await clients().offer(), owner="patient-b")
    _, second = await echo.answer(await clients().offer(), owner="patient-a")
    assert echo.session_ids == [second] and second != first


async def test_sessions_close_after_max_seconds(
    services: Callable[..., EchoService], clients: Callable[[], Client]
) -> None:
    echo = services(max_seconds=1.0)
    client = clients()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await connect(echo, client)
    await until(lambda: client.pc.connectionState == "connected", 5, "client connected")
    await until(lambda: not echo.session_ids, 4, "session closed by its time limit")
    assert loop.time() - started >= 1.0
    # The server's DTLS close reaches the client, whose connection closes too.
    await until(lambda: client.pc.connectionState == "closed", 4, "client sees the end")


async def test_a_session_closes_when_the_client_leaves(
    services: Callable[..., EchoService], clients: Callable[[], Client]
) -> None:
    echo = services(max_seconds=30)
    client = clients()
    await connect(echo, client)
    await until(lambda: client.pc.connectionState == "connected", 5, "client connected")
    await client.pc.close()
    await until(lambda: not echo.session_ids, 5, "session closed with its connection")


async def test_close_ends_every_session(
    services: Callable[..., EchoService], clients: Callable[[], Client]
) -> None:
    echo = services(max_seconds=30)
    client = clients()
    await connect(echo, client)
    await until(lambda: client.pc.connectionState == "connected", 5, "client connected")
    await echo.answer(await clients().offer())
    assert len(echo.session_ids) == 2
    await echo.close()
    assert echo.session_ids == []
    with pytest.raises(EchoBusy):
        await echo.answer(await clients().offer())
    await until(lambda: client.pc.connectionState == "closed", 4, "client sees the end")


BAD_OFFERS = [
    "",
    "hello",
    "v=0\r\n",
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc\r\n",
    "v=0\r\n" + "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n" * 5,
    "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n",
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video x y z\r\n",
    "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=mid:0\r\n",
]


@pytest.mark.parametrize("sdp", BAD_OFFERS)
async def test_bad_offers_are_refused_and_leave_nothing(
    services: Callable[..., EchoService], sdp: str
) -> None:
    echo = services()
    with pytest.raises(InvalidOffer):
        await echo.answer(sdp)
    assert echo.session_ids == []


# -- the HTTP routes in-process: EchoApi over a real aiohttp server with a stand-in for AuthApi --
class TokenAuth:
    """Stands in for ``AuthApi.user``: ``Bearer <role>`` is an account of that role."""

    async def user(self, request: web.Request, *roles: Role) -> User:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not token:
            raise BadRequest("auth_required", "send Authorization: Bearer <access token>", 401)
        role = Role(token)
        if roles and role not in roles:
            raise Forbidden(f"the role {role} may not use this route")
        return User(UserId("a" * 32), "anne@example.fr", role, "Anne", "Martin", True)


PATIENT = {"Authorization": "Bearer patient"}


@pytest.fixture
async def http() -> AsyncIterator[tuple[TestClient[web.Request, web.Application], EchoService]]:
    echo = EchoService(max_sessions=1, max_seconds=5.0, ice_servers=[])
    api = EchoApi(TokenAuth(), echo)
    app = web.Application(client_max_size=MAX_BODY, middlewares=[errors_middleware])
    api.add_routes(app)
    app.on_cleanup.append(lambda _: api.close())
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    yield client, echo
    await client.close()


async def post(
    client: TestClient[web.Request, web.Application],
    route: str,
    body: Any,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    resp = await client.post(route, data=data, headers=PATIENT if headers is None else headers)
    return resp.status, await resp.json()


def error_code(status: int, body: Any) -> tuple[int, str]:
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"} and body["error"]["message"], body
    return status, body["error"]["code"]


INVALID_OFFERS: list[Any] = [
    {},
    {"sdp": "v=0"},
    {"type": "answer", "sdp": "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"},
    {"type": "OFFER", "sdp": "v=0"},
    {"type": ["offer"], "sdp": "v=0"},
    {"type": "offer"},
    {"type": "offer", "sdp": None},
    {"type": "offer", "sdp": 12},
    {"type": "offer", "sdp": ["v=0"]},
    {"type": "offer", "sdp": {"sdp": "v=0"}},
    {"type": "offer", "sdp": ""},
    {"type": "offer", "sdp": "v" * 60_001},
    {"type": "offer", "sdp": "v=0\r\n"},
    {"type": "offer", "sdp": "\u0000" * 100},
    {"type": "offer", "sdp": "v=0\r\n" + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" * 50},
    {"type": "offer", "sdp": "v=0\r\nm=video x y z\r\na=candidate:../../etc/passwd\r\n"},
]


@pytest.mark.parametrize("body", INVALID_OFFERS)
async def test_offer_route_refuses_bad_offers(
    http: tuple[TestClient[web.Request, web.Application], EchoService], body: Any
) -> None:
    client, echo = http
    assert error_code(*await post(client, "/api/echo/offer", body)) == (400, "invalid_field")
    assert echo.session_ids == []


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        ({"type": "offer", "sdp": "v=0"}, {}, (401, "auth_required")),
        (
            {"type": "offer", "sdp": "v=0"},
            {"Authorization": "Bearer physician"},
            (403, "forbidden"),
        ),
        ("not json", None, (400, "invalid_json")),
        ("NaN", None, (400, "invalid_json")),
        ([{"type": "offer"}], None, (400, "invalid_json")),
        ("null", None, (400, "invalid_json")),
        ({"type": "offer", "sdp": "v" * 70_000}, None, (413, "payload_too_large")),
    ],
)
async def test_offer_route_refuses_bad_requests(
    http: tuple[TestClient[web.Request, web.Application], EchoService],
    body: Any,
    headers: dict[str, str] | None,
    expected: tuple[int, str],
) -> None:
    client, echo = http
    assert error_code(*await post(client, "/api/echo/offer", body, headers)) == expected
    assert echo.session_ids == []


async def test_offer_route_answers_and_media_comes_back(
    http: tuple[TestClient[web.Request, web.Application], EchoService],
    clients: Callable[[], Client],
) -> None:
    client, echo = http
    patient = clients()
    status, body = await post(
        client, "/api/echo/offer", {"type": "offer", "sdp": await patient.offer()}
    )
    assert status == 200, body
    assert set(body) == {"type", "sdp", "session_id", "max_seconds"}
    assert body["type"] == "answer" and body["max_seconds"] == 5
    assert echo.session_ids == [body["session_id"]]
    await patient.accept(body["sdp"])
    await until(lambda: patient.received["video"] > 0, 5, "video echoed over the HTTP route")
    # The same account offering again (a reloaded page) replaces its own session.
    status, again = await post(
        client, "/api/echo/offer", {"type": "offer", "sdp": await clients().offer()}
    )
    assert status == 200, again
    assert echo.session_ids == [again["session_id"]]


async def test_offer_route_is_busy_when_the_node_is_full(
    http: tuple[TestClient[web.Request, web.Application], EchoService],
    clients: Callable[[], Client],
) -> None:
    client, echo = http
    await echo.answer(await clients().offer(), owner="b" * 32)  # the node's only slot
    offer = {"type": "offer", "sdp": await clients().offer()}
    assert error_code(*await post(client, "/api/echo/offer", offer)) == (503, "echo_busy")
    assert len(echo.session_ids) == 1


DEVICE = {"camera": True, "microphone": True, "permission": "granted", "in_use": False}


def stats(t_ms: float, kbytes: int, packets: int, lost: int = 0, rtt: Any = 20.0) -> dict[str, Any]:
    return {
        "t_ms": t_ms,
        "rtt_ms": rtt,
        "bytes_received": kbytes * 1000,
        "packets_received": packets,
        "packets_lost": lost,
    }


GOOD_NETWORK = {
    "connect_ms": 180,
    "samples": [stats(0, 0, 0), stats(1000, 60, 120), stats(2000, 120, 240)],
}


@pytest.mark.parametrize(
    ("network", "expected"),
    [
        (
            None,
            {
                "verdict": "video",
                "reasons": ["no_network_test"],
                "measurements": {
                    "connect_ms": None,
                    "rtt_ms": None,
                    "loss": None,
                    "bitrate_kbps": None,
                },
            },
        ),
        (
            GOOD_NETWORK,
            {
                "verdict": "video",
                "reasons": [],
                "measurements": {
                    "connect_ms": 180.0,
                    "rtt_ms": 20.0,
                    "loss": 0.0,
                    "bitrate_kbps": 480.0,
                },
            },
        ),
        (
            {
                "connect_ms": 900.5,
                "samples": [stats(0, 0, 0, 0, 700), stats(1000, 10, 80, 20, None)],
            },
            {
                "verdict": "phone",
                "reasons": ["high_loss"],
                "measurements": {
                    "connect_ms": 900.5,
                    "rtt_ms": 700.0,
                    "loss": 0.2,
                    "bitrate_kbps": 80.0,
                },
            },
        ),
        (
            {"connect_ms": 0, "samples": []},
            {
                "verdict": "video",
                "reasons": ["no_network_test"],
                "measurements": {
                    "connect_ms": 0.0,
                    "rtt_ms": None,
                    "loss": None,
                    "bitrate_kbps": None,
                },
            },
        ),
    ],
)
async def test_verdict_route(
    http: tuple[TestClient[web.Request, web.Application], EchoService],
    network: Any,
    expected: dict[str, Any],
) -> None:
    client, _ = http
    status, body = await post(client, "/api/echo/verdict", {"device": DEVICE, "network": network})
    assert (status, body) == (200, expected)


def with_device(**changes: Any) -> dict[str, Any]:
    return {"device": {**DEVICE, **changes}, "network": None}


def with_sample(**changes: Any) -> dict[str, Any]:
    sample = {**stats(1000, 10, 10), **changes}
    return {"device": DEVICE, "network": {"connect_ms": 100, "samples": [stats(0, 0, 0), sample]}}


def without(field: str) -> dict[str, Any]:
    sample = stats(1000, 10, 10)
    del sample[field]
    return {"device": DEVICE, "network": {"connect_ms": 100, "samples": [sample]}}


BAD_VERDICTS: list[tuple[Any, str]] = [
    ({}, "device"),
    ({"device": None, "network": None}, "device"),
    ({"device": [], "network": None}, "device"),
    ({"device": DEVICE}, "network"),
    (with_device(camera="yes"), "device.camera"),
    (with_device(camera=1), "device.camera"),
    (with_device(microphone=None), "device.microphone"),
    (with_device(in_use=0), "device.in_use"),
    (with_device(permission="maybe"), "device.permission"),
    (with_device(permission="GRANTED"), "device.permission"),
    (with_device(permission=True), "device.permission"),
    (with_device(permission=["granted"]), "device.permission"),
    ({"device": DEVICE, "network": "fast"}, "network"),
    ({"device": DEVICE, "network": []}, "network"),
    ({"device": DEVICE, "network": {"connect_ms": 100}}, "network.samples"),
    ({"device": DEVICE, "network": {"connect_ms": 100, "samples": {}}}, "network.samples"),
    (
        {
            "device": DEVICE,
            "network": {"connect_ms": 1, "samples": [stats(i, i, i) for i in range(21)]},
        },
        "network.samples",
    ),
    ({"device": DEVICE, "network": {"samples": []}}, "network.connect_ms"),
    ({"device": DEVICE, "network": {"connect_ms": -1, "samples": []}}, "network.connect_ms"),
    ({"device": DEVICE, "network": {"connect_ms": "100", "samples": []}}, "network.connect_ms"),
    ({"device": DEVICE, "network": {"connect_ms": True, "samples": []}}, "network.connect_ms"),
    ({"device": DEVICE, "network": {"connect_ms": 1e300, "samples": []}}, "network.connect_ms"),
    ({"device": DEVICE, "network": {"connect_ms": 1, "samples": [None]}}, "network.samples[0]"),
    ({"device": DEVICE, "network": {"connect_ms": 1, "samples": ["x"]}}, "network.samples[0]"),
    (with_sample(t_ms=-1), "network.samples[1].t_ms"),
    (with_sample(t_ms="1000"), "network.samples[1].t_ms"),
    (with_sample(t_ms=None), "network.samples[1].t_ms"),
    (with_sample(rtt_ms=-0.5), "network.samples[1].rtt_ms"),
    (with_sample(rtt_ms="20"), "network.samples[1].rtt_ms"),
    (with_sample(rtt_ms=1e9), "network.samples[1].rtt_ms"),
    (with_sample(bytes_received=1.5), "network.samples[1].bytes_received"),
    (with_sample(bytes_received=-1), "network.samples[1].bytes_received"),
    (with_sample(bytes_received=2**53 + 1), "network.samples[1].bytes_received"),
    (with_sample(bytes_received=10**400), "network.samples[1].bytes_received"),
    (with_sample(packets_received=False), "network.samples[1].packets_received"),
    (with_sample(packets_lost=-(2**53) - 1), "network.samples[1].packets_lost"),
    (with_sample(packets_lost="0"), "network.samples[1].packets_lost"),
    (without("t_ms"), "network.samples[0].t_ms"),
    (without("bytes_received"), "network.samples[0].bytes_received"),
    (without("packets_received"), "network.samples[0].packets_received"),
    (without("packets_lost"), "network.samples[0].packets_lost"),
]


@pytest.mark.parametrize(("body", "field"), BAD_VERDICTS)
async def test_verdict_route_names_the_bad_field(
    http: tuple[TestClient[web.Request, web.Application], EchoService], body: Any, field: str
) -> None:
    client, _ = http
    status, answer = await post(client, "/api/echo/verdict", body)
    assert error_code(status, answer) == (400, "invalid_field")
    assert answer["error"]["message"].startswith(f"{field} must be"), answer


@pytest.mark.parametrize(
    "raw",
    [
        '{"device": {"camera": true, "microphone": true, "permission": "granted", "in_use": false},'
        ' "network": {"connect_ms": NaN, "samples": []}}',
        '{"device": {"camera": true, "microphone": true, "permission": "granted", "in_use": false},'
        ' "network": {"connect_ms": Infinity, "samples": []}}',
        '{"device": {"camera": true, "microphone": true, "permission": "granted", "in_use": false},'
        ' "network": {"connect_ms": 1, "samples": [{"t_ms": -Infinity, "rtt_ms": null,'
        ' "bytes_received": 0, "packets_received": 0, "packets_lost": 0}]}}',
    ],
)
async def test_verdict_route_refuses_non_finite_numbers(
    http: tuple[TestClient[web.Request, web.Application], EchoService], raw: str
) -> None:
    client, _ = http
    assert error_code(*await post(client, "/api/echo/verdict", raw)) == (400, "invalid_field")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({}, (401, "auth_required")), ({"Authorization": "Bearer supervisor"}, (403, "forbidden"))],
)
async def test_verdict_route_is_for_patients(
    http: tuple[TestClient[web.Request, web.Application], EchoService],
    headers: dict[str, str],
    expected: tuple[int, str],
) -> None:
    client, _ = http
    body = {"device": DEVICE, "network": None}
    assert error_code(*await post(client, "/api/echo/verdict", body, headers)) == expected
