"""Domain errors of the server-side media (pre-call echo test)."""

from __future__ import annotations


class MediaError(Exception):
    """Base class; ``code`` is the stable error code of PROTOCOL.md."""

    code = "media_error"


class EchoBusy(MediaError):
    """The node already runs its maximum of echo sessions (PROTOCOL.md, ``echo_busy``)."""

    code = "echo_busy"


class InvalidOffer(MediaError):
    """The SDP offer cannot be answered (PROTOCOL.md, ``invalid_field``)."""

    code = "invalid_field"
