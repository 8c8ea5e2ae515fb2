"""Accounts for the capacity benchmarks, written straight into a fresh database.

Registering 20,000 patients through the API would spend minutes in argon2 (by design), so the
benchmark writes them with the project's own schema, as ``loadtests/seed.py`` does, and mints
their access tokens with the server's signing key instead of logging in. Every account gets both
consents (R17), so relay patients may ask for a video consultation through the real protocol.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from loadtests.seed import waiting_rows
from records.accounts import CONSENT_KINDS, DATA_POLICY_VERSION, TERMS_VERSION, document_hash
from records.db import create_engine, default_url
from records.migrations import migrate
from records.schema import consents, consultation_requests, request_events, users
from signaling.auth import TokenService, TokenType
from waiting_room.model import Role, UserId

UNUSABLE_PASSWORD_HASH = "!capacity-benchmark-no-login"
"""Not an argon2 hash: these accounts never log in with a password (tokens are minted)."""


@dataclass
class Population:
    """User ids by use: ``waiting`` patients have a request in the queue; ``patients`` (none)
    and ``gps`` are paired into call rooms through the protocol."""

    waiting: list[str] = field(default_factory=list)
    patients: list[str] = field(default_factory=list)
    gps: list[str] = field(default_factory=list)


def _user(user_id: str, email: str, role: Role, n: int, now: datetime) -> dict[str, object]:
    return {
        "id": user_id,
        "email": email,
        "password_hash": UNUSABLE_PASSWORD_HASH,
        "role": role.value,
        "last_name": "Charge",
        "first_name": f"C{n}",
        "birth_date": date(1980, 1, 1),
        "mobile": "+33600000001",
        "postal_code": "75001",
        "created_at": now,
    }


async def seed_population(
    data_dir: Path, waiting: int, patients: int, gps: int, now: datetime | None = None
) -> Population:
    """Create the accounts in a new database under ``data_dir``. Waiting requests arrive over
    the last minute (all well within their 30 minutes)."""
    now = now or datetime.now(UTC)
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(default_url(data_dir))
    await migrate(engine)
    pop = Population()
    user_rows: list[dict[str, object]] = []
    consent_rows: list[dict[str, object]] = []
    request_rows: list[dict[str, object]] = []
    event_rows: list[dict[str, object]] = []

    def add(kind: str, role: Role, count: int, out: list[str]) -> None:
        for i in range(count):
            user_id = secrets.token_hex(16)
            out.append(user_id)
            user_rows.append(_user(user_id, f"{kind}{i}@capacity.test", role, i, now))
            for consent, version in zip(
                CONSENT_KINDS, (TERMS_VERSION, DATA_POLICY_VERSION), strict=True
            ):
                consent_rows.append(
                    {
                        "user_id": user_id,
                        "kind": consent,
                        "document_sha256": document_hash(version),
                        "accepted_at": now,
                        "client_address": "capacity-seed",
                    }
                )

    add("waiting", Role.PATIENT, waiting, pop.waiting)
    add("patient", Role.PATIENT, patients, pop.patients)
    add("gp", Role.PHYSICIAN, gps, pop.gps)
    for i, user_id in enumerate(pop.waiting):
        arrival = now - timedelta(seconds=60 * (waiting - i) / max(waiting, 1))
        request_row, event_row = waiting_rows(user_id, arrival, "bench:capacity")
        request_rows.append(request_row)
        event_rows.append(event_row)
    async with engine.begin() as conn:
        for rows, table in (
            (user_rows, users),
            (consent_rows, consents),
            (request_rows, consultation_requests),
            (event_rows, request_events),
        ):
            for start in range(0, len(rows), 2000):
                await conn.execute(insert(table), rows[start : start + 2000])
    await engine.dispose()
    return pop


def mint_tokens(secret: str, users: list[tuple[str, str]], seconds: int = 4 * 3600) -> list[str]:
    """Access tokens for (user id, role) pairs, signed like the server's own."""
    service = TokenService(secret, seconds, seconds)
    now = datetime.now(UTC)
    return [
        service.issue(UserId(user_id), Role(role), TokenType.ACCESS, now) for user_id, role in users
    ]
