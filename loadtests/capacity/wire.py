"""A lean socket.io client: Engine.IO v4 over a plain aiohttp websocket.

python-socketio's own client costs about as much per message as the server (TESTING.md), so a
load generator built on it saturates first. This one speaks the wire protocol directly:
``0{...}`` open, ``40{auth}`` connect, ``42[...]`` events, ``42<id>[...]`` / ``43<id>[...]``
acknowledgements, and answers the server's ``2`` pings with ``3``. Relay payloads carry their
send time (``time.monotonic_ns``, one clock for every process of the machine) at a fixed place so
the receiver finds it without parsing the JSON.

``raw=True`` talks to the benchmark's raw aiohttp relay (``raw_relay.py``) with the same frames
and no Engine.IO handshake, so both are driven by the very same code.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp

STAMP = '"sdp":"t='
"""Relay payloads start their sdp with ``t=<monotonic ns>;``."""

EventHook = Callable[["Client", str, str], None]


class ConnectRefused(Exception):
    pass


class Client:
    """One connection. ``on_event(client, name, frame)`` sees every event frame (unparsed)."""

    __slots__ = (
        "url",
        "token",
        "role",
        "user_id",
        "raw",
        "ws",
        "reader",
        "on_event",
        "acks",
        "next_id",
        "acked",
        "ack_errors",
        "room_id",
        "state_seen",
        "ready",
        "connected_at",
        "closed",
    )

    def __init__(
        self, url: str, token: str, role: str, user_id: str, on_event: EventHook, raw: bool = False
    ) -> None:
        self.url = url
        self.token = token
        self.role = role
        self.user_id = user_id
        self.raw = raw
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.reader: asyncio.Task[None] | None = None
        self.on_event = on_event
        self.acks: dict[int, asyncio.Future[Any]] = {}
        self.next_id = 0
        self.acked = 0
        self.ack_errors = 0
        self.room_id: str | None = None
        self.state_seen = 0
        self.ready: asyncio.Future[float] | None = None
        self.connected_at = 0.0
        self.closed = False

    async def connect(self, http: aiohttp.ClientSession, timeout: float, deflate: bool) -> float:
        """Open the socket and wait for the first state push; returns seconds it took."""
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        self.ready = loop.create_future()
        self.closed = False
        ws = await http.ws_connect(
            self.url,
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=2.0),
            compress=15 if deflate else 0,
            autoping=True,
            max_msg_size=0,
        )
        self.ws = ws
        if self.raw:
            self.ready.set_result(time.perf_counter())
        else:
            opened = await asyncio.wait_for(ws.receive(), timeout)
            if opened.type != aiohttp.WSMsgType.TEXT or not str(opened.data).startswith("0"):
                raise ConnectRefused(f"no Engine.IO open packet: {opened.type}")
            await ws.send_str("40" + json.dumps({"token": self.token}))
            reply = await asyncio.wait_for(ws.receive(), timeout)
            data = str(reply.data)
            if not data.startswith("40"):
                raise ConnectRefused(data[:200])
        self.reader = asyncio.create_task(self._read())
        await asyncio.wait_for(asyncio.shield(self.ready), timeout)
        self.connected_at = time.perf_counter()
        return self.connected_at - started

    async def _read(self) -> None:
        ws = self.ws
        assert ws is not None
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                data: str = msg.data
                if data == "2":
                    await ws.send_str("3")
                elif data.startswith("42"):
                    end = data.find('"', 4)
                    name = data[4:end]
                    if name.endswith(":state") or name == "board:state":
                        self.state_seen += 1
                        if self.ready is not None and not self.ready.done():
                            self.ready.set_result(time.perf_counter())
                    self.on_event(self, name, data)
                elif data.startswith("43"):
                    self._ack(data)
        except Exception:  # noqa: S110 - a dropped connection ends the reader
            pass
        finally:
            self.closed = True

    def _ack(self, data: str) -> None:
        bracket = data.find("[", 2)
        ack_id = int(data[2:bracket])
        future = self.acks.pop(ack_id, None)
        ok = data.startswith('[{"ok":true', bracket)
        if future is not None:
            if not future.done():
                future.set_result(json.loads(data[bracket:])[0])
            return
        self.acked += 1
        if not ok:
            self.ack_errors += 1

    def _frame(self, event: str, payload: dict[str, Any] | str) -> tuple[int, str]:
        self.next_id += 1
        body = payload if isinstance(payload, str) else json.dumps(payload)
        return self.next_id, f'42{self.next_id}["{event}",{body}]'

    async def call(self, event: str, payload: dict[str, Any], timeout: float) -> Any:
        """Send an event and wait for its acknowledgement."""
        assert self.ws is not None
        ack_id, frame = self._frame(event, payload)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.acks[ack_id] = future
        try:
            await asyncio.wait_for(self.ws.send_str(frame), timeout)
            return await asyncio.wait_for(future, timeout)
        finally:
            self.acks.pop(ack_id, None)

    async def send_counted(self, event: str, body: str) -> None:
        """Send an event whose acknowledgement is only counted (``acked``, ``ack_errors``)."""
        assert self.ws is not None
        _, frame = self._frame(event, body)
        await self.ws.send_str(frame)

    async def close(self, abort: bool = False) -> None:
        ws = self.ws
        if ws is None:
            return
        if abort:
            # A network drop: no close frame, the server sees the socket end.
            conn = getattr(ws, "_conn", None)
            transport = conn.transport if conn is not None else None
            if transport is not None:
                transport.abort()
        else:
            await ws.close()
        if self.reader is not None:
            self.reader.cancel()
            self.reader = None
        self.ws = None
        self.closed = True


def relay_body(room_id: str, size: int) -> str:
    """An ``rtc:signal`` offer of about ``size`` bytes, stamped with its send time."""
    head = f'{{"room_id":"{room_id}","type":"offer",{STAMP}{time.monotonic_ns()};'
    return head + "x" * max(0, size - len(head) - 2) + '"}'


def stamp_of(frame: str) -> int | None:
    """The send time carried by a relayed frame, or None."""
    at = frame.find(STAMP)
    if at < 0:
        return None
    at += len(STAMP)
    end = frame.find(";", at)
    try:
        return int(frame[at:end])
    except ValueError:
        return None
