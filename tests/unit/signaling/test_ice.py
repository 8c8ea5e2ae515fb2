from __future__ import annotations

import base64
import hashlib
import hmac

from signaling.ice import IceConfig, turn_credentials


def test_coturn_shared_secret_scheme() -> None:
    username, credential = turn_credentials("s3cret", "user42", 1_800_000_000)
    assert username == "1800000000:user42"
    expected = base64.b64encode(
        hmac.new(b"s3cret", b"1800000000:user42", hashlib.sha1).digest()
    ).decode()
    assert credential == expected


def test_servers_are_explicit_and_turn_is_short_lived() -> None:
    assert IceConfig().servers_for("u", 1000) == []
    assert IceConfig().policy == "all"
    config = IceConfig(
        static=({"urls": "stun:127.0.0.1:3478"},),
        turn_urls=("turn:127.0.0.1:3478?transport=udp",),
        turn_secret="k",
        turn_ttl_seconds=600,
        relay_only=True,
    )
    servers = config.servers_for("u", 1000)
    assert servers[0] == {"urls": "stun:127.0.0.1:3478"}
    assert servers[1]["urls"] == ["turn:127.0.0.1:3478?transport=udp"]
    assert servers[1]["username"] == "1600:u"
    assert config.policy == "relay"
    # Without a secret no TURN entry is made (no unauthenticated relay).
    assert IceConfig(turn_urls=("turn:x",)).servers_for("u", 0) == []
