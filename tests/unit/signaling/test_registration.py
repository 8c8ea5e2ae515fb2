from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from signaling.errors import BadRequest
from signaling.registration import parse_mobile, parse_registration

BODY: dict[str, Any] = {
    "email": " Anne.Martin@Example.FR ",
    "password": "Correct-Horse-42",
    "last_name": "Martin",
    "first_name": "Anne",
    "birth_date": "1980-04-02",
    "mobile": "06 12 34 56 78",
    "postal_code": "75011",
    "accept_terms": True,
    "accept_data_policy": True,
}


def test_a_valid_registration_is_normalised() -> None:
    reg = parse_registration(BODY)
    assert reg.identity.email == "anne.martin@example.fr"
    assert reg.identity.mobile == "+33612345678"  # E.164
    assert reg.identity.birth_date == date(1980, 4, 2)
    assert reg.password == "Correct-Horse-42"


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("0612345678", "+33612345678"),
        ("+33 7 56 78 90 12", "+33756789012"),
        ("+32 470 12 34 56", "+32470123456"),
    ],
)
def test_mobile_numbers(raw: str, e164: str) -> None:
    assert parse_mobile(raw) == e164


@pytest.mark.parametrize("raw", ["0142000000", "12", "+33 6", "abc"])
def test_not_mobile_numbers(raw: str) -> None:  # R15: must receive SMS
    with pytest.raises(BadRequest) as info:
        parse_mobile(raw)
    assert info.value.code == "invalid_field"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"accept_terms": 1}, "consent_required"),
        ({"accept_data_policy": False}, "consent_required"),
        ({"birth_date": "1899-12-31"}, "invalid_field"),
        ({"password": 1234567890}, "invalid_field"),
        ({"password": "x" * 257}, "invalid_field"),
        ({"email": "a@b"}, "invalid_field"),
    ],
)
def test_refusals(change: dict[str, Any], code: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_registration({**BODY, **change})
    assert info.value.code == code
