from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from waiting_room.clock import FakeClock, ScaledClock, SystemClock


def test_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(datetime(2026, 3, 29, 0, 59, tzinfo=UTC))
    assert clock.now() == clock.now()
    assert clock.advance(90.5) == datetime(2026, 3, 29, 1, 0, 30, 500000, tzinfo=UTC)
    with pytest.raises(ValueError):
        FakeClock(datetime(2026, 1, 1))


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is UTC
    assert abs((datetime.now(UTC) - now).total_seconds()) < 5


def test_scaled_clock_runs_faster() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = ScaledClock(3600.0, start)
    time.sleep(0.01)
    assert clock.now() - start >= timedelta(seconds=30)
    with pytest.raises(ValueError):
        ScaledClock(0)
