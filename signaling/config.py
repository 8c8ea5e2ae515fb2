"""Configuration: embedded defaults, overridden by TELECONSULT_* variables, overridden by flags."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ENV_PREFIX = "TELECONSULT_"


class ConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("data")
    redis_url: str | None = None
    """None: one node on an in-process Redis."""
    database_url: str | None = None
    """None: a SQLite file in the data directory."""
    jwt_secret: str | None = None
    """None: generated once and kept in the data directory (development)."""
    allowed_origins: tuple[str, ...] = ()
    """Extra origins allowed to open a socket; empty means same origin only. Never a wildcard."""
    ice_servers: tuple[Mapping[str, Any], ...] = ()
    """Handed to clients for RTCPeerConnection; always explicit (empty on loopback)."""
    access_token_seconds: int = 900
    refresh_token_seconds: int = 12 * 3600
    demo: bool = False
    offer_timeout_seconds: float = 30.0
    """Business seconds before an unanswered offer returns to the queue."""
    wrap_up_seconds: float = 120.0
    patient_grace_seconds: float = 120.0
    call_grace_seconds: float = 60.0
    turn_urls: tuple[str, ...] = ()
    """TURN URLs (comma-separated), e.g. turn:turn.example.fr:3478?transport=udp."""
    turn_secret: str | None = None
    """coturn's static-auth-secret: credentials are made per user, short-lived."""
    turn_ttl_seconds: int = 3600
    ice_relay_only: bool = False
    """Force relay-only ICE (iceTransportPolicy "relay") for every client."""
    phone_retry_seconds: float = 300.0
    echo_max_sessions: int = 4
    appointment_share: float = 0.5
    """R7/R6: share of the rostered capacity appointments may take; the rest stays for immediate
    requests."""
    nurse_hours: str = "08:00-20:00"
    """R9: weekday hours of the nurse platform, Europe/Paris."""
    telephony_key: str | None = None
    """Shared secret of the telephony integration (POST /api/phone/incoming); unset: no route."""
    test_clock: bool = False
    """Browser tests only: POST /api/test/clock moves the business clock forward."""
    clock_scale: float = 1.0
    """Business seconds per real second (load tests replay a day in minutes); 1 in production."""
    clock_start: datetime | None = None
    """Load tests only: the business time at start-up of a scaled clock (None: now)."""
    web_dir: Path = field(
        default_factory=lambda: Path(__file__).resolve().parent.parent / "web_client" / "dist"
    )


# name -> (environment variable, parser); the same names are the CLI flags.
def _parse_origins(raw: str) -> tuple[str, ...]:
    origins = tuple(o.strip() for o in raw.split(",") if o.strip())
    if "*" in origins:
        raise ConfigError("a wildcard origin is refused: list the origins")
    return origins


def parse_ice_servers(raw: str) -> tuple[Mapping[str, Any], ...]:
    """A JSON list of RTCIceServer objects (each with ``urls``); ConfigError otherwise."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"ICE servers must be a JSON list: {exc}") from None
    if not isinstance(value, list) or not all(isinstance(v, dict) and "urls" in v for v in value):
        raise ConfigError('ICE servers must be a JSON list of {"urls": ...} objects')
    return tuple(value)


def _parse_bool(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"not a boolean: {raw!r}")


def _parse_port(raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"not a port: {raw!r}") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"not a port: {raw!r}")
    return port


def _parse_seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"not a number: {raw!r}") from None
    if not 0 <= value < 10**7:
        raise ConfigError(f"out of range: {raw!r}")
    return value


def _parse_positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"not an integer: {raw!r}") from None
    if value < 1:
        raise ConfigError(f"must be at least 1: {raw!r}")
    return value


def _parse_urls(raw: str) -> tuple[str, ...]:
    urls = tuple(u.strip() for u in raw.split(",") if u.strip())
    if not all(u.startswith(("turn:", "turns:")) for u in urls):
        raise ConfigError("TURN URLs start with turn: or turns:")
    return urls


def _parse_share(raw: str) -> float:
    value = _parse_seconds(raw)
    if value > 1:
        raise ConfigError("the appointment share is between 0 and 1")
    return value


def _parse_hours(raw: str) -> str:
    from waiting_room.hours import NurseHours

    try:
        NurseHours.parse(raw)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return raw


def _parse_key(raw: str) -> str:
    if len(raw) < 24:
        raise ConfigError("the telephony key must be at least 24 characters")
    return raw


def _parse_instant(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"not an ISO 8601 time: {raw!r}") from None
    if value.tzinfo is None:
        raise ConfigError("the clock start needs an offset, e.g. 2026-12-07T00:00:00+01:00")
    return value.astimezone(UTC)


def _parse_scale(raw: str) -> float:
    value = _parse_seconds(raw)
    if value <= 0:
        raise ConfigError("the clock scale must be positive")
    return value


PARSERS: dict[str, Any] = {
    "host": str,
    "port": _parse_port,
    "data_dir": Path,
    "redis_url": str,
    "database_url": str,
    "jwt_secret": str,
    "allowed_origins": _parse_origins,
    "ice_servers": parse_ice_servers,
    "access_token_seconds": int,
    "refresh_token_seconds": int,
    "demo": _parse_bool,
    "offer_timeout_seconds": _parse_seconds,
    "wrap_up_seconds": _parse_seconds,
    "patient_grace_seconds": _parse_seconds,
    "call_grace_seconds": _parse_seconds,
    "clock_scale": _parse_scale,
    "clock_start": _parse_instant,
    "appointment_share": _parse_share,
    "turn_urls": _parse_urls,
    "turn_secret": str,
    "turn_ttl_seconds": int,
    "ice_relay_only": _parse_bool,
    "phone_retry_seconds": _parse_seconds,
    "echo_max_sessions": _parse_positive_int,
    "nurse_hours": _parse_hours,
    "telephony_key": _parse_key,
    "test_clock": _parse_bool,
    "web_dir": Path,
}


def load_settings(
    overrides: Mapping[str, str | None], environ: Mapping[str, str] | None = None
) -> Settings:
    """Defaults, then TELECONSULT_<NAME> variables, then ``overrides`` (flags; None = not given)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, parse in PARSERS.items():
        raw = overrides.get(name)
        if raw is None:
            raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = parse(raw)
    return Settings(**values)


def jwt_secret(settings: Settings) -> str:
    """The signing key: from configuration, else generated once into the data directory so that
    tokens survive a restart."""
    if settings.jwt_secret:
        if len(settings.jwt_secret) < 32:
            raise ConfigError("TELECONSULT_JWT_SECRET must be at least 32 characters")
        return settings.jwt_secret
    path = settings.data_dir / "jwt_secret"
    if path.exists():
        return path.read_text().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret)
    return secret
