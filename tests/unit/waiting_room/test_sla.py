"""Forecast of start times and predicted breaches (R6), with plain numbers for time."""

from __future__ import annotations

import pytest

from waiting_room.model import GpStatus
from waiting_room.sla import Forecast, GpLoad, ServiceTimes, forecast, gp_free_at

SERVICE = ServiceTimes(low=600.0, mid=900.0, high=1200.0, offer_latency=15.0)
NOW = 10_000.0
DEADLINE = NOW + 1800.0


def test_free_times_by_status() -> None:
    assert gp_free_at(GpLoad(GpStatus.AVAILABLE, NOW - 5), NOW, SERVICE) == NOW
    assert gp_free_at(GpLoad(GpStatus.OFFERED, NOW), NOW, SERVICE) == NOW + 15 + 900
    # In a call since 100 s: expected free when a central consultation would end...
    assert gp_free_at(GpLoad(GpStatus.IN_CALL, NOW - 100), NOW, SERVICE) == NOW + 800
    # ...and never sooner than a minute from now, however long the call already is.
    assert gp_free_at(GpLoad(GpStatus.IN_CALL, NOW - 5000), NOW, SERVICE) == NOW + 60
    assert gp_free_at(GpLoad(GpStatus.WRAP_UP, NOW - 10, NOW + 50), NOW, SERVICE) == NOW + 50
    assert gp_free_at(GpLoad(GpStatus.WRAP_UP, NOW - 10, None), NOW, SERVICE) == NOW
    assert gp_free_at(GpLoad(GpStatus.PAUSED, NOW), NOW, SERVICE) is None
    assert gp_free_at(GpLoad(GpStatus.UNAVAILABLE, NOW), NOW, SERVICE) is None


def test_no_gp_on_duty_gives_no_forecast() -> None:
    paused = [GpLoad(GpStatus.PAUSED, NOW), GpLoad(GpStatus.UNAVAILABLE, NOW)]
    assert forecast([DEADLINE], paused, NOW, SERVICE) is None


def test_one_available_gp_serves_the_queue_in_turn() -> None:
    result = forecast([DEADLINE] * 3, [GpLoad(GpStatus.AVAILABLE, NOW)], NOW, SERVICE)
    assert result == [
        Forecast(NOW, NOW, NOW, False),
        Forecast(NOW + 600, NOW + 900, NOW + 1200, False),
        Forecast(NOW + 1200, NOW + 1800, NOW + 2400, False),  # exactly at the deadline: on time
    ]


def test_a_request_predicted_after_its_deadline_is_at_risk() -> None:
    result = forecast([DEADLINE] * 4, [GpLoad(GpStatus.AVAILABLE, NOW)], NOW, SERVICE)
    assert result is not None
    assert [f.at_risk for f in result] == [False, False, False, True]


def test_two_gps_share_the_queue_earliest_free_first() -> None:
    gps = [GpLoad(GpStatus.IN_CALL, NOW - 600), GpLoad(GpStatus.AVAILABLE, NOW)]
    result = forecast([DEADLINE] * 3, gps, NOW, SERVICE)
    assert result is not None
    assert [f.start_mid for f in result] == [NOW, NOW + 300, NOW + 900]


def test_service_times_are_ordered() -> None:
    with pytest.raises(ValueError):
        ServiceTimes(low=10, mid=5, high=20)
    with pytest.raises(ValueError):
        ServiceTimes(low=0, mid=5, high=20)
