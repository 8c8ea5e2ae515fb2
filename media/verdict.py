"""The pre-call verdict: video, audio or phone, from the device check and the echo test.

Pure: PROTOCOL.md, "Pre-call check", thresholds quoted in ``verdict``. The verdict is advice: the
patient may always choose phone instead (R8).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from media.measure import Measurements


class Verdict(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"
    PHONE = "phone"


class Permission(StrEnum):
    """The browser's camera/microphone permission state."""

    GRANTED = "granted"
    DENIED = "denied"
    PROMPT = "prompt"


class Reason(StrEnum):
    """Why the verdict is below video; stable codes the web client may translate."""

    NO_MICROPHONE = "no_microphone"
    PERMISSION_DENIED = "permission_denied"
    NO_CAMERA = "no_camera"
    CAMERA_IN_USE = "camera_in_use"
    NO_NETWORK_TEST = "no_network_test"
    HIGH_LOSS = "high_loss"
    HIGH_RTT = "high_rtt"
    LOW_BITRATE = "low_bitrate"


@dataclass(frozen=True, slots=True)
class Device:
    """What the browser found before the echo test."""

    camera: bool
    microphone: bool
    permission: Permission
    in_use: bool
    """The camera is held by another application (NotReadableError)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Network limits for one level: strictly below ``loss`` and ``rtt_ms``, at least
    ``bitrate_kbps``."""

    loss: float
    rtt_ms: float
    bitrate_kbps: float


VIDEO_LIMITS: Final = Limits(loss=0.05, rtt_ms=400.0, bitrate_kbps=150.0)
AUDIO_LIMITS: Final = Limits(loss=0.15, rtt_ms=1000.0, bitrate_kbps=24.0)


def verdict(device: Device, measurements: Measurements | None) -> tuple[Verdict, list[Reason]]:
    """The verdict of PROTOCOL.md's pre-call check and the reasons it is below video.

    - no microphone, or permission denied: ``phone`` (R15: no consultation by browser without a
      microphone); the network is then not judged;
    - no camera, or camera in use: at most ``audio``;
    - ``measurements`` None (no ICE path to the echo peer), or no bitrate (fewer than two
      samples, or no time between them): ``no_network_test``, the device check alone decides
      (it never blocks a video request);
    - ``video`` when loss < 5 %, RTT < 400 ms and bitrate >= 150 kbit/s; ``audio`` when loss
      < 15 %, RTT < 1000 ms and bitrate >= 24 kbit/s; else ``phone``. A device limited to audio
      is judged on the audio limits only. A measurement that is None (no RTT reported, no packet
      at all) is not judged.

    The patient may always choose phone instead (R8).
    """
    ceiling, reasons = _device(device)
    if ceiling is Verdict.PHONE:
        return ceiling, reasons
    if measurements is None or measurements.bitrate_kbps is None:
        return ceiling, [*reasons, Reason.NO_NETWORK_TEST]
    if ceiling is Verdict.VIDEO:
        failed = _failed(measurements, VIDEO_LIMITS)
        if not failed:
            return Verdict.VIDEO, reasons
        if not _failed(measurements, AUDIO_LIMITS):
            return Verdict.AUDIO, [*reasons, *failed]
    failed = _failed(measurements, AUDIO_LIMITS)
    if not failed:
        return Verdict.AUDIO, reasons
    return Verdict.PHONE, [*reasons, *failed]


def _device(device: Device) -> tuple[Verdict, list[Reason]]:
    reasons: list[Reason] = []
    if not device.microphone:
        reasons.append(Reason.NO_MICROPHONE)
    if device.permission is Permission.DENIED:
        reasons.append(Reason.PERMISSION_DENIED)
    if reasons:
        return Verdict.PHONE, reasons
    if not device.camera:
        reasons.append(Reason.NO_CAMERA)
    if device.in_use:
        reasons.append(Reason.CAMERA_IN_USE)
    return (Verdict.AUDIO if reasons else Verdict.VIDEO), reasons


def _failed(m: Measurements, limits: Limits) -> list[Reason]:
    failed: list[Reason] = []
    if m.loss is not None and not m.loss < limits.loss:
        failed.append(Reason.HIGH_LOSS)
    if m.rtt_ms is not None and not m.rtt_ms < limits.rtt_ms:
        failed.append(Reason.HIGH_RTT)
    if m.bitrate_kbps is not None and not m.bitrate_kbps >= limits.bitrate_kbps:
        failed.append(Reason.LOW_BITRATE)
    return failed
