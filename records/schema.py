"""The SQL schema (SQLAlchemy Core). Changes to it are migrations (records/migrations.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes with microseconds, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("last_name", String(100), nullable=False),
    Column("first_name", String(100), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("mobile", String(20), nullable=False),
    Column("postal_code", String(10), nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("1")),
    Column("created_at", UTCDateTime, nullable=False),
)

consents = Table(
    "consents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),  # terms | data_policy (R17)
    Column("document_sha256", String(64), nullable=False),  # R26: the exact version accepted
    Column("accepted_at", UTCDateTime, nullable=False),
    Column("client_address", String(64), nullable=False),
    Column("withdrawn_at", UTCDateTime, nullable=True),
)

consultation_requests = Table(
    "consultation_requests",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("patient_id", String(32), ForeignKey("users.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("state", String(24), nullable=False),
    Column("version", Integer, nullable=False),
    Column("arrival_at", UTCDateTime, nullable=False),
    Column("deadline", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("gp_id", String(32), ForeignKey("users.id"), nullable=True),
    Column("room_id", String(32), nullable=True),
    Column("ended_reason", String(24), nullable=True),
    Column("accepted_at", UTCDateTime, nullable=True),  # a GP took it: on time if <= deadline
    Column("started_at", UTCDateTime, nullable=True),  # R12: counts once started with a GP
    Column("priority_credit", Float, nullable=False, server_default=text("0")),  # seconds
    Column("phone_number", String(20), nullable=True),  # E.164, phone callbacks (R8)
    Column("phone_attempts", Integer, nullable=False, server_default=text("0")),
    Column("not_before", UTCDateTime, nullable=True),  # a phone retry rejoins the line then
    # At most one request under way per patient: the database decides, not a prior read.
    Column("active_patient_id", String(32), nullable=True, unique=True),
)
Index("ix_requests_state", consultation_requests.c.state)
Index("ix_requests_patient", consultation_requests.c.patient_id)

request_events = Table(
    "request_events",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("request_id", String(32), nullable=False, index=True),
    Column("from_state", String(24), nullable=True),
    Column("to_state", String(24), nullable=False),
    Column("version", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(64), nullable=True),
    Column("detail", Text, nullable=True),  # never health data (R27)
)

physician_duty = Table(
    "physician_duty",
    metadata,
    Column("gp_id", String(32), ForeignKey("users.id"), primary_key=True),
    Column("status", String(16), nullable=False),  # available | unavailable | paused
    Column("since", UTCDateTime, nullable=False),
)

sla_alerts = Table(
    "sla_alerts",
    metadata,
    Column("request_id", String(32), primary_key=True),  # once per request
    Column("raised_at", UTCDateTime, nullable=False),
    Column("predicted_start", UTCDateTime, nullable=False),
    Column("deadline", UTCDateTime, nullable=False),
)

shifts = Table(
    "shifts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("gp_id", String(32), ForeignKey("users.id"), nullable=False, index=True),
    Column("starts_at", UTCDateTime, nullable=False, index=True),
    Column("ends_at", UTCDateTime, nullable=False),
)

appointments = Table(
    "appointments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("patient_id", String(32), ForeignKey("users.id"), nullable=False, index=True),
    Column("slot_start", UTCDateTime, nullable=False, index=True),
    Column("slot_end", UTCDateTime, nullable=False),
    Column("state", String(16), nullable=False),  # booked | queued | cancelled | superseded
    Column("version", Integer, nullable=False),
    Column("request_id", String(32), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # One upcoming appointment per patient: NULL once it is no longer booked.
    Column("booked_patient_id", String(32), nullable=True, unique=True),
)
