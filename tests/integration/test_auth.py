"""Accounts and tokens over HTTP and socket.io, against a real node: R13, R17, R18 and the
token checks (missing, expired, forged, wrong type or audience)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
import socketio

from tests.support.clients import login
from tests.support.processes import ServerProcess

VALID: dict[str, Any] = {
    "email": "claire.durand@example.fr",
    "password": "Tres-Secret-2026",
    "last_name": "Durand",
    "first_name": "Claire",
    "birth_date": "1985-06-15",
    "mobile": "06 12 34 56 78",
    "postal_code": "69003",
    "accept_terms": True,
    "accept_data_policy": True,
}


async def _post(url: str, body: Any, **kwargs: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=body, **kwargs) as resp:
            return resp.status, await resp.json()


async def test_register_then_login(server: ServerProcess) -> None:
    body = {**VALID, "email": "register.login@example.fr"}
    status, created = await _post(f"{server.url}/api/auth/register", body)
    assert status == 201, created
    assert created["user"]["role"] == "patient"
    assert created["user"]["email"] == "register.login@example.fr"
    token = await login(server.url, "register.login@example.fr", VALID["password"])
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{server.url}/api/me", headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            me = await resp.json()
    assert me["user"]["first_name"] == "Claire" and me["user"]["role"] == "patient"
    status, again = await _post(f"{server.url}/api/auth/register", body)
    assert (status, again["error"]["code"]) == (409, "email_taken")
    # R17/R26: both consents are kept as proof: the exact version accepted (its SHA-256), when,
    # and from where.
    with sqlite3.connect(server.data_dir / "teleconsult.db") as db:
        rows = db.execute(
            "SELECT kind, document_sha256, accepted_at, client_address FROM consents"
            " WHERE user_id = ? ORDER BY kind",
            (created["user"]["id"],),
        ).fetchall()
    assert [r[0] for r in rows] == ["data_policy", "terms"]
    assert all(len(r[1]) == 64 and r[2] and r[3] == "127.0.0.1" for r in rows)
    assert rows[0][1] != rows[1][1]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"password": "short-A1!"}, "weak_password"),  # R18: 10 characters
        ({"password": "nouppercase-123"}, "weak_password"),  # R18: A-Z
        ({"password": "NOLOWERCASE-123"}, "weak_password"),  # R18: lowercase
        ({"password": "NoSpecialChar123"}, "weak_password"),  # R18: special character
        ({"password": "Élodie-sans-majuscule"}, "weak_password"),  # accented capital only
        ({"accept_terms": False}, "consent_required"),  # R17
        ({"accept_data_policy": "true"}, "consent_required"),  # only JSON true counts
        ({"accept_terms": None}, "consent_required"),
        ({"birth_date": "2015-01-01"}, "minor_not_allowed"),  # R13
        ({"birth_date": "15/06/1985"}, "invalid_field"),
        ({"birth_date": 19850615}, "invalid_field"),
        ({"mobile": "01 42 00 00 00"}, "invalid_field"),  # R15: a landline gets no SMS
        ({"mobile": "not a number"}, "invalid_field"),
        ({"email": "no-at-sign"}, "invalid_field"),
        ({"email": ["a@b.fr"]}, "invalid_field"),
        ({"last_name": ""}, "invalid_field"),
        ({"first_name": "x" * 101}, "invalid_field"),
        ({"first_name": "bad\x00name"}, "invalid_field"),
        ({"postal_code": "<script>"}, "invalid_field"),
    ],
)
async def test_register_refuses_bad_fields(
    server: ServerProcess, change: dict[str, Any], code: str
) -> None:
    body = {**VALID, "email": f"refused.{abs(hash(repr(change)))}@example.fr", **change}
    status, answer = await _post(f"{server.url}/api/auth/register", body)
    assert status in (400, 409)
    assert answer["error"]["code"] == code
    assert answer["error"]["message"]
    # Nothing was created: logging in with that email fails.
    status, _ = await _post(
        f"{server.url}/api/auth/login", {"email": body["email"], "password": VALID["password"]}
    )
    assert status in (400, 401)


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[1, 2]", b'"text"', b"null", b"\xff\xfe", b'{"email": 1}'],
)
async def test_hostile_http_bodies_get_a_clear_error(server: ServerProcess, raw: bytes) -> None:
    async with aiohttp.ClientSession() as http:
        for route in ("register", "login"):
            async with http.post(
                f"{server.url}/api/auth/{route}",
                data=raw,
                headers={"Content-Type": "application/json"},
            ) as resp:
                body = await resp.json()
                assert resp.status == 400
                assert body["error"]["code"] in ("invalid_json", "invalid_field")


async def test_oversized_body_is_refused(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{server.url}/api/auth/login", data=b"{" + b" " * (70 * 1024) + b"}"
        ) as resp:
            body = await resp.json()
    assert resp.status == 413 and body["error"]["code"] == "payload_too_large"


async def test_login_errors_are_the_same_for_unknown_email_and_wrong_password(
    server: ServerProcess,
) -> None:
    url = f"{server.url}/api/auth/login"
    s1, wrong = await _post(url, {"email": "patient1@demo.test", "password": "Wrong-Pass-2026!"})
    s2, unknown = await _post(url, {"email": "nobody@demo.test", "password": "Wrong-Pass-2026!"})
    assert s1 == s2 == 401
    assert wrong == unknown


async def test_login_is_rate_limited_per_email(server: ServerProcess) -> None:
    url = f"{server.url}/api/auth/login"
    body = {"email": "patient5@demo.test", "password": "Wrong-Pass-2026!"}
    statuses = [(await _post(url, body))[0] for _ in range(11)]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429
    # Even the right password is refused while the window lasts.
    status, answer = await _post(url, {**body, "password": "Demo-Password-2026!"})
    assert (status, answer["error"]["code"]) == (429, "rate_limited")


async def test_refresh_cookie_is_httponly_strict_and_renews_the_token(
    server: ServerProcess,
) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(
            f"{server.url}/api/auth/login",
            json={"email": "patient2@demo.test", "password": "Demo-Password-2026!"},
        ) as resp:
            assert resp.status == 200
            cookie = resp.cookies["tc_refresh"]
            assert cookie["httponly"] is True
            assert cookie["samesite"] == "Strict"
            assert cookie["path"] == "/api/auth"
            body = await resp.json()
            assert body["access_token"] not in resp.headers.get("Location", "")
        async with http.post(f"{server.url}/api/auth/refresh") as resp:
            assert resp.status == 200
            assert (await resp.json())["user"]["email"] == "patient2@demo.test"
        # A cross-site POST is refused even with the cookie.
        async with http.post(
            f"{server.url}/api/auth/refresh", headers={"Origin": "https://evil.example"}
        ) as resp:
            assert resp.status == 403
            assert (await resp.json())["error"]["code"] == "bad_origin"
        kept = next(c.value for c in http.cookie_jar if c.key == "tc_refresh")
        async with http.post(f"{server.url}/api/auth/logout") as resp:
            assert resp.status == 204
        async with http.post(f"{server.url}/api/auth/refresh") as resp:
            assert resp.status == 401
            assert (await resp.json())["error"]["code"] == "no_session"
        # A copy of the logged-out cookie is revoked too.
        async with http.post(
            f"{server.url}/api/auth/refresh", headers={"Cookie": f"tc_refresh={kept}"}
        ) as resp:
            assert resp.status == 401
            assert (await resp.json())["error"]["code"] == "no_session"


async def _refused(url: str, auth: Any) -> str:
    """Connect and return the refusal's code (the `connect_error` payload)."""
    client = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", errors.append)
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(url, auth=auth, transports=["websocket"], wait_timeout=5)
    finally:
        await client.disconnect()
    assert len(errors) == 1
    data = errors[0]
    assert data["message"] == data["data"]["code"]
    assert data["data"]["message"]
    return str(data["data"]["code"])


def _secret(server: ServerProcess) -> str:
    return (server.data_dir / "jwt_secret").read_text().strip()


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": "0" * 32,
        "role": "patient",
        "typ": "access",
        "aud": "teleconsult",
        "iss": "teleconsult",
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return claims


async def test_socket_refuses_missing_expired_and_forged_tokens(server: ServerProcess) -> None:
    token = await login(server.url, "patient1@demo.test")
    user_id = jwt.decode(token, options={"verify_signature": False})["sub"]
    secret = _secret(server)
    now = int(time.time())
    cases: dict[str, list[Any]] = {
        "auth_required": [None, {}, {"token": ""}, {"token": 42}, "just-a-string"],
        "token_expired": [
            {"token": jwt.encode(_claims(sub=user_id, iat=now - 1200, exp=now - 600), secret)}
        ],
        "token_invalid": [
            {"token": "not.a.jwt"},
            {"token": jwt.encode(_claims(sub=user_id), "another-secret-" + "x" * 32)},
            {"token": jwt.encode(_claims(sub=user_id), secret, algorithm="HS512")},
            {"token": jwt.encode(_claims(sub=user_id, aud="other"), secret)},
            {"token": jwt.encode(_claims(sub=user_id, typ="refresh"), secret)},
            {"token": jwt.encode(_claims(), secret)},  # unknown user
            # alg "none": an unsigned token
            {"token": jwt.encode(_claims(sub=user_id), "", algorithm="none")},
        ],
    }
    for code, auths in cases.items():
        for auth in auths:
            assert await _refused(server.url, auth) == code, auth


async def test_socket_refuses_long_polling(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/socket.io/?EIO=4&transport=polling") as resp:
            assert resp.status == 400


async def test_socket_refuses_a_foreign_origin(server: ServerProcess) -> None:
    token = await login(server.url, "patient1@demo.test")
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            server.url,
            auth={"token": token},
            transports=["websocket"],
            headers={"Origin": "https://evil.example"},
            wait_timeout=5,
        )
    await client.disconnect()


async def test_tokens_survive_a_server_restart(tmp_path: Path) -> None:
    """The signing key persists in the data directory: a page recovers without a new login."""
    node = ServerProcess(tmp_path / "node").start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{node.url}/api/auth/login",
                json={"email": "patient1@demo.test", "password": "Demo-Password-2026!"},
            ) as resp:
                assert resp.status == 200
                refresh = resp.cookies["tc_refresh"].value
            node.stop()
            node.start()  # a new process, maybe on another port, same data directory
            async with http.post(
                f"{node.url}/api/auth/refresh", headers={"Cookie": f"tc_refresh={refresh}"}
            ) as resp:
                assert resp.status == 200
                token = (await resp.json())["access_token"]
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(node.url, auth={"token": token}, transports=["websocket"])
        assert client.connected
        await client.disconnect()
    finally:
        node.stop()
