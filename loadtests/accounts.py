"""Accounts of a load test, written straight into the database before the server starts.

Registering through the API would spend seconds per account in argon2 (by design); the load test
hashes its one password once and inserts the patients (one per request of the trace, consented, so
that neither R17 nor the yearly quota of R12 refuses them), the GPs of the roster, one observing
physician that never takes calls (it hears the predicted-breach alerts) and one supervisor (it
posts the roster). ``teleconsult load seed`` does the same for a server started by hand
(``--target``). Every address ends in ``@load.test``: no real person.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final

from argon2 import PasswordHasher
from sqlalchemy import insert, select

from records.accounts import CONSENT_KINDS, DATA_POLICY_VERSION, TERMS_VERSION, document_hash
from records.db import create_engine, default_url
from records.migrations import migrate
from records.schema import consents, users

LOAD_PASSWORD: Final = "Load-Password-2026!"
SUPERVISOR: Final = "supervisor@load.test"
OBSERVER: Final = "observer@load.test"
_BATCH: Final = 500


def patient_email(index: int) -> str:
    return f"p{index}@load.test"


def gp_email(index: int) -> str:
    return f"gp{index}@load.test"


def patient_mobile(index: int) -> str:
    """A valid French mobile number, distinct per patient (06 then eight digits)."""
    return f"+336{index % 100_000_000:08d}"


async def seed_accounts(
    data_dir: Path, patients: int, gps: int, database_url: str | None = None
) -> int:
    """Create the load-test accounts that do not exist yet in ``data_dir``'s database (or
    ``database_url``); returns how many were created. Idempotent: a second call with larger
    counts adds only the missing ones."""
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(database_url or default_url(data_dir))
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            existing = set(
                (
                    await conn.execute(
                        select(users.c.email).where(users.c.email.like("%@load.test"))
                    )
                ).scalars()
            )
        wanted: list[tuple[str, str, str, str]] = [  # email, role, first name, mobile
            (SUPERVISOR, "supervisor", "Superviseur", "+33700000001"),
            (OBSERVER, "physician", "Observateur", "+33700000002"),
        ]
        wanted += [(gp_email(i), "physician", f"Médecin{i}", "+33700000003") for i in range(gps)]
        wanted += [
            (patient_email(i), "patient", f"P{i}", patient_mobile(i)) for i in range(patients)
        ]
        missing = [w for w in wanted if w[0] not in existing]
        if not missing:
            return 0
        now = datetime.now(UTC)
        password_hash = PasswordHasher().hash(LOAD_PASSWORD)
        hashes = {
            kind: document_hash(v)
            for kind, v in zip(CONSENT_KINDS, (TERMS_VERSION, DATA_POLICY_VERSION), strict=True)
        }
        for start in range(0, len(missing), _BATCH):
            user_rows = []
            consent_rows = []
            for email, role, first, mobile in missing[start : start + _BATCH]:
                user_id = secrets.token_hex(16)
                user_rows.append(
                    {
                        "id": user_id,
                        "email": email,
                        "password_hash": password_hash,
                        "role": role,
                        "last_name": "Charge",
                        "first_name": first,
                        "birth_date": date(1980, 1, 1),
                        "mobile": mobile,
                        "postal_code": "75001",
                        "created_at": now,
                    }
                )
                consent_rows += [
                    {
                        "user_id": user_id,
                        "kind": kind,
                        "document_sha256": digest,
                        "accepted_at": now,
                        "client_address": "load-seed",
                    }
                    for kind, digest in hashes.items()
                ]
            async with engine.begin() as conn:
                await conn.execute(insert(users), user_rows)
                await conn.execute(insert(consents), consent_rows)
        return len(missing)
    finally:
        await engine.dispose()
