"""Parsing of the registration and login payloads (R13, R15, R16, R17): validate once, here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import phonenumbers

from records.accounts import Identity
from signaling.errors import BadRequest

_EMAIL: Final = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s.]{2,63}")
_POSTAL: Final = re.compile(r"[0-9A-Za-z][0-9A-Za-z -]{1,9}")
_MOBILE_TYPES: Final = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}
MAX_NAME: Final = 100
MAX_PASSWORD: Final = 256


def _field(body: dict[str, Any], name: str, max_len: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("invalid_field", f"{name} is required (text)")
    value = value.strip()
    if len(value) > max_len:
        raise BadRequest("invalid_field", f"{name} is longer than {max_len} characters")
    if any(ord(c) < 32 for c in value):
        raise BadRequest("invalid_field", f"{name} contains control characters")
    return value


def parse_email(body: dict[str, Any]) -> str:
    email = _field(body, "email", 254).lower()
    if not _EMAIL.fullmatch(email):
        raise BadRequest("invalid_field", "email is not a valid address")
    return email


def parse_password(body: dict[str, Any]) -> str:
    value = body.get("password")
    if not isinstance(value, str) or not value:
        raise BadRequest("invalid_field", "password is required (text)")
    if len(value) > MAX_PASSWORD:
        raise BadRequest("invalid_field", f"password is longer than {MAX_PASSWORD} characters")
    return value


def parse_mobile(raw: str, region: str = "FR") -> str:
    """R15: a mobile number that receives SMS, normalised to E.164."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise BadRequest("invalid_field", "mobile is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise BadRequest("invalid_field", "mobile is not a valid phone number")
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise BadRequest("invalid_field", "mobile must be a mobile number that receives SMS (R15)")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


@dataclass(frozen=True, slots=True)
class Registration:
    identity: Identity
    password: str


def parse_registration(body: dict[str, Any]) -> Registration:
    """The six identity fields (R16/R17), the password and the two consent boxes (R17)."""
    email = parse_email(body)
    password = parse_password(body)
    last_name = _field(body, "last_name", MAX_NAME)
    first_name = _field(body, "first_name", MAX_NAME)
    raw_birth = _field(body, "birth_date", 10)
    try:
        birth_date = date.fromisoformat(raw_birth)
    except ValueError:
        raise BadRequest("invalid_field", "birth_date must be a date YYYY-MM-DD") from None
    if birth_date.year < 1900:
        raise BadRequest("invalid_field", "birth_date is too far in the past")
    mobile = parse_mobile(_field(body, "mobile", 32))
    postal_code = _field(body, "postal_code", 10)
    if not _POSTAL.fullmatch(postal_code):
        raise BadRequest("invalid_field", "postal_code is not a postal code")
    # R17: two separate boxes, unchecked by default; only the JSON value true counts.
    if body.get("accept_terms") is not True or body.get("accept_data_policy") is not True:
        raise BadRequest(
            "consent_required",
            "both the terms of use and the data-protection policy must be accepted (R17)",
        )
    identity = Identity(email, last_name, first_name, birth_date, mobile, postal_code)
    return Registration(identity, password)
