"""Schema migrations, applied by ``serve`` at start-up.

A new database gets the current schema at once and is stamped with the latest version; an existing
one runs every migration above its stamped version, in order. A schema change therefore adds both
the new definition in schema.py and a step here that brings an older database to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from sqlalchemy import Connection, DateTime, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine

from records.schema import (
    appointments,
    metadata,
    physician_duty,
    schema_version,
    shifts,
    sla_alerts,
)

logger = logging.getLogger(__name__)

Migration = Callable[[Connection], None]


def _v2_dispatcher(conn: Connection) -> None:
    """The dispatcher: priority credit, GP availability intent, SLA alerts."""
    conn.exec_driver_sql(
        "ALTER TABLE consultation_requests ADD COLUMN priority_credit FLOAT NOT NULL DEFAULT 0"
    )
    metadata.create_all(conn, tables=[physician_duty, sla_alerts])


def _v3_appointments(conn: Connection) -> None:
    """Appointments and rosters (R7), and when a GP accepted each request (the served share)."""
    column_type = DateTime(timezone=True).compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE consultation_requests ADD COLUMN accepted_at {column_type}")
    metadata.create_all(conn, tables=[shifts, appointments])


def _v4_phone(conn: Connection) -> None:
    """Phone callbacks (R8): the number, the tries, and when a retry rejoins the line."""
    column_type = DateTime(timezone=True).compile(dialect=conn.dialect)
    for ddl in (
        "ADD COLUMN phone_number VARCHAR(20)",
        "ADD COLUMN phone_attempts INTEGER NOT NULL DEFAULT 0",
        f"ADD COLUMN not_before {column_type}",
    ):
        conn.exec_driver_sql(f"ALTER TABLE consultation_requests {ddl}")


# (version, step) in order; version 1 is the initial schema.
MIGRATIONS: Sequence[tuple[int, Migration]] = (
    (2, _v2_dispatcher),
    (3, _v3_appointments),
    (4, _v4_phone),
)
LATEST = max((v for v, _ in MIGRATIONS), default=1)


def _current_version(conn: Connection) -> int | None:
    if not inspect(conn).has_table("schema_version"):
        return None
    return conn.execute(select(schema_version.c.version)).scalar_one_or_none()


def _migrate(conn: Connection) -> int:
    version = _current_version(conn)
    if version is None:
        metadata.create_all(conn)
        conn.execute(schema_version.insert().values(id=1, version=LATEST))
        logger.info("created schema version %d", LATEST)
        return LATEST
    for target, step in MIGRATIONS:
        if target > version:
            step(conn)
            conn.execute(schema_version.update().values(version=target))
            logger.info("migrated schema to version %d", target)
            version = target
    return version


async def migrate(engine: AsyncEngine) -> int:
    """Create or migrate the schema; returns the version the database is at."""
    async with engine.begin() as conn:
        return await conn.run_sync(_migrate)
