"""Demo accounts for ``teleconsult serve --demo``: idempotent, never wipes data."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Final

from records.accounts import Accounts, Identity
from records.errors import EmailTaken
from waiting_room.model import Role

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
