"""HTTP routes: auth API, health, and the web client's pages."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from records.accounts import Accounts, User
from records.errors import InvalidCredentials, RecordsError
from signaling.auth import TokenError, TokenService, TokenType
from signaling.errors import BadRequest, Forbidden, error_body
from signaling.redis_adapter import LoginLimiter, RevokedTokens
from signaling.registration import parse_email, parse_password, parse_registration
from waiting_room.clock import Clock
from waiting_room.errors import WaitingRoomError
from waiting_room.model import Role
from waiting_room.redis_store import RedisLiveStore

logger = logging.getLogger(__name__)

MAX_BODY: Final = 64 * 1024
REFRESH_COOKIE: Final = "tc_refresh"
COOKIE_PATH: Final = "/api/auth"

_STATUS: Final = {
    "invalid_json": 400,
    "invalid_field": 400,
    "weak_password": 400,
    "consent_required": 400,
    "minor_not_allowed": 400,
    "email_taken": 409,
    "invalid_credentials": 401,
    "no_session": 401,
    "auth_required": 401,
    "token_invalid": 401,
    "token_expired": 401,
    "bad_origin": 403,
    "not_found": 404,
    "payload_too_large": 413,
    "rate_limited": 429,
    "forbidden": 403,
    "not_a_slot": 400,
    "outside_hours": 400,
    "in_the_past": 400,
    "too_far_ahead": 400,
    "slot_full": 409,
    "already_booked": 409,
    "already_active": 409,
    "illegal_transition": 409,
    "conflict": 409,
    "consent_missing": 403,
    "quota_exceeded": 403,
    "bad_key": 403,
    "unknown_caller": 404,
}

_CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(code: str, message: str, status: int | None = None) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status or _STATUS.get(code, 400)
    )


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """API errors are always {"error": {code, message}}; security headers on every answer."""
    try:
        response = await handler(request)
    except BadRequest as exc:
        response = json_error(exc.code, str(exc), exc.status)
    except (RecordsError, TokenError, WaitingRoomError, Forbidden) as exc:
        body = error_body(exc)
        response = json_error(body["code"], body["message"])
    except web.HTTPRequestEntityTooLarge:
        response = json_error("payload_too_large", f"the body is larger than {MAX_BODY} bytes")
    except web.HTTPException as exc:
        if not request.path.startswith("/api/"):
            raise
        response = json_error(
            "not_found" if exc.status == 404 else "http_error", exc.reason, exc.status
        )
    except Exception as exc:
        body = error_body(exc)
        response = json_error(body["code"], body["message"], 500)
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/api/"):
        response.headers["Cache-Control"] = "no-store"
    return response


async def read_json(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BadRequest("payload_too_large", f"the body is larger than {MAX_BODY} bytes", 413)
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("invalid_json", "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("invalid_json", "the body must be a JSON object")
    return body


def check_origin(request: web.Request) -> None:
    """Cookie-authenticated POSTs come from our own pages only (with SameSite=Strict, defence in
    depth against cross-site requests)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return
    own = f"{request.scheme}://{request.host}"
    if origin != own:
        raise BadRequest("bad_origin", "this request must come from the service's own pages", 403)


def user_body(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "role": user.role.value,
        "first_name": user.first_name,
    }


@dataclass
class AuthApi:
    accounts: Accounts
    tokens: TokenService
    limiter: LoginLimiter
    clock: Clock
    revoked: RevokedTokens

    def _token_response(self, request: web.Request, user: User, status: int = 200) -> web.Response:
        # Token lifetimes are security timers: real time, never the scaled or test business
        # clock (DESIGN.md, "Time").
        now = datetime.now(UTC)
        access = self.tokens.issue(user.id, user.role, TokenType.ACCESS, now)
        refresh = self.tokens.issue(user.id, user.role, TokenType.REFRESH, now)
        response = web.json_response(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": self.tokens.ttl(TokenType.ACCESS),
                "user": user_body(user),
            },
            status=status,
        )
        response.set_cookie(
            REFRESH_COOKIE,
            refresh,
            max_age=self.tokens.ttl(TokenType.REFRESH),
            path=COOKIE_PATH,
            httponly=True,
            samesite="Strict",
            secure=request.secure,
        )
        return response

    async def register(self, request: web.Request) -> web.Response:
        registration = parse_registration(await read_json(request))
        user = await self.accounts.register(
            registration.identity,
            registration.password,
            Role.PATIENT,
            self.clock.now(),
            request.remote or "unknown",
        )
        logger.info("account %s registered", user.id)
        return web.json_response({"user": user_body(user)}, status=201)

    async def login(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        email = parse_email(body)
        password = parse_password(body)
        if await self.limiter.blocked(email):
            raise BadRequest("rate_limited", "too many failed attempts; try again later", 429)
        try:
            user = await self.accounts.authenticate(email, password)
        except InvalidCredentials:
            await self.limiter.failed(email)
            raise
        await self.limiter.succeeded(email)
        logger.info("account %s logged in", user.id)
        return self._token_response(request, user)

    async def refresh(self, request: web.Request) -> web.Response:
        check_origin(request)
        token = request.cookies.get(REFRESH_COOKIE)
        if not token:
            raise BadRequest("no_session", "no session: log in", 401)
        try:
            claims = self.tokens.verify(token, TokenType.REFRESH)
        except TokenError:
            raise BadRequest("no_session", "the session has ended: log in", 401) from None
        if await self.revoked.is_revoked(claims.token_id):
            raise BadRequest("no_session", "the session has ended: log in", 401)
        user = await self.accounts.get(claims.user_id)
        if user is None or not user.active:
            raise BadRequest("no_session", "the session has ended: log in", 401)
        return self._token_response(request, user)

    async def logout(self, request: web.Request) -> web.Response:
        """Ends the session: the refresh cookie is cleared and its token revoked, so a copy of it
        no longer works either."""
        check_origin(request)
        token = request.cookies.get(REFRESH_COOKIE)
        if token:
            try:
                claims = self.tokens.verify(token, TokenType.REFRESH)
            except TokenError:
                pass
            else:
                left = int(claims.expires_at.timestamp() - datetime.now(UTC).timestamp()) + 1
                await self.revoked.revoke(claims.token_id, left)
        response = web.Response(status=204)
        response.del_cookie(REFRESH_COOKIE, path=COOKIE_PATH)
        return response

    async def user(self, request: web.Request, *roles: Role) -> User:
        """The account behind the request's Bearer access token, of one of ``roles`` if given."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise BadRequest("auth_required", "send Authorization: Bearer <access token>", 401)
        claims = self.tokens.verify(token.strip(), TokenType.ACCESS)
        user = await self.accounts.get(claims.user_id)
        if user is None or not user.active:
            raise BadRequest("token_invalid", "unknown or closed account", 401)
        if roles and user.role not in roles:
            raise Forbidden(f"the role {user.role} may not use this route")
        return user

    async def me(self, request: web.Request) -> web.Response:
        user = await self.user(request)
        return web.json_response(
            {"user": {**user_body(user), "last_name": user.last_name, "mobile": user.mobile}}
        )


@dataclass
class HealthApi:
    engine: AsyncEngine
    live: RedisLiveStore
    clock: Clock

    async def healthz(self, request: web.Request) -> web.Response:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            sql_ok = True
        except Exception:
            logger.warning("health: database does not answer")
            sql_ok = False
        redis_ok = await self.live.ping()
        if sql_ok and redis_ok:
            # The business time lets a load test find where a scaled clock stands.
            return web.json_response({"status": "ok", "now": self.clock.now().isoformat()})
        return web.json_response({"status": "unavailable"}, status=503)


def add_pages(app: web.Application, web_dir: Path) -> None:
    pages = {
        "/": "index.html",
        "/patient": "patient.html",
        "/physician": "physician.html",
        "/supervisor": "supervisor.html",
    }

    def page(file: str) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            path = web_dir / file
            if not path.is_file():
                return web.Response(
                    status=503, text="web client not built: run `make run` (npm run build)"
                )
            return web.FileResponse(path, headers={"Cache-Control": "no-cache"})

        return handler

    for route, file in pages.items():
        app.router.add_get(route, page(file))
    static = web_dir / "static"
    if static.is_dir():
        app.router.add_static("/static/", static, follow_symlinks=False)
    else:
        logger.warning("web client not built: %s is missing", static)


def add_api(app: web.Application, auth: AuthApi, health: HealthApi) -> None:
    app.router.add_get("/healthz", health.healthz)
    app.router.add_post("/api/auth/register", auth.register)
    app.router.add_post("/api/auth/login", auth.login)
    app.router.add_post("/api/auth/refresh", auth.refresh)
    app.router.add_post("/api/auth/logout", auth.logout)
    app.router.add_get("/api/me", auth.me)
