"""The pure helpers of the echo peer: frame size, offer sanity checks, ICE server entries."""

from __future__ import annotations

from typing import Any

import pytest

from media.echo import MAX_MEDIA_SECTIONS, check_offer, fit, ice_server
from media.errors import InvalidOffer


@pytest.mark.parametrize(
    ("size", "fitted"),
    [
        ((640, 480), (320, 240)),
        ((1280, 720), (320, 180)),
        ((480, 640), (180, 240)),
        ((321, 240), (320, 238)),
        ((320, 240), (320, 240)),
        ((160, 120), (160, 120)),
        ((4000, 2), (320, 2)),
    ],
)
def test_fit_keeps_the_aspect_ratio_within_320x240(
    size: tuple[int, int], fitted: tuple[int, int]
) -> None:
    assert fit(*size) == fitted


SESSION = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
AUDIO = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
VIDEO = "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
DATA = "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"


@pytest.mark.parametrize("sdp", [SESSION + AUDIO, SESSION + VIDEO + DATA, SESSION + AUDIO * 4])
def test_check_offer_accepts(sdp: str) -> None:
    check_offer(sdp)


@pytest.mark.parametrize(
    "sdp",
    [
        "",
        "\r\n",
        "x=0\r\n" + AUDIO,
        SESSION,
        SESSION + DATA,
        SESSION + AUDIO * (MAX_MEDIA_SECTIONS + 1),
    ],
)
def test_check_offer_refuses(sdp: str) -> None:
    with pytest.raises(InvalidOffer):
        check_offer(sdp)


def test_ice_server_entries() -> None:
    turn = ice_server({"urls": ["turn:turn.example.fr:3478"], "username": "u", "credential": "c"})
    assert (turn.urls, turn.username, turn.credential) == (["turn:turn.example.fr:3478"], "u", "c")
    assert ice_server({"urls": "stun:stun.example.fr"}).urls == "stun:stun.example.fr"


@pytest.mark.parametrize(
    "entry",
    [{}, {"urls": ""}, {"urls": []}, {"urls": [1]}, {"urls": "stun:x", "username": 5}],
)
def test_ice_server_refuses(entry: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ice_server(entry)
