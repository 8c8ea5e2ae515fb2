"""Small real fakes for tests (STYLE.md 16): a notifier that records what it was told."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from waiting_room.model import CallRoom, EndReason, UserId
from waiting_room.service import GpView, PatientView


@dataclass
class RecordingNotifier:
    calls: list[tuple[str, Any]] = field(default_factory=list)

    async def patient_changed(self, view: PatientView) -> None:
        self.calls.append(("patient", view))

    async def gp_changed(self, view: GpView) -> None:
        self.calls.append(("gp", view))

    async def call_degraded(self, room: CallRoom, by: UserId, to: str) -> None:
        self.calls.append(("call_degraded", (room, by, to)))

    async def call_peer(self, room: CallRoom, user_id: UserId, present: bool) -> None:
        self.calls.append(("call_peer", (room, user_id, present)))

    async def call_started(self, room: CallRoom, resume: bool) -> None:
        self.calls.append(("call_started", room))

    async def call_ended(self, room: CallRoom, reason: EndReason) -> None:
        self.calls.append(("call_ended", (room, reason)))

    def of(self, kind: str) -> list[Any]:
        return [value for k, value in self.calls if k == kind]

    def last_patient(self, patient_id: UserId) -> PatientView:
        views = [v for v in self.of("patient") if v.request.patient_id == patient_id]
        assert views, f"no notification for patient {patient_id}"
        return views[-1]  # type: ignore[no-any-return]

    def last_gp(self, gp_id: UserId) -> GpView:
        views = [v for v in self.of("gp") if v.gp_id == gp_id]
        assert views, f"no notification for GP {gp_id}"
        return views[-1]  # type: ignore[no-any-return]
