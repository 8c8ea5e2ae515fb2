"""Errors of the records package (signaling/errors.py maps them to {code, message})."""

from __future__ import annotations


class RecordsError(Exception):
    code = "records_error"


class EmailTaken(RecordsError):
    code = "email_taken"


class WeakPassword(RecordsError):
    """R18: the password does not meet the policy."""

    code = "weak_password"


class MinorNotAllowed(RecordsError):
    """R13: adults only by default."""

    code = "minor_not_allowed"


class InvalidCredentials(RecordsError):
    code = "invalid_credentials"
