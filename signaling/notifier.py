"""Turns the waiting room's notifications into socket.io events (the Notifier of the domain)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from records.accounts import Accounts
from signaling import events as ev
from waiting_room.clock import Clock
from waiting_room.model import CallRoom, EndReason, QueueStats, UserId
from waiting_room.service import GpView, PatientView

PHYSICIANS_ROOM = "physicians"


def user_room(user_id: UserId) -> str:
    return f"user:{user_id}"


class Emitter(Protocol):
    async def emit(self, event: str, data: Any = None, to: str | None = None) -> None: ...


def patient_payload(view: PatientView | None) -> dict[str, Any]:
    if view is None:
        return {"request": None}
    r = view.request
    return {
        "request": {
            "id": r.id,
            "state": r.state.value,
            "position": view.position,
            "queue_size": view.queue_size,
            "room_id": r.room_id,
            "created_at": r.arrival_at.isoformat(),
            "ended_reason": r.ended_reason.value if r.ended_reason else None,
        }
    }


def queue_payload(stats: QueueStats) -> dict[str, Any]:
    return {"size": stats.size, "oldest_wait_seconds": round(stats.oldest_wait_seconds, 1)}


class SocketNotifier:
    def __init__(
        self,
        emitter: Emitter,
        accounts: Accounts,
        clock: Clock,
        ice_servers: Sequence[Mapping[str, Any]],
    ) -> None:
        self._emit = emitter
        self._accounts = accounts
        self._clock = clock
        self._ice_servers = [dict(s) for s in ice_servers]

    async def gp_payload(self, view: GpView) -> dict[str, Any]:
        offer = None
        if view.offer is not None:
            patient = await self._accounts.get(view.offer.patient_id)
            offer = {
                "request_id": view.offer.id,
                "patient_first_name": patient.first_name if patient else "",
                "waited_seconds": round(
                    (self._clock.now() - view.offer.arrival_at).total_seconds(), 1
                ),
            }
        return {"status": view.status.value, "offer": offer, "room_id": view.room_id}

    async def call_start_payload(
        self, room: CallRoom, user_id: UserId, resume: bool
    ) -> dict[str, Any]:
        peer_id = room.peer_of(user_id)
        peer = await self._accounts.get(peer_id) if peer_id else None
        return {
            "room_id": room.id,
            "request_id": room.request_id,
            "role": "caller" if user_id == room.gp_id else "callee",
            "peer_name": peer.first_name if peer else "",
            "ice_servers": self._ice_servers,
            "resume": resume,
        }

    async def patient_changed(self, view: PatientView) -> None:
        await self._emit.emit(
            ev.PATIENT_STATE, patient_payload(view), to=user_room(view.request.patient_id)
        )

    async def gp_changed(self, view: GpView) -> None:
        await self._emit.emit(ev.GP_STATE, await self.gp_payload(view), to=user_room(view.gp_id))

    async def queue_changed(self, stats: QueueStats) -> None:
        await self._emit.emit(ev.QUEUE_STATS, queue_payload(stats), to=PHYSICIANS_ROOM)

    async def call_started(self, room: CallRoom, resume: bool) -> None:
        for member in (room.gp_id, room.patient_id):
            payload = await self.call_start_payload(room, member, resume)
            await self._emit.emit(ev.CALL_START, payload, to=user_room(member))

    async def call_ended(self, room: CallRoom, reason: EndReason) -> None:
        payload = {"room_id": room.id, "request_id": room.request_id, "reason": reason.value}
        for member in (room.gp_id, room.patient_id):
            await self._emit.emit(ev.CALL_ENDED, payload, to=user_room(member))
