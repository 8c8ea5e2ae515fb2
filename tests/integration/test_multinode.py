"""Two `teleconsult serve` nodes on one real redis-server and one shared SQLite file.

Patients and GPs are spread over both nodes. Events between the members of a call on different
nodes go through Redis (python-socketio's Redis manager); under many concurrent requests and GPs
taking offers on both nodes, no request is offered to two GPs at once, lost, or served twice,
according to what the clients saw and to the SQL history (the source of truth)."""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.clients import Peer, login
from tests.support.processes import DEMO_PASSWORD, RedisServer, ServerProcess

JWT_SECRET = "multinode-shared-signing-key-0123456789abcdef"
"""Both nodes sign and check tokens with it: a token from one node works on the other."""
PASSWORD = "Tres-Secret-2026!"
EXTRA_PATIENTS = 11
"""Registered on top of the 5 demo patients: 16 concurrent requests for 2 GPs (gp1 on node a,
gp2 on node b; gp3 is the cross-node test's)."""
RUN_SECONDS = 30.0
"""Bound of the serving phase (it takes a few seconds)."""
STEP_SECONDS = 10.0
"""Bound of one awaited event."""


@dataclass
class Cluster:
    a: ServerProcess
    b: ServerProcess
    db: Path

    @property
    def nodes(self) -> dict[str, ServerProcess]:
        return {"a": self.a, "b": self.b}


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer
) -> Iterator[Cluster]:
    """Node a, then node b (which sees a's heartbeat and joins it), sharing Redis, the SQLite
    file and the JWT secret."""
    redis_server.flush()
    root = tmp_path_factory.mktemp("multinode")
    db = (root / "shared" / "teleconsult.db").resolve()
    db.parent.mkdir()
    env = {
        "TELECONSULT_JWT_SECRET": JWT_SECRET,
        # Long enough that no offer expires on a slow machine: every offer here is accepted.
        "TELECONSULT_OFFER_TIMEOUT_SECONDS": "300",
    }
    args = ["--database-url", f"sqlite+aiosqlite:///{db}"]
    a = ServerProcess(root / "a", redis_url=redis_server.url, extra_args=args, env=env)
    b = ServerProcess(root / "b", redis_url=redis_server.url, extra_args=args, env=env)
    a.start()
    try:
        b.start()  # waits ~5.5 s at start-up to check a's heartbeat
        assert "joining 1 live node(s)" in b.log(), b.log()
        yield Cluster(a, b, db)
    finally:
        b.stop()
        a.stop()


class TimedPeer(Peer):
    """A Peer that knows its node and user, and keeps every event with its arrival time (one
    monotonic clock for every peer of the test)."""

    def __init__(self, base_url: str, name: str, node: str) -> None:
        super().__init__(base_url)
        self.name = name
        self.node = node
        self.user_id = ""
        self.timeline: list[tuple[float, str, Any]] = []

        async def _record(event: str, data: Any) -> None:
            self.timeline.append((time.monotonic(), event, data))
            self.events[event].append(data)
            self._changed.set()

        self.sio.on("*", _record)


def _subject(token: str) -> str:
    """The user id (`sub`) of an access token (the signature is the server's business)."""
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"])


async def _connect(cluster: Cluster, node: str, email: str, password: str) -> TimedPeer:
    url = cluster.nodes[node].url
    peer = TimedPeer(url, email, node)
    token = await login(url, email, password)
    peer.user_id = _subject(token)
    await peer.connect(token)
    return peer


async def _register(base_url: str, email: str, n: int) -> None:
    body = {
        "email": email,
        "password": PASSWORD,
        "last_name": f"Multi{n}",
        "first_name": f"Patient{n}",
        "birth_date": "1980-04-02",
        "mobile": "06 12 34 56 78",
        "postal_code": "75011",
        "accept_terms": True,
        "accept_data_policy": True,
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base_url}/api/auth/register", json=body) as resp:
            assert resp.status == 201, await resp.text()


async def _bounded(predicate: Callable[[], bool], timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def _sql_history(db: Path) -> tuple[dict[str, list[tuple[Any, ...]]], dict[str, tuple[Any, ...]]]:
    """From the shared file: request id -> [(from, to, version, actor)] oldest first, and
    request id -> (state, gp_id)."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        events: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for request_id, *rest in conn.execute(
            "SELECT request_id, from_state, to_state, version, actor FROM request_events "
            "ORDER BY id"
        ):
            events[str(request_id)].append(tuple(rest))
        final = {
            str(r[0]): (r[1], r[2])
            for r in conn.execute("SELECT id, state, gp_id FROM consultation_requests")
        }
    finally:
        conn.close()
    return events, final


def _state(payload: dict[str, Any]) -> str | None:
    request = payload["request"]
    return None if request is None else str(request["state"])


# -- cross-node fan-out -------------------------------------------------------------------------
async def test_a_call_between_nodes_relays_every_event_through_redis(cluster: Cluster) -> None:
    """Patient on node a, GP on node b: every event of the call that the other node emits
    reaches its member (patient:state, call:start, rtc:signal both ways, call:ended). Its
    accounts are its own (gp3 and a new patient), so the other test does not depend on it."""
    await _register(cluster.a.url, "crossnode@example.fr", 99)
    patient = await _connect(cluster, "a", "crossnode@example.fr", PASSWORD)
    gp = await _connect(cluster, "b", "gp3@demo.test", DEMO_PASSWORD)
    try:
        assert await patient.wait("patient:state") == {"request": None}
        assert (await gp.wait("gp:state"))["status"] == "unavailable"
        request = (await patient.call("patient:request_video"))["request"]
        # Node b makes the offer (the GP goes available there) and tells the patient on a.
        assert await gp.call("gp:available") == {"ok": True}
        offered = await gp.wait("gp:state", lambda s: s["status"] == "offered")
        assert offered["offer"]["request_id"] == request["id"]
        await patient.wait("patient:state", lambda s: _state(s) == "offered", STEP_SECONDS)

        room_id = (await gp.call("offer:accept", {"request_id": request["id"]}))["room_id"]
        start = await patient.wait("call:start", timeout=STEP_SECONDS)
        assert (start["room_id"], start["role"], start["resume"]) == (room_id, "callee", False)

        offer = {"room_id": room_id, "type": "offer", "sdp": "v=0\r\ns=from-node-b\r\n"}
        assert await gp.call("rtc:signal", offer) == {"ok": True}
        assert await patient.wait("rtc:signal", timeout=STEP_SECONDS) == {
            **offer,
            "from": "physician",
        }
        answer = {"room_id": room_id, "type": "answer", "sdp": "v=0\r\ns=from-node-a\r\n"}
        assert await patient.call("rtc:signal", answer) == {"ok": True}
        assert await gp.wait("rtc:signal", timeout=STEP_SECONDS) == {**answer, "from": "patient"}
        # Exactly once each: nothing echoed to the sender, nothing doubled by the two nodes.
        assert len(patient.events["rtc:signal"]) == 1 and len(gp.events["rtc:signal"]) == 1

        assert await patient.call("call:connected", {"room_id": room_id, "media": "video"}) == {
            "ok": True
        }
        assert await patient.call("call:hangup", {"room_id": room_id}) == {"ok": True}
        ended = await gp.wait("call:ended", timeout=STEP_SECONDS)
        assert ended == {
            "room_id": room_id,
            "request_id": request["id"],
            "reason": "hangup_patient",
        }
        await gp.wait("gp:state", lambda s: s["status"] == "wrap_up", STEP_SECONDS)
        assert await gp.call("gp:unavailable") == {"ok": True}  # ends the wrap-up
    finally:
        await patient.close()
        await gp.close()


# -- many requests, GPs on both nodes ---------------------------------------------------------
@dataclass
class Run:
    total: int
    patient_of: dict[str, TimedPeer] = field(default_factory=dict)
    served_by: dict[str, str] = field(default_factory=dict)
    """request id -> GP email, once its call was made and hung up."""
    accepted: list[tuple[str, str]] = field(default_factory=list)
    """(request id, GP email) for every successful offer:accept."""
    anomalies: list[str] = field(default_factory=list)
    cross_node_calls: int = 0


async def _serve_until_done(gp: TimedPeer, run: Run) -> None:
    """Go available and take every offer shown until every request is served; after each call,
    gp:available ends the wrap-up early and takes the next offer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RUN_SECONDS
    handled: set[str] = set()

    def new_offer(state: dict[str, Any]) -> bool:
        return state["status"] == "offered" and state["offer"]["request_id"] not in handled

    assert await gp.call("gp:available") == {"ok": True}
    while len(run.served_by) < run.total:
        if loop.time() > deadline:
            raise AssertionError(
                f"{gp.name}: {len(run.served_by)}/{run.total} requests served in {RUN_SECONDS}s"
            )
        try:
            state = await gp.wait("gp:state", new_offer, timeout=0.5)
        except AssertionError:
            continue  # no offer for now: check again whether everything is served
        request_id = str(state["offer"]["request_id"])
        handled.add(request_id)
        await _one_call(gp, request_id, run)
        assert await gp.call("gp:available") == {"ok": True}


async def _one_call(gp: TimedPeer, request_id: str, run: Run) -> None:
    """Accept, relay signaling both ways, report media connected, hang up at once."""
    ack = await gp.call("offer:accept", {"request_id": request_id})
    if not ack.get("ok"):
        run.anomalies.append(f"{gp.name} could not accept the offer of {request_id}: {ack}")
        return
    run.accepted.append((request_id, gp.name))
    room_id = ack["room_id"]
    # The offer may reach the GP before the patient's own request_video ack.
    await _bounded(lambda: request_id in run.patient_of, STEP_SECONDS)
    patient = run.patient_of[request_id]
    if patient.node != gp.node:
        run.cross_node_calls += 1
    start = await patient.wait("call:start", lambda s: s["room_id"] == room_id, STEP_SECONDS)
    assert (start["request_id"], start["role"]) == (request_id, "callee")

    offer = {"room_id": room_id, "type": "offer", "sdp": f"v=0\r\ns={request_id}\r\n"}
    assert await gp.call("rtc:signal", offer) == {"ok": True}
    got = await patient.wait(
        "rtc:signal", lambda s: s["room_id"] == room_id and s["type"] == "offer", STEP_SECONDS
    )
    assert got == {**offer, "from": "physician"}
    answer = {"room_id": room_id, "type": "answer", "sdp": f"v=0\r\ns=answer-{request_id}\r\n"}
    assert await patient.call("rtc:signal", answer) == {"ok": True}
    back = await gp.wait(
        "rtc:signal", lambda s: s["room_id"] == room_id and s["type"] == "answer", STEP_SECONDS
    )
    assert back == {**answer, "from": "patient"}

    assert await patient.call("call:connected", {"room_id": room_id, "media": "video"}) == {
        "ok": True
    }
    assert await gp.call("call:hangup", {"room_id": room_id}) == {"ok": True}
    await patient.wait("call:ended", lambda s: s["room_id"] == room_id, STEP_SECONDS)
    if request_id in run.served_by:
        run.anomalies.append(f"{request_id} served twice")
    run.served_by[request_id] = gp.name


def _offer_intervals(gps: list[TimedPeer]) -> dict[str, list[tuple[float, float, str]]]:
    """request id -> [(from, until, GP)]: a GP holds an offer from its `offered` gp:state until
    its next gp:state (arrival times at the clients, on one clock)."""
    held: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for gp in gps:
        states = [(t, data) for t, event, data in gp.timeline if event == "gp:state"]
        for i, (t, data) in enumerate(states):
            if data["status"] != "offered":
                continue
            until = states[i + 1][0] if i + 1 < len(states) else float("inf")
            held[str(data["offer"]["request_id"])].append((t, until, gp.name))
    return held


def _check_sql_history(steps: list[tuple[Any, ...]]) -> None:
    """One request's transitions: a consistent chain, never offered twice at once, exactly one
    waiting -> offered -> accepted that stuck, served to the end."""
    assert steps[0][:3] == (None, "requested", 1), steps
    for prev, step in zip(steps, steps[1:], strict=False):
        assert step[0] == prev[1] and step[2] == prev[2] + 1, steps  # from = previous to
    offered = False
    for from_state, to_state, _, _ in steps:
        if from_state == "offered":
            offered = False  # accepted, or returned to waiting
        if to_state == "offered":
            assert not offered, f"offered twice without a return in between: {steps}"
            offered = True
    pairs = [(s[0], s[1]) for s in steps]
    accepts = [i for i, p in enumerate(pairs) if p == ("offered", "accepted")]
    assert len(accepts) == 1, steps
    assert pairs[accepts[0] - 1] == ("waiting", "offered"), steps
    # Stuck: never back to the queue, and served to the end (wrap-up ended by gp:available).
    assert [to for _, to in pairs[accepts[0] :]] == ["accepted", "in_call", "wrap_up", "done"], (
        steps
    )


async def test_concurrent_requests_on_two_nodes_are_each_served_once(cluster: Cluster) -> None:
    extra = [f"multinode{n}@example.fr" for n in range(EXTRA_PATIENTS)]
    await asyncio.gather(
        *(_register(cluster.nodes["ab"[n % 2]].url, e, n) for n, e in enumerate(extra))
    )
    accounts = [(f"patient{i}@demo.test", DEMO_PASSWORD) for i in range(1, 6)]
    accounts += [(email, PASSWORD) for email in extra]
    patients = list(
        await asyncio.gather(
            *(_connect(cluster, "ab"[n % 2], e, pw) for n, (e, pw) in enumerate(accounts))
        )
    )
    gps = list(
        await asyncio.gather(
            *(
                _connect(cluster, node, f"gp{i}@demo.test", DEMO_PASSWORD)
                for i, node in ((1, "a"), (2, "b"))
            )
        )
    )
    try:
        for p in patients:
            assert await p.wait("patient:state") == {"request": None}
        for g in gps:
            assert (await g.wait("gp:state"))["status"] == "unavailable"
        run = Run(total=len(patients))

        async def request(p: TimedPeer) -> None:
            ack = await p.call("patient:request_video", timeout=STEP_SECONDS)
            assert ack["ok"] is True, ack
            run.patient_of[str(ack["request"]["id"])] = p

        # Every GP goes available and every patient asks at the same moment: dispatch runs
        # concurrently on both nodes, for requests arriving on both nodes. The first failure
        # cancels the rest.
        started = time.monotonic()
        async with asyncio.timeout(RUN_SECONDS + STEP_SECONDS), asyncio.TaskGroup() as tasks:
            for g in gps:
                tasks.create_task(_serve_until_done(g, run))
            for p in patients:
                tasks.create_task(request(p))
        elapsed = time.monotonic() - started
        assert run.anomalies == []
        requests = set(run.patient_of)
        assert len(requests) == len(patients)

        # -- what the clients saw ---------------------------------------------------------------
        # None served twice, none lost: one successful accept and one call per request.
        assert sorted(r for r, _ in run.accepted) == sorted(requests)
        assert set(run.served_by) == requests
        held = _offer_intervals(gps)
        assert set(held) == requests
        for request_id, intervals in held.items():
            # Nothing returns an offer here (no decline, timeout or disconnection): one offer
            # per request, shown to the GP who served it...
            assert [gp for _, _, gp in intervals] == [run.served_by[request_id]], intervals
            # ...and in any case never held by two GPs at overlapping times.
            ordered = sorted(intervals)
            for (_, end, _), (begin, _, _) in zip(ordered, ordered[1:], strict=False):
                assert end <= begin, f"{request_id} offered to two GPs at once: {ordered}"
        for g in gps:
            # Every offer a GP was shown was theirs to take: the next state is the call.
            statuses = [d["status"] for _, e, d in g.timeline if e == "gp:state"]
            for now, nxt in zip(statuses, statuses[1:], strict=False):
                if now == "offered":
                    assert nxt == "in_call", (g.name, statuses)
        for p in patients:
            assert len(p.events["call:start"]) == 1 and len(p.events["call:ended"]) == 1
        assert run.cross_node_calls > 0  # patient and GP on different nodes, via Redis

        # -- what SQL recorded (the source of truth), read from the shared file -----------------
        history, final = _sql_history(cluster.db)
        assert requests <= set(final)
        gp_ids = {g.name: g.user_id for g in gps}
        for request_id in requests:
            _check_sql_history(history[request_id])
            assert final[request_id] == ("done", gp_ids[run.served_by[request_id]])
        print(
            f"\n{len(requests)} requests served by {len(gps)} GPs on 2 nodes in {elapsed:.1f}s, "
            f"{run.cross_node_calls} calls across nodes"
        )
    finally:
        await asyncio.gather(*(peer.close() for peer in patients + gps), return_exceptions=True)
