from __future__ import annotations

import os
from pathlib import Path

import pytest

from signaling.config import ConfigError, Settings, jwt_secret, load_settings


def test_defaults() -> None:
    s = load_settings({}, environ={})
    assert (s.host, s.port, s.redis_url, s.database_url) == ("127.0.0.1", 8080, None, None)
    assert s.data_dir == Path("data") and s.ice_servers == () and s.allowed_origins == ()


def test_flag_wins_over_environment() -> None:
    env = {
        "TELECONSULT_PORT": "9000",
        "TELECONSULT_HOST": "0.0.0.0",
        "TELECONSULT_REDIS_URL": "redis://127.0.0.1:1/0",
    }
    s = load_settings({"port": "0", "host": None}, environ=env)
    assert s.port == 0 and s.host == "0.0.0.0" and s.redis_url == "redis://127.0.0.1:1/0"


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("allowed_origins", "https://a.example,*"),
        ("ice_servers", "{}"),
        ("ice_servers", '[{"username": "x"}]'),
        ("ice_servers", "not json"),
        ("port", "70000"),
        ("port", "http"),
        ("demo", "maybe"),
        ("clock_start", "2026-12-07T00:00:00"),
        ("clock_start", "yesterday"),
        ("clock_scale", "0"),
    ],
)
def test_bad_values_are_refused(name: str, raw: str) -> None:
    with pytest.raises(ConfigError):
        load_settings({name: raw}, environ={})


def test_ice_servers_and_origins_parse() -> None:
    s = load_settings(
        {
            "ice_servers": '[{"urls": "stun:127.0.0.1:3478"}]',
            "allowed_origins": "https://a.example, https://b.example",
        },
        environ={},
    )
    assert s.ice_servers == ({"urls": "stun:127.0.0.1:3478"},)
    assert s.allowed_origins == ("https://a.example", "https://b.example")


def test_jwt_secret_is_generated_once_and_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d")
    first = jwt_secret(settings)
    assert jwt_secret(settings) == first and len(first) >= 32
    assert os.stat(tmp_path / "d" / "jwt_secret").st_mode & 0o077 == 0
    assert jwt_secret(Settings(jwt_secret="k" * 40)) == "k" * 40
    with pytest.raises(ConfigError):
        jwt_secret(Settings(jwt_secret="short"))


def test_clock_start_is_kept_in_utc() -> None:
    s = load_settings({}, environ={"TELECONSULT_CLOCK_START": "2026-12-07T00:00:00+01:00"})
    assert s.clock_start is not None and s.clock_start.isoformat() == "2026-12-06T23:00:00+00:00"
