"""The SQL adapter: engine creation (SQLite by default, PostgreSQL when configured)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

logger = logging.getLogger(__name__)


def default_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{(data_dir / 'teleconsult.db').resolve()}"


def create_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL mode and a busy timeout so that several processes on one
    machine can share the file (DESIGN.md)."""
    if url.startswith("sqlite"):
        # One connection per process: SQLite has one writer at a time, and concurrent writers
        # on several connections wait in SQLite's busy handler (sleeps of up to 100 ms), where
        # one shared connection makes them queue in asyncio instead (tail latency).
        engine = create_async_engine(
            url, connect_args={"timeout": 30}, pool_size=1, max_overflow=0, pool_timeout=15
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL syncs at checkpoints, not at every commit: a crash of the
            # process loses nothing; only a power cut may lose the last commits. PostgreSQL is
            # the production database (docs/OPERATIONS.md).
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
