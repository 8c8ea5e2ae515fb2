"""ICE servers handed to clients: always explicit (aiortc and browsers would otherwise reach a
public STUN server), TURN credentials short-lived per user with coturn's shared-secret scheme."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal


def turn_credentials(secret: str, user_id: str, expires_at: int) -> tuple[str, str]:
    """coturn `use-auth-secret` (TURN REST API): username = "<expiry>:<user>", credential =
    base64(HMAC-SHA1(secret, username))."""
    username = f"{expires_at}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


@dataclass(frozen=True, slots=True)
class IceConfig:
    static: Sequence[Mapping[str, Any]] = ()
    """STUN (or fixed TURN) entries from TELECONSULT_ICE_SERVERS."""
    turn_urls: Sequence[str] = ()
    turn_secret: str | None = None
    turn_ttl_seconds: int = 3600
    relay_only: bool = False

    @property
    def policy(self) -> Literal["all", "relay"]:
        return "relay" if self.relay_only else "all"

    def servers_for(self, user_id: str, now_unix: int) -> list[dict[str, Any]]:
        """The ICE servers for one authenticated user; TURN credentials expire after the TTL
        (real time: a security timer)."""
        servers = [dict(s) for s in self.static]
        if self.turn_urls and self.turn_secret:
            username, credential = turn_credentials(
                self.turn_secret, user_id, now_unix + self.turn_ttl_seconds
            )
            servers.append(
                {"urls": list(self.turn_urls), "username": username, "credential": credential}
            )
        return servers
