"""signaling's Redis adapter: the socket.io fan-out between nodes and the login limiter."""

from __future__ import annotations

import hashlib
from typing import Any

import redis.asyncio as aioredis
import socketio

from waiting_room.redis_store import bounded_pool

FANOUT_POOL_SIZE = 16
"""Bounded: an unbounded pool opened thousands of connections under load (TESTING.md)."""


class BoundedRedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    """python-socketio's Redis manager on a bounded, retrying connection pool (its own
    `redis_options` cannot choose the pool class)."""

    def _redis_connect(self) -> None:
        self.redis = aioredis.Redis.from_pool(bounded_pool(self.redis_url, FANOUT_POOL_SIZE))
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.connected = True


def socketio_manager(redis_url: str | None) -> Any:
    """The socket.io fan-out between nodes sharing a Redis, else None (one node)."""
    if redis_url is None:
        return None
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
