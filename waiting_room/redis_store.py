"""The Redis adapter of the waiting room: live queue, GP availability, offers, rooms, presence.

The only module of ``waiting_room`` that imports redis. With no Redis URL the same code runs on an
in-process Redis (fakeredis with Lua), so the scripts and commands are the same in both modes.
"""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any, cast

import redis.asyncio as aioredis

from waiting_room.model import CallRoom, RequestId, RoomId, UserId
from waiting_room.store import GpLive, Picked, QueuedEntry

logger = logging.getLogger(__name__)

# One hash tag for every key, so multi-key scripts stay valid on a clustered deployment.
_P = "{tc}"
QUEUE = f"{_P}:queue"
QUEUE_META = f"{_P}:queue:meta"
IDLE = f"{_P}:idle"
BUILT = f"{_P}:built"
PRESENCE_TTL_SECONDS = 24 * 3600


def _gp_key(gp_id: UserId) -> str:
    return f"{_P}:gp:{gp_id}"


def _room_key(room_id: RoomId) -> str:
    return f"{_P}:room:{room_id}"


def _presence_key(user_id: UserId) -> str:
    return f"{_P}:presence:{user_id}"


def connect(url: str | None, max_connections: int = 16) -> aioredis.Redis:
    """A client for ``url``, or an in-process Redis when ``url`` is None.

    The pool is bounded: an unbounded pool opened thousands of connections under load
    (../shared/TESTING.md).
    """
    if url is None:
        import fakeredis

        logger.warning("no Redis URL configured: running one node on an in-process Redis")
        return cast(aioredis.Redis, fakeredis.FakeAsyncRedis(decode_responses=True))
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=5, decode_responses=True
    )
    return aioredis.Redis.from_pool(pool)  # the client owns the pool and closes it


class RedisLiveStore:
    def __init__(self, client: aioredis.Redis) -> None:
        self._r = client
        source = resources.files("waiting_room").joinpath("pick.lua").read_text()
        self._pick = self._r.register_script(source)

    async def close(self) -> None:
        await self._r.aclose()

    async def ping(self) -> bool:
        try:
            return bool(await self._r.ping())
        except (aioredis.RedisError, OSError):
            return False

    # -- queue ---------------------------------------------------------------------------
    async def enqueue(
        self, member: str, score: float, patient_id: UserId, arrival_ts: float
    ) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.zadd(QUEUE, {member: score})
            pipe.hset(QUEUE_META, member, f"{patient_id}|{arrival_ts!r}")
            await pipe.execute()

    async def dequeue(self, member: str) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.zrem(QUEUE, member)
            pipe.hdel(QUEUE_META, member)
            await pipe.execute()

    async def queue_entries(self) -> list[QueuedEntry]:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.zrange(QUEUE, 0, -1)
            pipe.hgetall(QUEUE_META)
            members, meta = await pipe.execute()
        entries = []
        for member in cast(list[str], members):
            raw = cast(dict[str, str], meta).get(member)
            if raw is None:
                continue
            patient, _, arrival = raw.partition("|")
            entries.append(QueuedEntry(member, UserId(patient), float(arrival)))
        return entries

    async def queue_size(self) -> int:
        return int(await self._r.zcard(QUEUE))

    async def rank(self, member: str) -> int | None:
        value = cast(int | None, await self._r.zrank(QUEUE, member))
        return value

    # -- GPs and the pick ------------------------------------------------------------------
    async def set_idle(self, gp_id: UserId, since_ts: float) -> None:
        await self._r.zadd(IDLE, {gp_id: since_ts})

    async def clear_idle(self, gp_id: UserId) -> None:
        await self._r.zrem(IDLE, gp_id)

    async def pick(self) -> Picked | None:
        result: Any = await self._pick(keys=[QUEUE, IDLE])
        if not result:
            return None
        member, score, gp_id, idle_since = result
        return Picked(str(member), float(score), UserId(str(gp_id)), float(idle_since))

    async def put_back(
        self,
        picked: Picked,
        request_still_waiting: bool,
        patient_id: UserId | None,
        arrival_ts: float | None,
    ) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.zadd(IDLE, {picked.gp_id: picked.gp_idle_since})
            if request_still_waiting:
                pipe.zadd(QUEUE, {picked.member: picked.score})
            else:
                pipe.hdel(QUEUE_META, picked.member)
            await pipe.execute()

    async def set_gp(self, gp_id: UserId, live: GpLive) -> None:
        await self._r.hset(
            _gp_key(gp_id),
            mapping={
                "status": live.status,
                "request_id": live.request_id or "",
                "room_id": live.room_id or "",
            },
        )

    async def get_gp(self, gp_id: UserId) -> GpLive:
        raw = cast(dict[str, str], await self._r.hgetall(_gp_key(gp_id)))
        return GpLive(
            status=raw.get("status") or "unavailable",
            request_id=RequestId(raw["request_id"]) if raw.get("request_id") else None,
            room_id=RoomId(raw["room_id"]) if raw.get("room_id") else None,
        )

    # -- rooms -------------------------------------------------------------------------------
    async def save_room(self, room: CallRoom) -> None:
        await self._r.hset(
            _room_key(room.id),
            mapping={
                "request_id": room.request_id,
                "patient_id": room.patient_id,
                "gp_id": room.gp_id,
            },
        )

    async def get_room(self, room_id: RoomId) -> CallRoom | None:
        raw = cast(dict[str, str], await self._r.hgetall(_room_key(room_id)))
        if not raw:
            return None
        return CallRoom(
            id=room_id,
            request_id=RequestId(raw["request_id"]),
            patient_id=UserId(raw["patient_id"]),
            gp_id=UserId(raw["gp_id"]),
        )

    async def delete_room(self, room_id: RoomId) -> None:
        await self._r.delete(_room_key(room_id))

    # -- presence ----------------------------------------------------------------------------
    async def add_presence(self, user_id: UserId, sid: str) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.sadd(_presence_key(user_id), sid)
            pipe.expire(_presence_key(user_id), PRESENCE_TTL_SECONDS)
            await pipe.execute()

    async def remove_presence(self, user_id: UserId, sid: str) -> int:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.srem(_presence_key(user_id), sid)
            pipe.scard(_presence_key(user_id))
            _, remaining = await pipe.execute()
        return int(remaining)

    # -- rebuild -----------------------------------------------------------------------------
    async def is_built(self) -> bool:
        return bool(await self._r.exists(BUILT))

    async def reset_queue(self, entries: list[tuple[str, float, UserId, float]]) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.delete(QUEUE, QUEUE_META, IDLE)
            for member, score, patient_id, arrival_ts in entries:
                pipe.zadd(QUEUE, {member: score})
                pipe.hset(QUEUE_META, member, f"{patient_id}|{arrival_ts!r}")
            pipe.set(BUILT, "1")
            await pipe.execute()
