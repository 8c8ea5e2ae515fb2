"""Protocol clients for tests: login over HTTP, socket.io with the token in `auth`."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import aiohttp
import socketio

from tests.support.processes import DEMO_PASSWORD


async def login(base_url: str, email: str, password: str = DEMO_PASSWORD) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{base_url}/api/auth/login", json={"email": email, "password": password}
        ) as resp:
            body = await resp.json()
            assert resp.status == 200, body
            return str(body["access_token"])


class Peer:
    """A python-socketio client that records every event it receives."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: dict[str, list[Any]] = defaultdict(list)
        self._changed = asyncio.Event()

        async def _record(event: str, data: Any) -> None:
            self.events[event].append(data)
            self._changed.set()

        self.sio.on("*", _record)

    async def connect(self, token: str) -> Peer:
        await self.sio.connect(self.base_url, auth={"token": token}, transports=["websocket"])
        return self

    async def call(self, event: str, payload: Any = None, timeout: float = 5) -> dict[str, Any]:
        result = await self.sio.call(event, {} if payload is None else payload, timeout=timeout)
        assert isinstance(result, dict)
        return result

    def last(self, event: str) -> Any:
        return self.events[event][-1] if self.events[event] else None

    async def wait(self, event: str, predicate: Any = None, timeout: float = 5.0) -> Any:
        """The first recorded ``event`` payload (old or new) that satisfies ``predicate``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for data in self.events[event]:
                if predicate is None or predicate(data):
                    return data
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no {event} matching in {timeout}s: {self.events[event]!r}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


async def connect_as(base_url: str, email: str) -> Peer:
    return await Peer(base_url).connect(await login(base_url, email))
