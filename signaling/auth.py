"""JWT access and refresh tokens (pyjwt): HS256 only; exp, aud and token type checked."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

import jwt

from waiting_room.model import Role, UserId

ALGORITHM: Final = "HS256"
AUDIENCE: Final = "teleconsult"
ISSUER: Final = "teleconsult"


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


class TokenError(Exception):
    code = "token_invalid"


class TokenExpired(TokenError):
    code = "token_expired"


@dataclass(frozen=True, slots=True)
class Claims:
    user_id: UserId
    role: Role
    type: TokenType
    expires_at: datetime
    token_id: str = ""
    """The token's `jti`: a logged-out refresh token is revoked by it."""


class TokenService:
    def __init__(self, secret: str, access_seconds: int, refresh_seconds: int) -> None:
        self._secret = secret
        self._ttl = {TokenType.ACCESS: access_seconds, TokenType.REFRESH: refresh_seconds}

    def ttl(self, token_type: TokenType) -> int:
        return self._ttl[token_type]

    def issue(self, user_id: UserId, role: Role, token_type: TokenType, now: datetime) -> str:
        payload = {
            "sub": user_id,
            "role": role.value,
            "typ": token_type.value,
            "aud": AUDIENCE,
            "iss": ISSUER,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=self._ttl[token_type])).timestamp()),
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str, expected: TokenType) -> Claims:
        """Decode and check a token; raises TokenExpired or TokenError. Token expiry is real
        time, never the scaled business clock (DESIGN.md, "Time")."""
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpired("the token has expired") from None
        except jwt.PyJWTError:
            raise TokenError("the token is not valid") from None
        if payload.get("typ") != expected.value:
            raise TokenError("wrong token type")
        try:
            role = Role(payload["role"])
        except (KeyError, ValueError):
            raise TokenError("the token carries no valid role") from None
        subject = payload["sub"]
        if not isinstance(subject, str) or not subject:
            raise TokenError("the token carries no subject")
        jti = payload.get("jti")
        return Claims(
            user_id=UserId(subject),
            role=role,
            type=expected,
            expires_at=datetime.fromtimestamp(payload["exp"]).astimezone(),
            token_id=jti if isinstance(jti, str) else "",
        )
