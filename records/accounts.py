"""Accounts and consents (R13, R17, R18, R26)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from records.errors import EmailTaken, InvalidCredentials, MinorNotAllowed, WeakPassword
from records.schema import consents, users
from waiting_room.model import Role, UserId

PASSWORD_MIN_LENGTH: Final = 10
ADULT_AGE: Final = 18

# R26: the exact texts accepted are identified by their SHA-256. The texts themselves ship with the
# web client; these are the versions this release presents.
TERMS_VERSION: Final = "cgu-2020-05"
DATA_POLICY_VERSION: Final = "donnees-sante-2020-05"
CONSENT_KINDS: Final = ("terms", "data_policy")


def document_hash(version: str) -> str:
    return hashlib.sha256(version.encode()).hexdigest()


_hasher = PasswordHasher()
# A hash to verify against when the email is unknown, so both failures take the same time.
_DUMMY_HASH: Final = _hasher.hash(secrets.token_urlsafe(16))


def password_problems(password: str) -> list[str]:
    """R18: at least 10 characters, one lowercase letter, one uppercase A-Z (no accent), one
    special character (neither letter nor digit). Returns what is missing, empty when it passes."""
    problems = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append(f"at least {PASSWORD_MIN_LENGTH} characters")
    if not any(c.islower() for c in password):
        problems.append("a lowercase letter")
    if not any("A" <= c <= "Z" for c in password):
        problems.append("an uppercase letter A-Z")
    if not any(not c.isalnum() for c in password):
        problems.append("a special character")
    return problems


def check_password(password: str) -> None:
    problems = password_problems(password)
    if problems:
        raise WeakPassword("the password needs " + ", ".join(problems) + " (R18)")


def is_adult(birth_date: date, today: date) -> bool:
    """R13: 18 or older on ``today``."""
    years = (
        today.year
        - birth_date.year
        - ((today.month, today.day) < (birth_date.month, birth_date.day))
    )
    return years >= ADULT_AGE


@dataclass(frozen=True, slots=True)
class Identity:
    """R16/R17: the six identity fields."""

    email: str
    last_name: str
    first_name: str
    birth_date: date
    mobile: str
    """E.164."""
    postal_code: str


@dataclass(frozen=True, slots=True)
class User:
    id: UserId
    email: str
    role: Role
    first_name: str
    last_name: str
    active: bool
    mobile: str = ""
    """E.164 (R15, R16)."""


def _user(row: Any) -> User:
    return User(
        id=UserId(row.id),
        email=row.email,
        role=Role(row.role),
        first_name=row.first_name,
        last_name=row.last_name,
        active=bool(row.active),
        mobile=row.mobile,
    )


class Accounts:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def register(
        self,
        identity: Identity,
        password: str,
        role: Role,
        now: datetime,
        client_address: str,
    ) -> User:
        """Create an account with both consents recorded as proof (R17, R26). Raises
        WeakPassword (R18), MinorNotAllowed (R13) or EmailTaken."""
        check_password(password)
        if not is_adult(identity.birth_date, now.date()):
            raise MinorNotAllowed("an adult account is needed; a minor is accompanied (R13)")
        password_hash = await asyncio.to_thread(_hasher.hash, password)
        user_id = secrets.token_hex(16)
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    insert(users).values(
                        id=user_id,
                        email=identity.email,
                        password_hash=password_hash,
                        role=role.value,
                        last_name=identity.last_name,
                        first_name=identity.first_name,
                        birth_date=identity.birth_date,
                        mobile=identity.mobile,
                        postal_code=identity.postal_code,
                        created_at=now,
                    )
                )
                for kind, version in zip(
                    CONSENT_KINDS, (TERMS_VERSION, DATA_POLICY_VERSION), strict=True
                ):
                    await conn.execute(
                        insert(consents).values(
                            user_id=user_id,
                            kind=kind,
                            document_sha256=document_hash(version),
                            accepted_at=now,
                            client_address=client_address[:64],
                        )
                    )
        except IntegrityError as exc:
            raise EmailTaken("an account already uses this email") from exc
        return User(
            UserId(user_id), identity.email, role, identity.first_name, identity.last_name, True
        )

    async def authenticate(self, email: str, password: str) -> User:
        """Check a password; the same error, in about the same time, for an unknown email."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.email == email))).one_or_none()
        stored = row.password_hash if row is not None else _DUMMY_HASH
        try:
            await asyncio.to_thread(_hasher.verify, stored, password)
        except (VerificationError, InvalidHashError):
            raise InvalidCredentials("wrong email or password") from None
        if row is None or not row.active:
            raise InvalidCredentials("wrong email or password")
        if _hasher.check_needs_rehash(stored):
            new_hash = await asyncio.to_thread(_hasher.hash, password)
            async with self._engine.begin() as conn:
                await conn.execute(
                    update(users).where(users.c.id == row.id).values(password_hash=new_hash)
                )
        return _user(row)

    async def get(self, user_id: str) -> User | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.id == user_id))).one_or_none()
        return None if row is None else _user(row)

    async def by_email(self, email: str) -> User | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.email == email))).one_or_none()
        return None if row is None else _user(row)

    async def patient_by_mobile(self, mobile: str) -> User | None:
        """The patient account with this mobile number (E.164), if exactly one has it."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(users).where(
                        users.c.mobile == mobile, users.c.role == Role.PATIENT.value
                    )
                )
            ).all()
        return _user(rows[0]) if len(rows) == 1 else None

    async def exists(self, email: str) -> bool:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(users.c.id).where(users.c.email == email))
            ).one_or_none()
        return row is not None

    async def has_required_consents(self, user_id: UserId) -> bool:
        """R17: both consents given and not withdrawn."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(consents.c.kind).where(
                        consents.c.user_id == user_id, consents.c.withdrawn_at.is_(None)
                    )
                )
            ).all()
        return set(CONSENT_KINDS) <= {r.kind for r in rows}
