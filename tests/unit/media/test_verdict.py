"""The pre-call verdict at every threshold of PROTOCOL.md ("Pre-call check"; R8, R15)."""

from __future__ import annotations

import pytest

from media.measure import Measurements
from media.verdict import Device, Permission, Reason, Verdict, verdict

GOOD = Device(camera=True, microphone=True, permission=Permission.GRANTED, in_use=False)
NO_CAMERA = Device(camera=False, microphone=True, permission=Permission.GRANTED, in_use=False)


def net(
    loss: float | None = 0.0, rtt_ms: float | None = 50.0, bitrate_kbps: float | None = 800.0
) -> Measurements:
    return Measurements(connect_ms=300.0, rtt_ms=rtt_ms, loss=loss, bitrate_kbps=bitrate_kbps)


# -- device check --------------------------------------------------------------------------------
def test_a_good_device_on_a_good_network_is_video() -> None:
    assert verdict(GOOD, net()) == (Verdict.VIDEO, [])


@pytest.mark.parametrize(
    ("device", "reasons"),
    [
        (
            Device(camera=True, microphone=False, permission=Permission.GRANTED, in_use=False),
            [Reason.NO_MICROPHONE],
        ),
        (
            Device(camera=True, microphone=True, permission=Permission.DENIED, in_use=False),
            [Reason.PERMISSION_DENIED],
        ),
        (
            Device(camera=False, microphone=False, permission=Permission.DENIED, in_use=True),
            [Reason.NO_MICROPHONE, Reason.PERMISSION_DENIED],
        ),
    ],
)
def test_no_microphone_or_denied_is_phone_whatever_the_network(
    device: Device, reasons: list[Reason]
) -> None:
    # R15: no consultation by browser without a microphone.
    for measurements in (net(), net(loss=0.5), None):
        assert verdict(device, measurements) == (Verdict.PHONE, reasons)


@pytest.mark.parametrize(
    ("device", "reasons"),
    [
        (NO_CAMERA, [Reason.NO_CAMERA]),
        (
            Device(camera=True, microphone=True, permission=Permission.GRANTED, in_use=True),
            [Reason.CAMERA_IN_USE],
        ),
        (
            Device(camera=False, microphone=True, permission=Permission.PROMPT, in_use=True),
            [Reason.NO_CAMERA, Reason.CAMERA_IN_USE],
        ),
    ],
)
def test_no_camera_or_camera_in_use_is_audio(device: Device, reasons: list[Reason]) -> None:
    assert verdict(device, net()) == (Verdict.AUDIO, reasons)


def test_permission_prompt_does_not_limit() -> None:
    device = Device(camera=True, microphone=True, permission=Permission.PROMPT, in_use=False)
    assert verdict(device, net()) == (Verdict.VIDEO, [])


# -- no network test: the device decides, never blocks video -------------------------------------
def test_no_network_test_leaves_the_device_check_alone() -> None:
    assert verdict(GOOD, None) == (Verdict.VIDEO, [Reason.NO_NETWORK_TEST])
    assert verdict(NO_CAMERA, None) == (Verdict.AUDIO, [Reason.NO_CAMERA, Reason.NO_NETWORK_TEST])


def test_too_few_samples_count_as_no_network_test() -> None:
    no_window = Measurements(connect_ms=300.0, rtt_ms=40.0, loss=None, bitrate_kbps=None)
    assert verdict(GOOD, no_window) == (Verdict.VIDEO, [Reason.NO_NETWORK_TEST])
    # Even a bad RTT from a lone sample does not decide.
    lone = Measurements(connect_ms=300.0, rtt_ms=2000.0, loss=None, bitrate_kbps=None)
    assert verdict(GOOD, lone) == (Verdict.VIDEO, [Reason.NO_NETWORK_TEST])


# -- video thresholds: loss < 5 %, RTT < 400 ms, bitrate >= 150 kbit/s ----------------------------
@pytest.mark.parametrize(
    ("measurements", "expected"),
    [
        (net(loss=0.0499), (Verdict.VIDEO, [])),
        (net(loss=0.05), (Verdict.AUDIO, [Reason.HIGH_LOSS])),
        (net(rtt_ms=399.9), (Verdict.VIDEO, [])),
        (net(rtt_ms=400.0), (Verdict.AUDIO, [Reason.HIGH_RTT])),
        (net(bitrate_kbps=150.0), (Verdict.VIDEO, [])),
        (net(bitrate_kbps=149.9), (Verdict.AUDIO, [Reason.LOW_BITRATE])),
        (
            net(loss=0.1, rtt_ms=999.0, bitrate_kbps=24.0),
            (Verdict.AUDIO, [Reason.HIGH_LOSS, Reason.HIGH_RTT, Reason.LOW_BITRATE]),
        ),
    ],
)
def test_video_edges(measurements: Measurements, expected: tuple[Verdict, list[Reason]]) -> None:
    assert verdict(GOOD, measurements) == expected


# -- audio thresholds: loss < 15 %, RTT < 1000 ms, bitrate >= 24 kbit/s ---------------------------
@pytest.mark.parametrize(
    ("measurements", "expected"),
    [
        (net(loss=0.1499), (Verdict.AUDIO, [Reason.HIGH_LOSS])),
        (net(loss=0.15), (Verdict.PHONE, [Reason.HIGH_LOSS])),
        (net(rtt_ms=999.9), (Verdict.AUDIO, [Reason.HIGH_RTT])),
        (net(rtt_ms=1000.0), (Verdict.PHONE, [Reason.HIGH_RTT])),
        (net(bitrate_kbps=24.0), (Verdict.AUDIO, [Reason.LOW_BITRATE])),
        (net(bitrate_kbps=23.9), (Verdict.PHONE, [Reason.LOW_BITRATE])),
        (net(bitrate_kbps=0.0), (Verdict.PHONE, [Reason.LOW_BITRATE])),
        (
            net(loss=1.0, rtt_ms=5000.0, bitrate_kbps=1.0),
            (Verdict.PHONE, [Reason.HIGH_LOSS, Reason.HIGH_RTT, Reason.LOW_BITRATE]),
        ),
    ],
)
def test_audio_edges(measurements: Measurements, expected: tuple[Verdict, list[Reason]]) -> None:
    assert verdict(GOOD, measurements) == expected


def test_phone_lists_only_the_audio_failures() -> None:
    # Loss too high for audio, RTT good enough for audio but not for video.
    assert verdict(GOOD, net(loss=0.2, rtt_ms=500.0)) == (Verdict.PHONE, [Reason.HIGH_LOSS])


@pytest.mark.parametrize(
    ("measurements", "expected"),
    [
        # An audio-only device is judged on the audio limits: its echo carries no video, so a low
        # bitrate for video is no reason.
        (net(bitrate_kbps=40.0), (Verdict.AUDIO, [Reason.NO_CAMERA])),
        (net(loss=0.1, rtt_ms=900.0), (Verdict.AUDIO, [Reason.NO_CAMERA])),
        (net(loss=0.15), (Verdict.PHONE, [Reason.NO_CAMERA, Reason.HIGH_LOSS])),
        (net(rtt_ms=1000.0), (Verdict.PHONE, [Reason.NO_CAMERA, Reason.HIGH_RTT])),
        (net(bitrate_kbps=23.0), (Verdict.PHONE, [Reason.NO_CAMERA, Reason.LOW_BITRATE])),
    ],
)
def test_audio_only_device(
    measurements: Measurements, expected: tuple[Verdict, list[Reason]]
) -> None:
    assert verdict(NO_CAMERA, measurements) == expected


# -- missing measurements -------------------------------------------------------------------------
def test_unknown_rtt_is_not_judged() -> None:
    assert verdict(GOOD, net(rtt_ms=None)) == (Verdict.VIDEO, [])
    assert verdict(GOOD, net(rtt_ms=None, loss=0.07)) == (Verdict.AUDIO, [Reason.HIGH_LOSS])


def test_unknown_loss_with_nothing_received_is_judged_on_bitrate() -> None:
    assert verdict(GOOD, net(loss=None, bitrate_kbps=0.0)) == (
        Verdict.PHONE,
        [Reason.LOW_BITRATE],
    )
    assert verdict(GOOD, net(loss=None)) == (Verdict.VIDEO, [])


def test_reasons_are_plain_strings() -> None:
    _, reasons = verdict(NO_CAMERA, None)
    assert [str(r) for r in reasons] == ["no_camera", "no_network_test"]
    assert [v.value for v in Verdict] == ["video", "audio", "phone"]
