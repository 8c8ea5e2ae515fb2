"""Demo accounts for ``teleconsult serve --demo``: idempotent, never wipes data."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from records.accounts import Accounts, Identity
from records.errors import EmailTaken
from records.schedule import SqlScheduleStore
from waiting_room.model import Role
from waiting_room.schedule import PARIS

logger = logging.getLogger(__name__)

DEMO_PASSWORD: Final = "Demo-Password-2026!"

_FIRST_NAMES: Final = ("Anne", "Bruno", "Chloé", "David", "Élodie", "Fatima", "Gilles", "Hélène")


def demo_accounts() -> list[tuple[Identity, Role]]:
    """The accounts the README lists: consented, eligible adults with a mobile number."""
    accounts: list[tuple[Identity, Role]] = []

    def add(email: str, first: str, last: str, role: Role, n: int) -> None:
        accounts.append(
            (
                Identity(
                    email=email,
                    last_name=last,
                    first_name=first,
                    birth_date=date(1970 + n, 1 + n % 12, 1 + n),
                    mobile=f"+336000000{n:02d}",
                    postal_code="75011",
                ),
                role,
            )
        )

    for i in range(1, 6):
        add(f"patient{i}@demo.test", _FIRST_NAMES[i - 1], f"Patient{i}", Role.PATIENT, i)
    for i in range(1, 4):
        add(f"gp{i}@demo.test", f"Docteur{i}", f"Médecin{i}", Role.PHYSICIAN, 10 + i)
    add("nurse1@demo.test", "Infirmière", "Démo", Role.NURSE, 20)
    add("supervisor@demo.test", "Superviseur", "Démo", Role.SUPERVISOR, 21)
    add("dpo@demo.test", "Délégué", "Démo", Role.DPO, 22)
    return accounts


async def seed_demo(accounts: Accounts, now: datetime) -> int:
    """Create the demo accounts that do not exist yet; returns how many were created."""
    created = 0
    for identity, role in demo_accounts():
        if await accounts.exists(identity.email):
            continue
        try:
            await accounts.register(identity, DEMO_PASSWORD, role, now, "demo-seed")
            created += 1
        except EmailTaken:
            continue
    logger.info(
        "demo accounts: %d created, %d already there", created, len(demo_accounts()) - created
    )
    return created


DEMO_ROSTER_DAYS: Final = 14
_DEMO_SHIFT: Final = (time(8, 0), time(22, 0))


async def seed_demo_roster(accounts: Accounts, roster: SqlScheduleStore, now: datetime) -> int:
    """gp1..gp3 rostered 08:00-22:00 Europe/Paris from today for 14 days; idempotent."""
    created = 0
    today = now.astimezone(PARIS).date()
    for i in range(1, 4):
        gp = await accounts.by_email(f"gp{i}@demo.test")
        if gp is None:
            continue
        for offset in range(DEMO_ROSTER_DAYS + 1):
            day = today + timedelta(days=offset)
            start = datetime.combine(day, _DEMO_SHIFT[0], tzinfo=PARIS).astimezone(UTC)
            end = datetime.combine(day, _DEMO_SHIFT[1], tzinfo=PARIS).astimezone(UTC)
            if not await roster.has_shift(gp.id, start, end):
                await roster.add_shift(gp.id, start, end)
                created += 1
    logger.info("demo roster: %d shifts created", created)
    return created
