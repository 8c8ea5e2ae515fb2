"""signaling's Redis adapter: the socket.io fan-out between nodes and the login limiter."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from typing import Any, cast

import redis.asyncio as aioredis
import socketio
from socketio.packet import Packet

from waiting_room.redis_store import _presence_key as presence_key
from waiting_room.redis_store import bounded_pool

logger = logging.getLogger(__name__)
USER_ROOM_PREFIX = "user:"
"""The room of all of a user's connections (signaling/notifier.py user_room)."""

FANOUT_POOL_SIZE = 16
"""Bounded: an unbounded pool opened thousands of connections under load (TESTING.md)."""


class _SidSet(dict[str, None]):
    """Pending sids: the list methods python-socketio calls (``append``, ``remove``), with
    O(1) ``in`` (a list costs O(pending) for each ``is_connected``, i.e. for each emit)."""

    def __init__(self, sids: Any = ()) -> None:
        super().__init__((sid, None) for sid in sids)

    def append(self, sid: str) -> None:
        self[sid] = None

    def remove(self, sid: str) -> None:
        del self[sid]


class _PendingSids(dict[str, _SidSet]):
    """namespace -> pending sids; the lists python-socketio stores become ``_SidSet``."""

    def __setitem__(self, namespace: str, sids: Any) -> None:
        super().__setitem__(namespace, sids if isinstance(sids, _SidSet) else _SidSet(sids))


class RoomIndex:
    """Each connection's rooms, kept beside python-socketio's own room table.

    python-socketio finds the rooms of a disconnecting client by testing every room of the
    namespace (``basic_disconnect``, ``get_rooms``): each connection has a room of its own plus
    its user's, so a disconnect costs O(connections), and a reconnect storm of N clients
    O(N^2) (py-spy of the capacity run: half of a node's time in ``bidict.__contains__`` while
    20,000 clients left). With this index a client leaves exactly its own rooms. The sids
    waiting for their connect handler are kept in sets for the same reason."""

    rooms: dict[Any, dict[Any, Any]]
    callbacks: dict[Any, Any]
    pending_connect: dict[str, _SidSet]
    pending_disconnect: dict[str, _SidSet]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Thousands of clients connect at once in a reconnect storm: python-socketio's lists of
        # pending sids made every emit's is_connected O(pending) (8.6% of a storm, py-spy).
        self.pending_connect = _PendingSids()
        self.pending_disconnect = _PendingSids()

    def _index(self) -> dict[tuple[str, str], set[Any]]:
        index: dict[tuple[str, str], set[Any]] | None = self.__dict__.get("_rooms_of")
        if index is None:
            index = self.__dict__["_rooms_of"] = {}
        return index

    def basic_enter_room(
        self, sid: str, namespace: str, room: Any, eio_sid: str | None = None
    ) -> None:
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)  # type: ignore[misc]
        self._index().setdefault((namespace, sid), set()).add(room)

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        super().basic_leave_room(sid, namespace, room)  # type: ignore[misc]
        index = self._index()
        rooms = index.get((namespace, sid))
        if rooms is not None:
            rooms.discard(room)
            if not rooms:
                del index[(namespace, sid)]

    def get_rooms(self, sid: str, namespace: str) -> list[Any]:
        return [r for r in self._index().get((namespace, sid), ()) if r is not None]

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        """python-socketio's ``basic_disconnect`` (5.18), leaving only the client's rooms."""
        if namespace not in self.rooms:
            return
        for room in list(self._index().get((namespace, sid), ())):
            self.basic_leave_room(sid, namespace, room)
        self._index().pop((namespace, sid), None)
        if sid in self.callbacks:
            del self.callbacks[sid]
        for pending in (self.pending_connect, self.pending_disconnect):
            if namespace in pending and sid in pending[namespace]:
                pending[namespace].remove(sid)
                if len(pending[namespace]) == 0:
                    del pending[namespace]


class IndexedManager(RoomIndex, socketio.AsyncManager):  # type: ignore[misc]
    """python-socketio's single-node manager with the room index."""


class BoundedRedisManager(RoomIndex, socketio.AsyncRedisManager):  # type: ignore[misc]
    """python-socketio's Redis manager on a bounded, retrying connection pool (its own
    `redis_options` cannot choose the pool class), with the room index."""

    def _redis_connect(self) -> None:
        self.redis = aioredis.Redis.from_pool(bounded_pool(self.redis_url, FANOUT_POOL_SIZE))
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.connected = True


class TargetedRedisManager(BoundedRedisManager):
    """Sends an emit only to the nodes that hold its recipients, instead of publishing every emit
    to every node (python-socketio's Redis manager, measured at 3-4 times the cost of a local
    emit, with each node decoding every message of every other node).

    - To one connection (a sid) of this node: delivered here, nothing published.
    - To a user's room (``user:<id>``): the user's presence in Redis (``<node>:<sid>`` of each
      connection, kept by the connect/disconnect handlers) names the nodes; this node delivers to
      its own members and publishes once to each other node's own channel
      (``<channel>:node:<id>``). No presence at all (Redis rebuilt, presence not announced yet)
      falls back to the broadcast.
    - Everything else (rooms of all physicians or supervisors, emits with a callback, binary
      data, room changes, disconnects) goes to every node as before.
    A connection that opens on another node while an emit reads the presence may miss that one
    emit, as it may miss any emit sent before it joined its rooms; the state push that follows
    every connect resynchronises it."""

    def __init__(self, url: str, channel: str, node_id: str) -> None:
        super().__init__(url, channel=channel)
        self.node_id = node_id
        self.node_channel = f"{channel}:node:{node_id}"

    async def _nodes_of(self, user_id: str) -> set[str] | None:
        if self.redis is None:
            self._redis_connect()
        members = cast(set[bytes], await self.redis.smembers(presence_key(user_id)))
        if not members:
            return None
        return {m.decode().split(":", 1)[0] for m in members}

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: str | None = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: str | None = None,
        **kwargs: Any,
    ) -> None:
        room = to or room
        namespace = namespace or "/"
        targeted = (
            not kwargs.get("ignore_queue")
            and callback is None
            and isinstance(room, str)
            and not Packet.data_is_binary(data)
        )
        everywhere = {"namespace": namespace, "room": room, "skip_sid": skip_sid, **kwargs}
        if not targeted:
            await super().emit(event, data, callback=callback, **everywhere)
            return
        assert room is not None
        local = {"namespace": namespace, "room": room, "skip_sid": skip_sid, "ignore_queue": True}
        if self.is_connected(room, namespace):  # one connection of this node
            await super().emit(event, data, **local)
            return
        if not room.startswith(USER_ROOM_PREFIX):
            await super().emit(event, data, **everywhere)
            return
        try:
            nodes = await self._nodes_of(room[len(USER_ROOM_PREFIX) :])
        except Exception as exc:
            logger.error("presence read failed (%s): broadcasting", type(exc).__name__)
            nodes = None
        if nodes is None:
            await super().emit(event, data, **everywhere)
            return
        if self.node_id in nodes or self.rooms.get(namespace, {}).get(room):
            await super().emit(event, data, **local)
        others = nodes - {self.node_id}
        if others:
            message = {
                "method": "emit",
                "event": event,
                "data": list(data) if isinstance(data, tuple) else [data],
                "binary": False,
                "namespace": namespace,
                "room": room,
                "skip_sid": skip_sid,
                "callback": None,
                "host_id": self.host_id,
            }
            encoded = self.json.dumps(message)
            for node in sorted(others):
                await self._publish_to(f"{self.channel}:node:{node}", encoded)

    async def _publish_to(self, channel: str, encoded: str) -> None:
        # The bounded pool retries a command whose connection died; a failure here is logged
        # and the message dropped (no new pool: reconnecting under load made a storm).
        try:
            if self.redis is None:
                self._redis_connect()
            await self.redis.publish(channel, encoded)
        except Exception as exc:
            logger.error("cannot publish to %s: %s", channel, type(exc).__name__)

    async def _redis_listen_with_retries(self) -> AsyncIterator[Any]:  # pragma: no cover
        """python-socketio's listener, subscribed to this node's own channel as well."""
        retry_sleep = 1.0
        subscribed = False
        while True:
            try:
                if not subscribed:
                    self._redis_connect()
                    await self.pubsub.subscribe(self.channel, self.node_channel)
                    subscribed = True
                    retry_sleep = 1.0
                async for message in self.pubsub.listen():
                    yield message
            except Exception as exc:
                logger.error("cannot receive from redis (%s): retrying in %s s", exc, retry_sleep)
                subscribed = False
                await asyncio.sleep(retry_sleep)
                retry_sleep = min(retry_sleep * 2, 60.0)

    async def _listen(self) -> AsyncIterator[Any]:  # pragma: no cover
        channels = {self.channel.encode(), self.node_channel.encode()}
        async for message in self._redis_listen_with_retries():
            if (
                message["channel"] in channels
                and message["type"] == "message"
                and "data" in message
            ):
                yield message["data"]


def socketio_manager(redis_url: str | None, node_id: str | None = None) -> Any:
    """The socket.io fan-out between nodes sharing a Redis, else the single-node manager (all
    with the room index). With this node's id (the presence's), emits go only to the nodes of
    their recipients."""
    if redis_url is None:
        return IndexedManager()
    if node_id is not None:
        return TargetedRedisManager(redis_url, channel="teleconsult", node_id=node_id)
    return BoundedRedisManager(redis_url, channel="teleconsult")


class LoginLimiter:
    """Counts failed logins per email for a window; beyond ``limit`` the email is refused until
    the window ends (a transport/security timer: real time, Redis TTL)."""

    def __init__(self, client: aioredis.Redis, limit: int = 10, window_seconds: int = 900) -> None:
        self._r = client
        self._limit = limit
        self._window = window_seconds

    @staticmethod
    def _key(email: str) -> str:
        digest = hashlib.sha256(email.encode()).hexdigest()[:32]
        return "{tc}:loginfail:" + digest

    async def blocked(self, email: str) -> bool:
        value = await self._r.get(self._key(email))
        return value is not None and int(value) >= self._limit

    async def failed(self, email: str) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.incr(self._key(email))
            pipe.expire(self._key(email), self._window, nx=True)
            await pipe.execute()

    async def succeeded(self, email: str) -> None:
        await self._r.delete(self._key(email))


class RevokedTokens:
    """Refresh tokens ended by a logout, kept until they would have expired anyway (a security
    timer: real time, Redis TTL)."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._r = client

    async def revoke(self, token_id: str, seconds_left: int) -> None:
        if token_id and seconds_left > 0:
            await self._r.set("{tc}:revoked:" + token_id, "1", ex=seconds_left)

    async def is_revoked(self, token_id: str) -> bool:
        return bool(token_id) and bool(await self._r.exists("{tc}:revoked:" + token_id))
