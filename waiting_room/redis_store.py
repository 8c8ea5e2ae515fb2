"""The Redis adapter of the waiting room: live queue, GPs, offers, rooms, timers, presence.

The only module of ``waiting_room`` that imports redis. With no Redis URL the same code runs on an
in-process Redis (fakeredis with Lua), so the scripts and commands are the same in both modes.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import secrets
from dataclasses import replace
from importlib import resources
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from waiting_room.model import CallRoom, RequestId, RoomId, UserId
from waiting_room.store import GpLive, Picked, QueuedEntry

logger = logging.getLogger(__name__)

# One hash tag for every key, so multi-key scripts stay valid on a clustered deployment.
_P = "{tc}"
QUEUE = f"{_P}:queue"
QUEUE_META = f"{_P}:queue:meta"
OFFERED = f"{_P}:offered"
"""Requests held by an offer: out of the pick's reach, still in the line patients see."""
IDLE = f"{_P}:idle"
GPS = f"{_P}:gps"
TIMERS = f"{_P}:timers"
BUILT = f"{_P}:built"
NODES = f"{_P}:nodes"
RECOVERY_LOCK = f"{_P}:recovery"
PRESENCE_TTL_SECONDS = 24 * 3600


def _gp_key(gp_id: str) -> str:
    return f"{_P}:gp:{gp_id}"


def _room_key(room_id: str) -> str:
    return f"{_P}:room:{room_id}"


def _presence_key(user_id: str) -> str:
    return f"{_P}:presence:{user_id}"


def _node_key(node_id: str) -> str:
    return f"{_P}:node:{node_id}"


def connect(url: str | None, max_connections: int = 64) -> aioredis.Redis:
    """A client for ``url``, or an in-process Redis when ``url`` is None.

    The pool is bounded: an unbounded pool opened thousands of connections under load
    (../shared/TESTING.md). 16 was too few for a reconnect storm (10,000 clients dropping and
    coming back at once): each command holds a connection for an event-loop turn, commands
    waited over the pool's 5 s and disconnect handlers failed (capacity benchmark).
    """
    if url is None:
        import fakeredis

        logger.warning("no Redis URL configured: running one node on an in-process Redis")
        return cast(aioredis.Redis, fakeredis.FakeAsyncRedis(decode_responses=True))
    return aioredis.Redis.from_pool(bounded_pool(url, max_connections, decode_responses=True))


def bounded_pool(url: str, max_connections: int, **kwargs: Any) -> aioredis.BlockingConnectionPool:
    """A pool that waits (up to 5 s) for a free connection instead of opening more, and retries a
    command whose connection died (Redis restarted): pooled connections are stale after a
    restart and each would otherwise fail one command."""
    return aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=5,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        **kwargs,
    )


def _meta(entry: QueuedEntry) -> str:
    """What the feed needs of each queued request, in one string: it reads the whole line every
    second, so the members come without scores (no per-score conversion) and this is split once."""
    return f"{entry.patient_id}|{entry.arrival_ts!r}|{entry.deadline_ts!r}|{entry.score!r}"


def _parse(members: list[str], raws: list[str | None]) -> dict[str, QueuedEntry]:
    """Entries (not offered) from their meta strings; members without meta are left out."""
    parsed = {}
    for member, raw in zip(members, raws, strict=True):
        if raw is None:
            continue
        fields = raw.split("|")
        patient, arrival, deadline = fields[:3]
        # Entries written before the score was kept here score by their deadline.
        score = fields[3] if len(fields) > 3 else deadline
        parsed[member] = QueuedEntry(
            member, float(score), UserId(patient), float(arrival), float(deadline)
        )
    return parsed


def _line(
    waiting: list[str], offered: list[str], known: dict[str, QueuedEntry]
) -> list[QueuedEntry]:
    line = [e for e in map(known.get, waiting) if e is not None]
    if offered:  # few: merge them into the ordered waiting line
        held = [replace(e, offered=True) for e in map(known.get, offered) if e is not None]
        line = list(heapq.merge(line, held, key=lambda e: (e.score, e.member)))
    return line


def _gp_mapping(live: GpLive) -> dict[Any, Any]:
    return {
        "status": live.status,
        "request_id": live.request_id or "",
        "room_id": live.room_id or "",
        "since": repr(live.since),
        "until": "" if live.until is None else repr(live.until),
        "missed": str(live.missed),
    }


def _gp_from(raw: dict[str, str]) -> GpLive:
    return GpLive(
        status=raw.get("status") or "unavailable",
        request_id=RequestId(raw["request_id"]) if raw.get("request_id") else None,
        room_id=RoomId(raw["room_id"]) if raw.get("room_id") else None,
        since=float(raw.get("since") or 0.0),
        until=float(raw["until"]) if raw.get("until") else None,
        missed=int(raw.get("missed") or 0),
    )


class RedisLiveStore:
    def __init__(self, client: aioredis.Redis, node_id: str | None = None) -> None:
        self._r = client
        self.node_id = node_id or secrets.token_hex(6)
        package = resources.files("waiting_room")
        self._pick = self._r.register_script(package.joinpath("pick.lua").read_text())
        self._claim = self._r.register_script(package.joinpath("claim_due.lua").read_text())
        self._known: dict[str, QueuedEntry] = {}
        """Parsed queue entries by member (see ``queue_entries``)."""

    async def close(self) -> None:
        await self._r.aclose()

    async def ping(self) -> bool:
        try:
            return bool(await self._r.ping())
        except (aioredis.RedisError, OSError):
            return False

    # -- queue -----------------------------------------------------------------------------
    async def enqueue(self, entry: QueuedEntry) -> None:
        """Waiting (again) at the entry's place; no longer offered."""
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.zadd(QUEUE, {entry.member: entry.score})
            pipe.zrem(OFFERED, entry.member)
            pipe.hset(QUEUE_META, entry.member, _meta(entry))
            await pipe.execute()

    async def dequeue(self, member: str) -> None:
        """Out of the line: accepted, cancelled, abandoned."""
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.zrem(QUEUE, member)
            pipe.zrem(OFFERED, member)
            pipe.hdel(QUEUE_META, member)
            await pipe.execute()

    async def queue_entries(self) -> list[QueuedEntry]:
        """The line patients see, best first: waiting and offered requests (flagged).

        The feed reads it every second. A member's meta never changes while it is queued (its
        score is fixed), so each node keeps the entries it has parsed and reads only the meta
        of members new to it: a line of 20,000 costs two member lists, not 20,000 parses."""
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.zrange(QUEUE, 0, -1)
            pipe.zrange(OFFERED, 0, -1)
            waiting, offered = await pipe.execute()
        known = self._known
        missing = [m for m in waiting if m not in known]
        missing += [m for m in offered if m not in known]
        if missing:
            raws = cast(list[str | None], await self._r.hmget(QUEUE_META, missing))
            if len(missing) < 500:
                known.update(_parse(missing, raws))
            else:  # a cold start on a long line: parsed off the event loop
                known.update(await asyncio.to_thread(_parse, missing, raws))
        line = _line(waiting, offered, known)
        if len(known) > 2 * len(line) + 1000:  # forget members gone from the line
            self._known = {e.member: known[e.member] for e in line}
        return line

    async def queue_size(self) -> int:
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.zcard(QUEUE)
            pipe.zcard(OFFERED)
            waiting, offered = await pipe.execute()
        return int(waiting) + int(offered)

    async def rank(self, member: str) -> int | None:
        """0-based place in the line (waiting and offered requests with a lower score)."""
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.zscore(QUEUE, member)
            pipe.zscore(OFFERED, member)
            in_queue, in_offered = await pipe.execute()
        score = in_queue if in_queue is not None else in_offered
        if score is None:
            return None
        value = float(score)
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.zcount(QUEUE, "-inf", f"({value!r}")
            pipe.zcount(OFFERED, "-inf", f"({value!r}")
            pipe.zrangebyscore(QUEUE, value, value)
            pipe.zrangebyscore(OFFERED, value, value)
            ahead_waiting, ahead_offered, tied_waiting, tied_offered = await pipe.execute()
        # Equal scores order by member (the arrival sequence number comes first in it).
        tied = sum(1 for m in [*tied_waiting, *tied_offered] if m < member)
        return int(ahead_waiting) + int(ahead_offered) + tied

    # -- GPs and the pick --------------------------------------------------------------------
    async def set_idle(self, gp_id: UserId, since_ts: float) -> None:
        await self._r.zadd(IDLE, {gp_id: since_ts})

    async def clear_idle(self, gp_id: UserId) -> None:
        await self._r.zrem(IDLE, gp_id)

    async def pick(self) -> Picked | None:
        result: Any = await self._pick(keys=[QUEUE, IDLE, OFFERED])
        if not result:
            return None
        member, score, gp_id, idle_since = result
        return Picked(str(member), float(score), UserId(str(gp_id)), float(idle_since))

    async def put_back(self, picked: Picked, entry: QueuedEntry | None) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.zadd(IDLE, {picked.gp_id: picked.gp_idle_since})
            pipe.zrem(OFFERED, picked.member)
            if entry is not None:
                pipe.zadd(QUEUE, {entry.member: entry.score})
                pipe.hset(QUEUE_META, entry.member, _meta(entry))
            else:
                pipe.hdel(QUEUE_META, picked.member)
            await pipe.execute()

    async def set_gp(self, gp_id: UserId, live: GpLive) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(_gp_key(gp_id), mapping=_gp_mapping(live))
            pipe.sadd(GPS, gp_id)
            await pipe.execute()

    async def get_gp(self, gp_id: UserId) -> GpLive:
        return _gp_from(cast(dict[str, str], await self._r.hgetall(_gp_key(gp_id))))

    async def all_gps(self) -> dict[UserId, GpLive]:
        ids = sorted(cast(set[str], await self._r.smembers(GPS)))
        async with self._r.pipeline(transaction=False) as pipe:
            for gp_id in ids:
                pipe.hgetall(_gp_key(gp_id))
            raws = await pipe.execute()
        return {UserId(g): _gp_from(raw) for g, raw in zip(ids, raws, strict=True) if raw}

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

    # -- timers (deadlines as data: business epoch seconds) -------------------------------------
    async def schedule(self, timer: str, at: float) -> None:
        await self._r.zadd(TIMERS, {timer: at})

    async def cancel(self, timer: str) -> None:
        await self._r.zrem(TIMERS, timer)

    async def claim_due(self, now: float, limit: int) -> list[str]:
        return [str(m) for m in await self._claim(keys=[TIMERS], args=[repr(now), limit])]

    async def timers(self) -> dict[str, float]:
        return dict(
            cast(list[tuple[str, float]], await self._r.zrange(TIMERS, 0, -1, withscores=True))
        )

    # -- nodes and presence -----------------------------------------------------------------
    async def heartbeat(self, ttl_ms: int) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.set(_node_key(self.node_id), "1", px=ttl_ms)
            pipe.sadd(NODES, self.node_id)
            await pipe.execute()

    async def other_live_nodes(self) -> list[str]:
        nodes = sorted(cast(set[str], await self._r.smembers(NODES)) - {self.node_id})
        if not nodes:
            return []
        alive = await self._r.exists(*[_node_key(n) for n in nodes])
        if not alive:
            return []
        async with self._r.pipeline(transaction=False) as pipe:
            for n in nodes:
                pipe.exists(_node_key(n))
            flags = await pipe.execute()
        dead = [n for n, f in zip(nodes, flags, strict=True) if not f]
        if dead:
            await self._r.srem(NODES, *dead)
        return [n for n, f in zip(nodes, flags, strict=True) if f]

    async def leave(self) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.delete(_node_key(self.node_id))
            pipe.srem(NODES, self.node_id)
            await pipe.execute()

    async def add_presence(self, user_id: UserId, sid: str) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.sadd(_presence_key(user_id), f"{self.node_id}:{sid}")
            pipe.expire(_presence_key(user_id), PRESENCE_TTL_SECONDS)
            await pipe.execute()

    async def remove_presence(self, user_id: UserId, sid: str) -> None:
        await self._r.srem(_presence_key(user_id), f"{self.node_id}:{sid}")

    async def is_present(self, user_id: UserId) -> bool:
        """A connection on a live node (entries of dead nodes are dropped as they are seen)."""
        members = cast(set[str], await self._r.smembers(_presence_key(user_id)))
        if not members:
            return False
        by_node: dict[str, list[str]] = {}
        for m in members:
            by_node.setdefault(m.split(":", 1)[0], []).append(m)
        nodes = sorted(by_node)
        async with self._r.pipeline(transaction=False) as pipe:
            for n in nodes:
                pipe.exists(_node_key(n))
            flags = await pipe.execute()
        dead = [m for n, f in zip(nodes, flags, strict=True) if not f for m in by_node[n]]
        if dead:
            await self._r.srem(_presence_key(user_id), *dead)
        return any(flags)

    # -- rebuild -------------------------------------------------------------------------------
    async def built_epoch(self) -> str | None:
        return cast(str | None, await self._r.get(BUILT))

    async def try_lock(self, name: str, ttl_ms: int) -> bool:
        """A lock that expires by itself: one node at a time does a periodic chore."""
        return bool(await self._r.set(f"{_P}:lock:{name}", self.node_id, nx=True, px=ttl_ms))

    async def try_lock_recovery(self, ttl_ms: int) -> bool:
        return bool(await self._r.set(RECOVERY_LOCK, self.node_id, nx=True, px=ttl_ms))

    async def unlock_recovery(self) -> None:
        await self._r.delete(RECOVERY_LOCK)

    async def reset(
        self, entries: list[QueuedEntry], rooms: list[CallRoom], gps: dict[UserId, GpLive]
    ) -> str:
        """Replace the live state; returns the new build epoch."""
        old_gps = cast(set[str], await self._r.smembers(GPS))
        epoch = secrets.token_hex(8)
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.delete(
                QUEUE, QUEUE_META, OFFERED, IDLE, TIMERS, GPS, *[_gp_key(g) for g in old_gps]
            )
            for e in entries:
                pipe.zadd(QUEUE, {e.member: e.score})
                pipe.hset(QUEUE_META, e.member, _meta(e))
            for room in rooms:
                pipe.hset(
                    _room_key(room.id),
                    mapping={
                        "request_id": room.request_id,
                        "patient_id": room.patient_id,
                        "gp_id": room.gp_id,
                    },
                )
            for gp_id, live in gps.items():
                # An available GP joins the idle line only when their page reconnects
                # (gp_connected): offers go to GPs who can see them.
                pipe.hset(_gp_key(gp_id), mapping=_gp_mapping(live))
                pipe.sadd(GPS, gp_id)
            pipe.set(BUILT, epoch)
            await pipe.execute()
        return epoch
