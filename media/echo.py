"""The server's echo peer for the pre-call network test (PROTOCOL.md, "Pre-call check").

The only module that imports aiortc and av. A patient's browser offers (after ICE gathering: aiortc
does not trickle), this peer answers with every candidate, and sends each received track back,
video at most 320x240. A session lasts at most ``max_seconds``; a node runs at most
``max_sessions`` at once.

Codecs never run on the event loop: aiortc decodes in its receiver's thread and encodes in the
loop's executor, and the downscale runs in ``asyncio.to_thread`` (PyAV's scaler releases the GIL).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from av import VideoFrame
from av.frame import Frame
from av.packet import Packet
from av.video.reformatter import VideoReformatter

from media.errors import EchoBusy, InvalidOffer

logger = logging.getLogger(__name__)

MAX_WIDTH: Final = 320
MAX_HEIGHT: Final = 240
MAX_MEDIA_SECTIONS: Final = 4
"""A pre-call offer has audio, video and maybe a data channel; more only costs ICE transports."""
NEGOTIATION_SECONDS: Final = 10.0
"""Bound on answering (ICE gathering with STUN/TURN servers configured)."""


def fit(
    width: int, height: int, max_width: int = MAX_WIDTH, max_height: int = MAX_HEIGHT
) -> tuple[int, int]:
    """The largest even size within ``max_width`` x ``max_height`` that keeps the aspect ratio;
    the size itself when it already fits."""
    if width <= max_width and height <= max_height:
        return width, height
    scale = min(max_width / width, max_height / height)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


class EchoTrack(MediaStreamTrack):
    """Sends back what ``source`` receives; video frames larger than 320x240 are downscaled in a
    worker thread."""

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.kind = source.kind
        self._source = source
        self._scaler = VideoReformatter()

    async def recv(self) -> Frame | Packet[Any]:
        frame = await self._source.recv()
        if isinstance(frame, VideoFrame):
            width, height = fit(frame.width, frame.height)
            if (width, height) != (frame.width, frame.height):
                # One scaler per track, used by one thread at a time: the sender awaits each
                # frame before asking for the next. threads=1: the codecs need the other cores.
                frame = await asyncio.to_thread(
                    self._scaler.reformat, frame, width=width, height=height, threads=1
                )
        return frame


@dataclass
class _Session:
    id: str
    pc: RTCPeerConnection
    owner: str | None
    tracks: list[EchoTrack] = field(default_factory=list)
    expiry: asyncio.TimerHandle | None = None


def ice_server(entry: Mapping[str, Any]) -> RTCIceServer:
    """aiortc's RTCIceServer from a ``{"urls", "username"?, "credential"?}`` entry."""
    urls = entry.get("urls")
    if isinstance(urls, list) and urls and all(isinstance(u, str) for u in urls):
        url_list: str | list[str] = [str(u) for u in urls]
    elif isinstance(urls, str) and urls:
        url_list = urls
    else:
        raise ValueError("an ICE server needs urls: a string or a list of strings")
    username = entry.get("username")
    credential = entry.get("credential")
    if not isinstance(username, str | None) or not isinstance(credential, str | None):
        raise ValueError("an ICE server's username and credential are strings")
    return RTCIceServer(urls=url_list, username=username, credential=credential)


def check_offer(sdp: str) -> None:
    """Cheap checks before aiortc parses the offer: an SDP with one to four media sections, at
    least one of them audio or video."""
    lines = sdp.splitlines()
    if not lines or lines[0].strip() != "v=0":
        raise InvalidOffer("sdp must be an SDP offer starting with v=0")
    media = [line[2:].split(" ", 1)[0] for line in lines if line.startswith("m=")]
    if not 1 <= len(media) <= MAX_MEDIA_SECTIONS:
        raise InvalidOffer(f"the offer must have 1 to {MAX_MEDIA_SECTIONS} media sections")
    if not {"audio", "video"} & set(media):
        raise InvalidOffer("the offer has no audio or video")


class EchoService:
    """Echo peers of one node. Sessions close after ``max_seconds``, when their connection fails
    or closes, and all of them on ``close()``."""

    def __init__(
        self,
        max_sessions: int = 4,
        max_seconds: float = 8.0,
        ice_servers: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        if max_sessions < 1 or max_seconds <= 0:
            raise ValueError("max_sessions >= 1 and max_seconds > 0")
        self.max_sessions = max_sessions
        self.max_seconds = max_seconds
        # Explicit, possibly empty: without it aiortc would use a public STUN server.
        self._ice_servers = [ice_server(entry) for entry in ice_servers]
        self._sessions: dict[str, _Session] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False
        # aiortc logs whole SDPs at DEBUG and aioice every candidate pair at INFO: addresses
        # stay out of the logs unless an operator set these loggers' level on purpose.
        for name, level in (("aiortc", logging.INFO), ("aioice", logging.WARNING)):
            library_logger = logging.getLogger(name)
            if library_logger.level == logging.NOTSET:
                library_logger.setLevel(level)

    @property
    def session_ids(self) -> list[str]:
        """The sessions running now (negotiating or connected)."""
        return list(self._sessions)

    async def answer(self, offer_sdp: str, owner: str | None = None) -> tuple[str, str]:
        """Answer a complete offer: ``(answer sdp with every candidate, session id)``.

        ``owner`` (an account id) replaces that owner's running session, so a reloaded page does
        not wait for its own old one. Raises ``EchoBusy`` when ``max_sessions`` run (or the
        service is closing, or the answer took too long), ``InvalidOffer`` for an offer aiortc
        cannot answer.
        """
        check_offer(offer_sdp)
        if owner is not None:
            for old in [s for s in self._sessions.values() if s.owner == owner]:
                self._close_soon(old.id, "replaced")
        if self._closed or len(self._sessions) >= self.max_sessions:
            logger.warning(
                "echo refused: %d of %d sessions running", len(self._sessions), self.max_sessions
            )
            raise EchoBusy("the network test is busy; try again in a few seconds")
        session = _Session(secrets.token_hex(16), RTCPeerConnection(self._configuration()), owner)
        # The slot is taken before the first await, so concurrent offers cannot exceed the cap.
        self._sessions[session.id] = session
        self._watch(session)
        try:
            async with asyncio.timeout(NEGOTIATION_SECONDS):
                await session.pc.setRemoteDescription(
                    RTCSessionDescription(sdp=offer_sdp, type="offer")
                )
                # setLocalDescription returns once ICE gathering is complete.
                await session.pc.setLocalDescription(await session.pc.createAnswer())
        except asyncio.CancelledError:
            self._close_soon(session.id, "request cancelled")
            raise
        except TimeoutError:
            self._close_soon(session.id, "negotiation timed out")
            raise EchoBusy("the echo peer could not answer in time; try again") from None
        except Exception as exc:
            gone = session.id not in self._sessions
            self._close_soon(session.id, "invalid offer")
            if gone:
                raise EchoBusy("the network test was stopped; try again") from None
            # aiortc raises ValueError, its own errors and sometimes others on a malformed SDP.
            raise InvalidOffer(f"the offer cannot be answered ({type(exc).__name__})") from None
        if session.id not in self._sessions:
            raise EchoBusy("the network test was stopped; try again")
        self._expiry_start(session)
        logger.info("echo session %s answered", session.id)
        return session.pc.localDescription.sdp, session.id

    async def close(self) -> None:
        """Close every session and wait until they are closed (app cleanup)."""
        self._closed = True
        for session_id in list(self._sessions):
            self._close_soon(session_id, "service closing")
        while self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    def _configuration(self) -> RTCConfiguration:
        return RTCConfiguration(iceServers=list(self._ice_servers))

    def _watch(self, session: _Session) -> None:
        pc = session.pc

        def on_track(track: MediaStreamTrack) -> None:
            if track.kind in ("audio", "video"):
                echo = EchoTrack(track)
                session.tracks.append(echo)
                pc.addTrack(echo)

        def on_connection_state() -> None:
            state = pc.connectionState
            logger.info("echo session %s %s", session.id, state)
            if state in ("failed", "closed"):
                self._close_soon(session.id, state)

        pc.on("track", on_track)
        pc.on("connectionstatechange", on_connection_state)

    def _expiry_start(self, session: _Session) -> None:
        loop = asyncio.get_running_loop()
        session.expiry = loop.call_later(self.max_seconds, self._expired, session.id)

    def _expired(self, session_id: str) -> None:
        self._close_soon(session_id, "max_seconds reached")

    def _close_soon(self, session_id: str, why: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is None:
            return
        if session.expiry is not None:
            session.expiry.cancel()
        logger.info("echo session %s closing: %s", session_id, why)
        task = asyncio.get_running_loop().create_task(self._close_session(session))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close_session(self, session: _Session) -> None:
        try:
            await session.pc.close()
        except Exception:
            logger.exception("echo session %s did not close cleanly", session.id)
        finally:
            for track in session.tracks:
                track.stop()
