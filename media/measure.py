"""Network measurements of the pre-call echo test, from the browser's getStats() samples.

Pure: no I/O, no clock. PROTOCOL.md, "Pre-call check": ``rtt_ms`` is the median of the samples'
RTT, ``loss`` the packets lost / (lost + received) between the first and last sample, and
``bitrate_kbps`` the bytes received between the first and last sample x 8 / duration.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StatsSample:
    """One reading of the echo connection's getStats(), inbound audio and video summed."""

    t_ms: float
    """When it was read, in milliseconds on the browser's clock (only differences matter)."""
    rtt_ms: float | None
    """Current round-trip time of the nominated candidate pair; None when the browser has none."""
    bytes_received: int
    packets_received: int
    packets_lost: int
    """Cumulative, and may go down: RTCP corrects it for late or duplicated packets."""


@dataclass(frozen=True, slots=True)
class NetworkReport:
    """What the browser measured on the echo connection."""

    connect_ms: float
    """Time from the offer to ``connectionState == "connected"``."""
    samples: tuple[StatsSample, ...]
    """In the order they were read."""


@dataclass(frozen=True, slots=True)
class Measurements:
    """None where the samples do not allow a value (see ``measure``)."""

    connect_ms: float | None
    rtt_ms: float | None
    loss: float | None
    """A fraction between 0 and 1."""
    bitrate_kbps: float | None


NO_MEASUREMENTS = Measurements(connect_ms=None, rtt_ms=None, loss=None, bitrate_kbps=None)


def measure(report: NetworkReport) -> Measurements:
    """The measurements of PROTOCOL.md's pre-call check from ``report`` (for R8/R15's verdict).

    - ``rtt_ms``: median of the finite, non-negative RTTs; None when there is none.
    - ``loss`` and ``bitrate_kbps`` need two samples: None with fewer. Counters are summed over
      consecutive samples; when ``bytes_received`` or ``packets_received`` goes down the
      browser's counters restarted (new connection), so that interval counts the new values
      from zero. A net negative loss (RTCP corrections) counts as zero.
    - ``loss`` is None when no packet was received nor lost in the window.
    - ``bitrate_kbps`` is None when the window lasts zero or negative time (or so little that
      the rate is not a finite number).
    """
    samples = report.samples
    return Measurements(
        connect_ms=report.connect_ms,
        rtt_ms=median_rtt(samples),
        loss=loss(samples),
        bitrate_kbps=bitrate_kbps(samples),
    )


def median_rtt(samples: Sequence[StatsSample]) -> float | None:
    rtts = [
        s.rtt_ms
        for s in samples
        if s.rtt_ms is not None and math.isfinite(s.rtt_ms) and s.rtt_ms >= 0
    ]
    return float(statistics.median(rtts)) if rtts else None


def loss(samples: Sequence[StatsSample]) -> float | None:
    if len(samples) < 2:
        return None
    _, received, lost = _increase(samples)
    if received + lost <= 0:
        return None
    return lost / (lost + received)


def bitrate_kbps(samples: Sequence[StatsSample]) -> float | None:
    if len(samples) < 2:
        return None
    duration_ms = samples[-1].t_ms - samples[0].t_ms
    if not math.isfinite(duration_ms) or duration_ms <= 0:
        return None
    received_bytes, _, _ = _increase(samples)
    # bytes x 8 / 1000 per kbit, over duration_ms / 1000 seconds
    kbps = received_bytes * 8 / duration_ms
    return kbps if math.isfinite(kbps) else None


def _increase(samples: Sequence[StatsSample]) -> tuple[int, int, int]:
    """(bytes received, packets received, packets lost) between the first and last sample."""
    received_bytes = received = lost = 0
    for prev, cur in zip(samples, samples[1:], strict=False):
        restarted = (
            cur.bytes_received < prev.bytes_received or cur.packets_received < prev.packets_received
        )
        if restarted:
            received_bytes += max(cur.bytes_received, 0)
            received += max(cur.packets_received, 0)
            lost += max(cur.packets_lost, 0)
        else:
            received_bytes += cur.bytes_received - prev.bytes_received
            received += cur.packets_received - prev.packets_received
            lost += cur.packets_lost - prev.packets_lost
    return received_bytes, received, max(lost, 0)
