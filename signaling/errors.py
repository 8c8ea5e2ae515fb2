"""The one place where exceptions become {code, message} for clients."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from records.errors import RecordsError
from signaling.auth import TokenError
from signaling.events import InvalidEvent
from waiting_room.errors import WaitingRoomError

logger = logging.getLogger(__name__)


class Forbidden(Exception):
    code = "forbidden"


class InvalidPhone(Exception):
    """R8: the callback number is not a mobile number."""

    code = "invalid_phone"


class BadRequest(Exception):
    """An HTTP payload failed validation; ``code`` is one of PROTOCOL.md's."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


_KNOWN = (
    WaitingRoomError,
    RecordsError,
    TokenError,
    InvalidEvent,
    Forbidden,
    BadRequest,
    InvalidPhone,
)


def error_body(exc: BaseException) -> dict[str, Any]:
    """``{"code", "message"}`` for a known error; an unexpected one is logged with an incident id
    that the client sees, and its text is never shown."""
    if isinstance(exc, _KNOWN):
        return {"code": exc.code, "message": str(exc)}
    incident = secrets.token_hex(4)
    logger.error("internal error, incident %s", incident, exc_info=exc)
    return {"code": "internal_error", "message": f"unexpected error (incident {incident})"}


def ack_error(exc: BaseException) -> dict[str, Any]:
    return {"ok": False, "error": error_body(exc)}
