"""Domain errors of the waiting room; signaling/errors.py turns them into {code, message}."""

from __future__ import annotations


class WaitingRoomError(Exception):
    code = "waiting_room_error"


class IllegalTransition(WaitingRoomError):
    """The request is not in a state that allows this change."""

    code = "illegal_transition"


class Conflict(WaitingRoomError):
    """Someone else changed the request first: the conditional SQL update matched no row."""

    code = "conflict"


class NotFound(WaitingRoomError):
    code = "not_found"


class AlreadyActive(WaitingRoomError):
    """The patient already has a request under way (one at a time)."""

    code = "already_active"


class ConsentMissing(WaitingRoomError):
    """R17: no service without both consents."""

    code = "consent_missing"


class QuotaExceeded(WaitingRoomError):
    """R12: five teleconsultations per beneficiary per calendar year."""

    code = "quota_exceeded"


class OfferNotFound(WaitingRoomError):
    """No offer of this request is held by this physician (expired, taken or never made)."""

    code = "offer_not_found"


class NotInRoom(WaitingRoomError):
    code = "not_in_room"


class InCall(WaitingRoomError):
    """A physician in a call cannot change availability until it ends."""

    code = "in_call"
