"""Measurements of the echo test from known getStats() samples (PROTOCOL.md, "Pre-call check")."""

from __future__ import annotations

import pytest

from media.measure import Measurements, NetworkReport, StatsSample, measure


def sample(
    t_ms: float,
    bytes_received: int,
    packets_received: int,
    packets_lost: int = 0,
    rtt_ms: float | None = 20.0,
) -> StatsSample:
    return StatsSample(t_ms, rtt_ms, bytes_received, packets_received, packets_lost)


def run(*samples: StatsSample, connect_ms: float = 250.0) -> Measurements:
    return measure(NetworkReport(connect_ms, samples))


def test_two_samples_a_second_apart() -> None:
    m = run(sample(1000, 10_000, 100, 2, 30.0), sample(2000, 60_000, 195, 7, 50.0))
    assert m.connect_ms == 250.0
    assert m.rtt_ms == 40.0
    assert m.loss == pytest.approx(5 / 100)
    assert m.bitrate_kbps == pytest.approx(400.0)  # 50,000 bytes x 8 in one second


def test_rtt_is_the_median_of_the_reported_values() -> None:
    m = run(
        sample(0, 0, 0, rtt_ms=10.0),
        sample(1000, 0, 0, rtt_ms=None),
        sample(2000, 0, 0, rtt_ms=500.0),
        sample(3000, 0, 0, rtt_ms=30.0),
    )
    assert m.rtt_ms == 30.0


def test_rtt_ignores_negative_and_non_finite_values() -> None:
    m = run(
        sample(0, 0, 0, rtt_ms=-5.0),
        sample(1, 0, 0, rtt_ms=float("nan")),
        sample(2, 0, 0, rtt_ms=float("inf")),
        sample(3, 0, 0, rtt_ms=8.0),
    )
    assert m.rtt_ms == 8.0


def test_rtt_none_when_never_reported() -> None:
    m = run(sample(0, 0, 0, rtt_ms=None), sample(1000, 100, 1, rtt_ms=None))
    assert m.rtt_ms is None
    assert m.bitrate_kbps is not None


def test_no_samples() -> None:
    assert run() == Measurements(connect_ms=250.0, rtt_ms=None, loss=None, bitrate_kbps=None)


def test_one_sample_gives_rtt_only() -> None:
    m = run(sample(0, 5_000, 50, 1, 12.0))
    assert (m.rtt_ms, m.loss, m.bitrate_kbps) == (12.0, None, None)


def test_only_first_and_last_matter_without_resets() -> None:
    m = run(sample(0, 0, 0), sample(500, 999, 9, 9), sample(2000, 50_000, 90, 10))
    assert m.loss == pytest.approx(10 / 100)
    assert m.bitrate_kbps == pytest.approx(200.0)


@pytest.mark.parametrize("t_last", [0.0, -500.0])
def test_zero_or_negative_duration_has_no_bitrate(t_last: float) -> None:
    m = run(sample(0, 0, 0), sample(t_last, 10_000, 100, 1))
    assert m.bitrate_kbps is None
    assert m.loss == pytest.approx(1 / 101)


def test_a_vanishing_duration_has_no_bitrate() -> None:
    assert run(sample(0, 0, 0), sample(5e-324, 2**53, 1)).bitrate_kbps is None


def test_equal_timestamps_in_between_are_fine() -> None:
    m = run(sample(0, 0, 0), sample(0, 1_000, 10), sample(1000, 2_000, 20))
    assert m.bitrate_kbps == pytest.approx(16.0)


def test_no_packets_in_the_window_has_no_loss() -> None:
    m = run(sample(0, 5_000, 50, 3), sample(1000, 5_000, 50, 3))
    assert m.loss is None
    assert m.bitrate_kbps == 0.0


def test_only_lost_packets_is_total_loss() -> None:
    m = run(sample(0, 5_000, 50, 0), sample(1000, 5_000, 50, 40))
    assert m.loss == 1.0


def test_counter_reset_counts_the_new_values_from_zero() -> None:
    # The browser's counters restart (new connection): 50,000 bytes before, 20,000 after.
    m = run(
        sample(0, 0, 0, 0),
        sample(1000, 50_000, 100, 0),
        sample(2000, 20_000, 40, 10),
        sample(4000, 80_000, 150, 10),
    )
    assert m.bitrate_kbps == pytest.approx((50_000 + 20_000 + 60_000) * 8 / 4000)
    assert m.loss == pytest.approx(10 / (10 + 100 + 40 + 110))


def test_reset_seen_on_packets_alone() -> None:
    m = run(sample(0, 1_000, 100, 0), sample(1000, 2_000, 10, 0))
    assert m.bitrate_kbps == pytest.approx(2_000 * 8 / 1000)
    assert m.loss == 0.0


def test_negative_lost_delta_from_rtcp_corrections() -> None:
    # packetsLost may go down (late or duplicated packets): the window's net loss counts.
    m = run(sample(0, 0, 0, 10), sample(1000, 10_000, 100, 14), sample(2000, 20_000, 200, 12))
    assert m.loss == pytest.approx(2 / 202)


def test_net_negative_loss_is_zero() -> None:
    m = run(sample(0, 0, 0, 10), sample(1000, 10_000, 100, 4))
    assert m.loss == 0.0


def test_negative_values_after_a_reset_count_as_zero() -> None:
    m = run(sample(0, 10_000, 100, 0), sample(1000, -1, -1, -3))
    assert (m.loss, m.bitrate_kbps) == (None, 0.0)


def test_connect_ms_is_passed_through() -> None:
    assert run(connect_ms=0.0).connect_ms == 0.0
    assert run(connect_ms=12_345.5).connect_ms == 12_345.5
