from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from signaling.auth import TokenError, TokenExpired, TokenService, TokenType
from waiting_room.model import Role, UserId

SECRET = "s" * 48


def test_issue_and_verify() -> None:
    tokens = TokenService(SECRET, 900, 3600)
    now = datetime.now(UTC)
    token = tokens.issue(UserId("u" * 32), Role.PHYSICIAN, TokenType.ACCESS, now)
    claims = tokens.verify(token, TokenType.ACCESS)
    assert (claims.user_id, claims.role, claims.type) == (
        "u" * 32,
        Role.PHYSICIAN,
        TokenType.ACCESS,
    )
    raw = jwt.decode(token, options={"verify_signature": False})
    assert raw["exp"] - raw["iat"] == 900 and raw["aud"] == "teleconsult"


def test_type_expiry_and_signature_are_checked() -> None:
    tokens = TokenService(SECRET, 900, 3600)
    now = datetime.now(UTC)
    refresh = tokens.issue(UserId("u"), Role.PATIENT, TokenType.REFRESH, now)
    with pytest.raises(TokenError, match="type"):
        tokens.verify(refresh, TokenType.ACCESS)
    old = tokens.issue(UserId("u"), Role.PATIENT, TokenType.ACCESS, now - timedelta(hours=1))
    with pytest.raises(TokenExpired):
        tokens.verify(old, TokenType.ACCESS)
    other = TokenService("o" * 48, 900, 3600).issue(
        UserId("u"), Role.PATIENT, TokenType.ACCESS, now
    )
    with pytest.raises(TokenError):
        tokens.verify(other, TokenType.ACCESS)
    bad_role = jwt.encode(
        {
            "sub": "u",
            "role": "admin",
            "typ": "access",
            "aud": "teleconsult",
            "iss": "teleconsult",
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + 60,
        },
        SECRET,
        algorithm="HS256",
    )
    with pytest.raises(TokenError, match="role"):
        tokens.verify(bad_role, TokenType.ACCESS)
