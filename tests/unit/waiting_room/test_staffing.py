"""Erlang C against known values, and the staffing hint (95% within 30 minutes)."""

from __future__ import annotations

import math

import pytest

from waiting_room.staffing import erlang_c, gps_needed, service_level


def erlang_c_by_definition(n: int, a: float) -> float:
    top = a**n / math.factorial(n) * n / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)


@pytest.mark.parametrize(
    ("n", "a", "known"),
    [(3, 2.0, 4 / 9), (2, 1.0, 1 / 3), (11, 10.0, 0.6821), (1, 0.5, 0.5)],
)
def test_erlang_c_known_values(n: int, a: float, known: float) -> None:
    assert erlang_c(n, a) == pytest.approx(known, abs=1e-4)
    assert erlang_c(n, a) == pytest.approx(erlang_c_by_definition(n, a), rel=1e-9)


def test_erlang_c_edges() -> None:
    assert erlang_c(3, 3.0) == 1.0 and erlang_c(0, 1.0) == 1.0 and erlang_c(3, 0.0) == 0.0
    for n in range(5, 40):
        assert erlang_c(n, 4.2) == pytest.approx(erlang_c_by_definition(n, 4.2), rel=1e-9)


def test_service_level_by_hand() -> None:
    # 12 arrivals an hour, 12-minute consultations: A = 2.4 Erlangs.
    # N = 3: C = 0.6472, SL = 1 - C exp(-(3 - 2.4) * 1800 / 720) = 0.8556.
    assert service_level(3, 12, 12, 1800) == pytest.approx(0.8556, abs=1e-4)
    # N = 4: C = 0.2870, SL = 1 - C exp(-4) = 0.99474.
    assert service_level(4, 12, 12, 1800) == pytest.approx(0.99474, abs=1e-4)
    assert service_level(2, 12, 12, 1800) == 0.0  # overloaded
    assert service_level(1, 0, 12, 1800) == 1.0


def test_gps_needed() -> None:
    hint = gps_needed(12, 12)
    assert hint.gps_needed == 4 and hint.target_share == 0.95 and hint.within_seconds == 1800
    assert gps_needed(0, 12).gps_needed == 0
    assert gps_needed(1, 12).gps_needed == 1
    # More arrivals never need fewer GPs.
    needs = [gps_needed(rate, 12).gps_needed for rate in range(0, 400, 10)]
    assert needs == sorted(needs)
    with pytest.raises(ValueError):
        gps_needed(10, 0)
