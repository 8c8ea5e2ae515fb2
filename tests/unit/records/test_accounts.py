from __future__ import annotations

from datetime import date

import pytest

from records.accounts import check_password, is_adult, password_problems
from records.errors import WeakPassword


@pytest.mark.parametrize(
    ("password", "missing"),
    [
        ("Abcdefgh!1", []),
        ("Abcdefgh!", ["at least 10 characters"]),
        ("ABCDEFGHIJ!", ["a lowercase letter"]),
        ("abcdefghij!", ["an uppercase letter A-Z"]),
        ("Éabcdefghij!", ["an uppercase letter A-Z"]),
        ("Abcdefghijk", ["a special character"]),
        ("Abcdefghij ", []),
    ],
)
def test_r18_password_policy(password: str, missing: list[str]) -> None:
    assert password_problems(password) == missing


def test_check_password_names_what_is_missing() -> None:
    with pytest.raises(WeakPassword, match="uppercase"):
        check_password("abcdefghij!")


def test_r13_adult_on_the_birthday() -> None:
    born = date(2008, 11, 27)
    assert is_adult(born, date(2026, 11, 27))
    assert not is_adult(born, date(2026, 11, 26))
    assert is_adult(date(2008, 2, 29), date(2026, 3, 1))
