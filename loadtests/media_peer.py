"""Real WebRTC peers for a share of the simulated video calls: aiortc on both sides, synthetic
tracks (aiortc's silent audio and plain video), the offer and answer relayed by the server as
``rtc:signal`` exactly as the browsers do. It measures call set-up end to end: from the GP's
``offer:accept`` to both peer connections ``connected`` and a first video frame received by the
patient. The peers close once measured; the call goes on at the signaling level.

aiortc puts its candidates in the SDP once gathering is complete (no trickle), so one offer and
one answer suffice. ICE servers are always explicit (``ice_servers``; empty on loopback).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack, VideoStreamTrack

from media.echo import ice_server

Send = Callable[[dict[str, Any]], Awaitable[Any]]
SETUP_TIMEOUT = 20.0
"""Real seconds a set-up may take before it counts as failed."""


def _peer(ice_servers: Sequence[Mapping[str, Any]]) -> RTCPeerConnection:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[ice_server(s) for s in ice_servers]))
    pc.addTrack(AudioStreamTrack())
    pc.addTrack(VideoStreamTrack())
    return pc


async def _connected(pc: RTCPeerConnection) -> None:
    done = asyncio.Event()

    @pc.on("connectionstatechange")
    def _changed() -> None:
        if pc.connectionState in ("connected", "failed", "closed"):
            done.set()

    if pc.connectionState != "connected":
        await done.wait()
    if pc.connectionState != "connected":
        raise ConnectionError(f"peer connection {pc.connectionState}")


class CallerPeer:
    """The GP's side: creates the offer (the physician is the caller, docs/PROTOCOL.md)."""

    def __init__(self, ice_servers: Sequence[Mapping[str, Any]], room_id: str, send: Send) -> None:
        self.pc = _peer(ice_servers)
        self.room_id = room_id
        self._send = send
        self._answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    def on_signal(self, data: Mapping[str, Any]) -> None:
        if data.get("type") == "answer" and not self._answer.done():
            self._answer.set_result(dict(data))

    async def connect(self) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        local = self.pc.localDescription
        await self._send({"room_id": self.room_id, "type": local.type, "sdp": local.sdp})
        answer = await self._answer
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await _connected(self.pc)

    async def close(self) -> None:
        await self.pc.close()


class CalleePeer:
    """The patient's side: answers the offer and waits for the first video frame."""

    def __init__(self, ice_servers: Sequence[Mapping[str, Any]], send: Send) -> None:
        self.pc = _peer(ice_servers)
        self._send = send
        self.first_frame = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

        @self.pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                self._tasks.append(asyncio.create_task(self._first(track)))

    async def _first(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(Exception):
            await track.recv()
            self.first_frame.set()

    async def answer(self, offer: Mapping[str, Any]) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(str(offer["sdp"]), "offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        local = self.pc.localDescription
        await self._send({"room_id": offer["room_id"], "type": local.type, "sdp": local.sdp})
        await _connected(self.pc)
        await self.first_frame.wait()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pc.close()
