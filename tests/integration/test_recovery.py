"""Recovery of the live state from SQL, with real processes: a node killed with SIGKILL and
started again (alone, or after Redis was emptied too), and Redis restarted empty under a running
node. Queued patients keep their place and arrival time; an offer in flight returns to waiting at
its original place and is offered again."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import socketio

from tests.support.clients import Peer, connect_as, login
from tests.support.processes import RedisServer, ServerProcess, free_port, wait_for

REBUILT = "live state rebuilt from SQL"
STEP_SECONDS = 10.0
BURST = 20
"""Events per client sent at once: enough to open every connection of the node's Redis pool."""
RECONNECT_SECONDS = 20.0
"""A killed node's successor waits ~5.5 s for the dead heartbeat to expire before it listens."""


class ReconnectingPeer(Peer):
    """A Peer whose python-socketio client reconnects by itself (re-sending the same `auth`),
    quickly, a bounded number of times. Every event is kept with the number of the connection
    it arrived on (1 = the first)."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        self.sio = socketio.AsyncClient(
            reconnection=True,
            reconnection_attempts=100,
            reconnection_delay=0.2,
            reconnection_delay_max=0.5,
            randomization_factor=0.1,
        )
        self.connections = 0
        self.received: list[tuple[int, str, Any]] = []

        async def _record(event: str, data: Any) -> None:
            self.received.append((self.connections, event, data))
            self.events[event].append(data)
            self._changed.set()

        async def _connected() -> None:
            self.connections += 1
            self._changed.set()

        self.sio.on("*", _record)
        self.sio.on("connect", _connected)

    def on_connection(self, number: int, event: str) -> list[Any]:
        return [data for n, e, data in self.received if n == number and e == event]

    async def wait_on_connection(
        self,
        number: int,
        event: str,
        predicate: Callable[[Any], bool] = lambda _: True,
        timeout: float = STEP_SECONDS,
    ) -> Any:
        """The first ``event`` received on connection ``number`` that satisfies ``predicate``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for data in self.on_connection(number, event):
                if predicate(data):
                    return data
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"no {event} matching on connection {number} in {timeout}s "
                    f"({self.connections} connection(s)): {self.on_connection(number, event)!r}"
                )
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass

    async def close(self) -> None:
        await self.sio.shutdown()  # also stops a reconnection in progress


def _request(payload: dict[str, Any]) -> dict[str, Any]:
    request = payload["request"]
    assert request is not None, payload
    return dict(request)


def _is(state: str, position: int | None = None) -> Callable[[Any], bool]:
    def check(payload: Any) -> bool:
        request = payload["request"]
        return (
            request is not None
            and request["state"] == state
            and (position is None or request["position"] == position)
        )

    return check


async def _wait_after(peer: Peer, event: str, index: int, timeout: float = STEP_SECONDS) -> Any:
    """The first ``event`` received after the first ``index`` ones."""

    def fresh(data: Any) -> bool:
        return any(data is x for x in peer.events[event][index:])

    return await peer.wait(event, fresh, timeout)


async def _probe_burst(peers: list[Peer]) -> dict[str, int]:
    """rtc:signal into a room that does not exist, BURST times per peer at once (each is one
    Redis look-up on the node): error code -> count."""
    probe = {"room_id": "0" * 32, "type": "offer", "sdp": "v=0"}
    acks = await asyncio.gather(*(p.call("rtc:signal", probe) for p in peers for _ in range(BURST)))
    codes: dict[str, int] = {}
    for ack in acks:
        code = "ok" if ack["ok"] else str(ack["error"]["code"])
        codes[code] = codes.get(code, 0) + 1
    return codes


def _transitions(db: Path, request_id: str) -> list[tuple[str | None, str, str]]:
    conn = sqlite3.connect(db, timeout=30)
    try:
        rows = conn.execute(
            "SELECT from_state, to_state, actor FROM request_events WHERE request_id = ? "
            "ORDER BY id",
            (request_id,),
        ).fetchall()
    finally:
        conn.close()
    return [(r[0], r[1], r[2]) for r in rows]


async def _queue_four(
    node: ServerProcess,
) -> tuple[list[ReconnectingPeer], Peer, list[dict[str, Any]]]:
    """patient1..4 ask in this order; gp1 goes available and is offered patient1's request.
    The patients reconnect by themselves; the GP does not."""
    patients: list[ReconnectingPeer] = []
    for i in range(1, 5):
        patient = ReconnectingPeer(node.url)
        await patient.connect(await login(node.url, f"patient{i}@demo.test"))
        patients.append(patient)
    gp = await connect_as(node.url, "gp1@demo.test")
    requests = []
    for patient in patients:
        await patient.wait("patient:state")
        ack = await patient.call("patient:request_video")
        assert ack["ok"] is True, ack
        requests.append(ack["request"])
    assert [r["position"] for r in requests] == [1, 2, 3, 4]
    assert await gp.call("gp:available") == {"ok": True}
    offered = await gp.wait("gp:state", lambda s: s["status"] == "offered")
    assert offered["offer"]["request_id"] == requests[0]["id"]
    await patients[0].wait("patient:state", _is("offered", 1))
    return patients, gp, requests


@pytest.mark.parametrize("redis_emptied", [False, True], ids=["node", "node-and-redis"])
async def test_a_killed_node_restarts_with_the_queue_and_the_offer_back(
    tmp_path: Path, redis_emptied: bool
) -> None:
    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis").start()
    node = ServerProcess(tmp_path / "node", redis_url=redis.url, bind_port=free_port())
    peers: list[Peer] = []
    try:
        node.start()
        patients, gp, before = await _queue_four(node)
        peers += [*patients, gp]

        node.kill()  # SIGKILL: no clean-up, its heartbeat stays in Redis for up to 5 s
        await wait_for(lambda: not gp.sio.connected and not any(p.sio.connected for p in patients))
        if redis_emptied:
            redis.restart_empty()  # every node and Redis lost: only SQL is left
        await asyncio.to_thread(node.start)  # same port, data directory and Redis URL
        assert f"{REBUILT}: 4 queued (1 offers returned)" in node.log(), node.log()

        # The patients reconnect by themselves and get their state pushed: the original order,
        # the original arrival times, and the request that was on offer back first, waiting.
        for place, (patient, request) in enumerate(zip(patients, before, strict=True), start=1):
            state = _request(
                await patient.wait_on_connection(2, "patient:state", timeout=RECONNECT_SECONDS)
            )
            assert (state["id"], state["state"], state["position"]) == (
                request["id"],
                "waiting",
                place,
            )
            assert state["created_at"] == request["created_at"]
            assert state["deadline"] == request["deadline"]
            assert state["queue_size"] == 4
        for place, patient in enumerate(patients, start=1):
            # Every push since the reconnection agrees (the feed pushes the places too).
            shown = {
                (_request(s)["state"], _request(s)["position"])
                for s in patient.on_connection(2, "patient:state")
            }
            assert shown == {("waiting", place)}, shown
        assert ("offered", "waiting", "system:recovery") in _transitions(
            tmp_path / "node" / "teleconsult.db", before[0]["id"]
        )

        # Another GP goes available: offered that request first, as it never lost its place
        # (the GP who held it is not connected, so gets no offers).
        gp2 = await connect_as(node.url, "gp2@demo.test")
        peers.append(gp2)
        assert await gp2.call("gp:available") == {"ok": True}
        again = await gp2.wait("gp:state", lambda s: s["status"] == "offered")
        place_of = {r["id"]: n for n, r in enumerate(before, start=1)}
        assert again["offer"]["request_id"] == before[0]["id"], (
            "the request on offer before the crash (place 1) should be offered first to the GP "
            f"who went available; it got place {place_of.get(again['offer']['request_id'])}"
        )
        await patients[0].wait_on_connection(2, "patient:state", _is("offered", 1))
        # The GP who held it comes back (a new connection) and gets the next one in order.
        gp_back = await connect_as(node.url, "gp1@demo.test")
        peers.append(gp_back)
        assert await gp_back.call("gp:available") == {"ok": True}
        second = await gp_back.wait("gp:state", lambda s: s["status"] == "offered")
        assert second["offer"]["request_id"] == before[1]["id"]
    finally:
        await asyncio.gather(*(p.close() for p in peers), return_exceptions=True)
        node.stop()
        redis.stop()


async def test_a_running_node_rebuilds_when_redis_restarts_empty(tmp_path: Path) -> None:
    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis").start()
    node = ServerProcess(tmp_path / "node", redis_url=redis.url)
    peers: list[Peer] = []
    try:
        node.start()
        patients = [await connect_as(node.url, f"patient{i}@demo.test") for i in range(1, 4)]
        gp = await connect_as(node.url, "gp1@demo.test")
        peers += [*patients, gp]
        before = []
        for patient in patients:
            await patient.wait("patient:state")
            before.append((await patient.call("patient:request_video"))["request"])
        assert [r["position"] for r in before] == [1, 2, 3]
        assert (await gp.wait("gp:state"))["status"] == "unavailable"
        # Many events at once: the node's Redis pool opens all its connections.
        assert await _probe_burst(patients) == {"not_in_room": len(patients) * BURST}
        marks = [len(p.events["patient:state"]) for p in patients]

        redis.restart_empty()
        await wait_for(lambda: node.log().count(REBUILT) == 2, timeout=STEP_SECONDS)
        assert f"{REBUILT}: 3 queued (0 offers returned)" in node.log()
        # The connections to the node stayed up, and it answers every event right again: none
        # fails on one of the Redis connections that the restart closed.
        assert all(p.sio.connected for p in patients + [gp])
        assert await _probe_burst(patients) == {"not_in_room": len(patients) * BURST}
        # The patients keep their places, arrival times included...
        for place, (patient, request) in enumerate(zip(patients, before, strict=True), start=1):
            synced = await patient.call("session:sync")
            assert synced["ok"] is True, synced
            state = _request(synced["patient"])
            assert (state["id"], state["state"], state["position"], state["queue_size"]) == (
                request["id"],
                "waiting",
                place,
                3,
            )
            assert state["created_at"] == request["created_at"]
            # ...and the node pushes them again after the rebuild: the same ones.
            pushed = _request(await _wait_after(patient, "patient:state", marks[place - 1]))
            assert (pushed["id"], pushed["state"], pushed["position"]) == (
                request["id"],
                "waiting",
                place,
            )
        # A GP goes available and gets the first patient; the call starts on both sides.
        assert await gp.call("gp:available") == {"ok": True}
        offered = await gp.wait("gp:state", lambda s: s["status"] == "offered", STEP_SECONDS)
        assert offered["offer"]["request_id"] == before[0]["id"]
        room_id = (await gp.call("offer:accept", {"request_id": before[0]["id"]}))["room_id"]
        start = await patients[0].wait("call:start", timeout=STEP_SECONDS)
        assert start["room_id"] == room_id
    finally:
        await asyncio.gather(*(p.close() for p in peers), return_exceptions=True)
        node.stop()
        redis.stop()
