"""The socket.io managers' room index: the same rooms as python-socketio's own manager after any
sequence of connects, room changes and disconnects (a disconnect leaves only the client's own
rooms instead of testing every room of the namespace)."""

from __future__ import annotations

import random
from typing import Any

import socketio

from signaling.redis_adapter import IndexedManager


async def _world(manager: Any, seed: int) -> tuple[dict[Any, Any], dict[str, list[Any]]]:
    socketio.AsyncServer(client_manager=manager)
    rng = random.Random(seed)
    sids: list[str] = []
    for step in range(600):
        action = rng.random()
        if action < 0.45 or not sids:
            sid = await manager.connect(f"eio{step}", "/")
            sids.append(sid)
            await manager.enter_room(sid, "/", f"user:{rng.randrange(40)}")
            if rng.random() < 0.2:
                await manager.enter_room(sid, "/", "physicians")
        elif action < 0.6:
            await manager.leave_room(rng.choice(sids), "/", "physicians")
        elif action < 0.62:
            await manager.close_room("physicians", "/")
        else:
            sid = sids.pop(rng.randrange(len(sids)))
            await manager.disconnect(sid, "/")
    rooms = {room: dict(members) for room, members in manager.rooms.get("/", {}).items()}
    # sids are random per manager: compare by the eio sid each one maps to
    by_eio = {sid: manager.rooms["/"][None][sid] for sid in sids}
    renamed = {
        (by_eio.get(room, room) if room in by_eio else room): sorted(by_eio[s] for s in members)
        for room, members in rooms.items()
    }
    their_rooms = {by_eio[s]: sorted(map(str, manager.get_rooms(s, "/"))) for s in sids}
    for eio, listed in their_rooms.items():
        their_rooms[eio] = sorted(r if r not in by_eio else by_eio[r] for r in listed)
    return renamed, their_rooms


async def test_the_index_keeps_the_same_rooms_as_python_socketio() -> None:
    for seed in range(5):
        reference = await _world(socketio.AsyncManager(), seed)
        indexed = await _world(IndexedManager(), seed)
        assert indexed == reference
        assert indexed[1]  # some clients are still connected


async def test_a_disconnected_client_is_in_no_room() -> None:
    manager = IndexedManager()
    socketio.AsyncServer(client_manager=manager)
    a = await manager.connect("eio-a", "/")
    b = await manager.connect("eio-b", "/")
    for sid in (a, b):
        await manager.enter_room(sid, "/", "user:1")
    await manager.disconnect(a, "/")
    assert not manager.is_connected(a, "/")
    assert manager.get_rooms(a, "/") == []
    assert sorted(manager.get_rooms(b, "/")) == sorted([b, "user:1"])
    assert [s for s, _ in manager.get_participants("/", "user:1")] == [b]


async def test_pending_connections_are_not_connected_until_their_handler_is_done() -> None:
    for manager in (socketio.AsyncManager(), IndexedManager()):
        socketio.AsyncServer(client_manager=manager)
        pending = [await manager.pre_connect(f"eio{i}", "/") for i in range(3)]
        assert not any(manager.is_connected(sid, "/") for sid in pending)
        await manager.connect(pending[0], "/")
        await manager.disconnect(pending[1], "/")  # refused while pending
        assert manager.is_connected(pending[0], "/")
        assert not manager.is_connected(pending[1], "/")
        assert not manager.is_connected(pending[2], "/")
        await manager.connect(pending[2], "/")
        assert manager.is_connected(pending[2], "/")
        assert "/" not in manager.pending_connect  # emptied, as python-socketio does
