"""Prepare a database with many waiting requests for benchmarks.

Registering thousands of patients through the API would spend minutes in argon2 hashing (by
design), so benchmarks write the accounts and their waiting requests straight into a new database
with the project's own schema, and let `teleconsult serve` rebuild its live queue from it at
start-up, as after a restart.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import insert

from records.db import create_engine, default_url
from records.migrations import migrate
from records.schema import consultation_requests, request_events, users

BENCH_PASSWORD = "Bench-Password-2026!"


def waiting_rows(
    patient_id: str, arrival: datetime, actor: str
) -> tuple[dict[str, object], dict[str, object]]:
    """The SQL rows of one immediate video request waiting since ``arrival`` (the request and
    its last transition), as `teleconsult serve` would have written them."""
    request_id = secrets.token_hex(16)
    request = {
        "id": request_id,
        "patient_id": patient_id,
        "kind": "immediate",
        "channel": "video",
        "state": "waiting",
        "version": 3,
        "arrival_at": arrival,
        "deadline": arrival + timedelta(minutes=30),
        "updated_at": arrival,
        "active_patient_id": patient_id,
    }
    event = {
        "request_id": request_id,
        "from_state": "screened",
        "to_state": "waiting",
        "version": 3,
        "at": arrival,
        "actor": actor,
    }
    return request, event


async def seed_waiting(data_dir: Path, waiting: int, now: datetime | None = None) -> int:
    """Create ``waiting`` patients, each with one immediate request waiting, arrivals spread over
    the last ``waiting`` tenths of a second (all still within their 30 minutes)."""
    now = now or datetime.now(UTC)
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(default_url(data_dir))
    await migrate(engine)
    password_hash = PasswordHasher().hash(BENCH_PASSWORD)
    user_rows = []
    request_rows = []
    event_rows = []
    for i in range(waiting):
        user_id = secrets.token_hex(16)
        arrival = now - timedelta(seconds=(waiting - i) * 0.1)
        user_rows.append(
            {
                "id": user_id,
                "email": f"bench{i}@load.test",
                "password_hash": password_hash,
                "role": "patient",
                "last_name": "Charge",
                "first_name": f"P{i}",
                "birth_date": date(1980, 1, 1),
                "mobile": "+33600000001",
                "postal_code": "75001",
                "created_at": now,
            }
        )
        request_row, event_row = waiting_rows(user_id, arrival, "bench:seed")
        request_rows.append(request_row)
        event_rows.append(event_row)
    async with engine.begin() as conn:
        for start in range(0, waiting, 1000):
            await conn.execute(insert(users), user_rows[start : start + 1000])
            await conn.execute(insert(consultation_requests), request_rows[start : start + 1000])
            await conn.execute(insert(request_events), event_rows[start : start + 1000])
    await engine.dispose()
    return waiting


if __name__ == "__main__":  # pragma: no cover - manual use
    import sys

    print(asyncio.run(seed_waiting(Path(sys.argv[1]), int(sys.argv[2]))))
