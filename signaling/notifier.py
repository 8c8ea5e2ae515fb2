"""Turns the waiting room's notifications into socket.io events (the Notifier of the domain)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Protocol

from records.accounts import Accounts
from signaling import events as ev
from signaling.ice import IceConfig
from waiting_room.clock import Clock
from waiting_room.model import CallRoom, EndReason, GpStatus, QueueStats, UserId
from waiting_room.service import GpView, PatientView

PHYSICIANS_ROOM = "physicians"
SUPERVISORS_ROOM = "supervisors"


def user_room(user_id: UserId) -> str:
    return f"user:{user_id}"


class Emitter(Protocol):
    async def emit(
        self, event: str, data: Any = None, to: str | None = None, ignore_queue: bool = False
    ) -> None: ...


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def eta_payload(eta: tuple[float, float] | None) -> dict[str, int] | None:
    """The wait range in whole minutes (floor, ceiling): stable enough not to flicker."""
    if eta is None:
        return None
    low, high = eta
    return {
        "min_seconds": int(max(low, 0) // 60 * 60),
        "max_seconds": int(-(-max(high, 0) // 60) * 60),
    }


def request_payload(
    request_id: str,
    state: str,
    position: int | None,
    queue_size: int,
    arrival_ts: float,
    deadline_ts: float,
    eta: tuple[float, float] | None = None,
    room_id: str | None = None,
    ended_reason: str | None = None,
    channel: str = "video",
    phone_number: str | None = None,
    phone_attempts: int = 0,
) -> dict[str, Any]:
    return {
        "request": {
            "id": request_id,
            "state": state,
            "channel": channel,
            "phone_number": phone_number,
            "phone_attempts": phone_attempts,
            "position": position,
            "queue_size": queue_size,
            "eta": eta_payload(eta),
            "deadline": _iso(deadline_ts),
            "room_id": room_id,
            "created_at": _iso(arrival_ts),
            "ended_reason": ended_reason,
        }
    }


def patient_payload(view: PatientView | None) -> dict[str, Any]:
    if view is None:
        return {"request": None}
    r = view.request
    return request_payload(
        r.id,
        r.state.value,
        view.position,
        view.queue_size,
        r.arrival_at.timestamp(),
        r.deadline.timestamp(),
        room_id=r.room_id,
        ended_reason=r.ended_reason.value if r.ended_reason else None,
        channel=r.channel.value,
        phone_number=r.phone_number,
        phone_attempts=r.phone_attempts,
    )


def queue_payload(stats: QueueStats, at_risk: int = 0) -> dict[str, Any]:
    return {
        "size": stats.size,
        "oldest_wait_seconds": round(stats.oldest_wait_seconds, 1),
        "at_risk": at_risk,
    }


class SocketNotifier:
    def __init__(
        self,
        emitter: Emitter,
        accounts: Accounts,
        clock: Clock,
        ice: IceConfig,
        call_grace: float,
    ) -> None:
        self._call_grace = call_grace
        self._ice = ice
        self._emit = emitter
        self._accounts = accounts
        self._clock = clock

    async def gp_payload(self, view: GpView) -> dict[str, Any]:
        offer = None
        now = self._clock.now()
        until = view.until
        if view.offer is not None:
            patient = await self._accounts.get(view.offer.patient_id)
            offer = {
                "request_id": view.offer.id,
                "patient_first_name": patient.first_name if patient else "",
                "waited_seconds": round((now - view.offer.arrival_at).total_seconds(), 1),
                "expires_at": _iso(until) if until is not None else None,
                "expires_in_seconds": (
                    round(max(until - now.timestamp(), 0.0), 1) if until is not None else None
                ),
                "channel": view.offer.channel.value,
                "phone_number": view.offer.phone_number,
            }
        task = None
        if view.task is not None:
            task = {
                "request_id": view.task.id,
                "phone_number": view.task.phone_number,
                "attempts": view.task.phone_attempts,
                "max_attempts": 3,
                "reached": view.task.state.value == "in_call",
                "patient_first_name": (
                    p.first_name if (p := await self._accounts.get(view.task.patient_id)) else ""
                ),
            }
        return {
            "status": view.status.value,
            "offer": offer,
            "room_id": view.room_id,
            "wrap_up_until": (
                _iso(until) if view.status is GpStatus.WRAP_UP and until is not None else None
            ),
            "wrap_up_in_seconds": (
                round(max(until - now.timestamp(), 0.0), 1)
                if view.status is GpStatus.WRAP_UP and until is not None
                else None
            ),
            "missed_offers": view.missed,
            "phone_task": task,
        }

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
            "ice_servers": self._ice.servers_for(user_id, int(time.time())),
            "ice_transport_policy": self._ice.policy,
            "resume": resume,
        }

    async def patient_changed(self, view: PatientView) -> None:
        await self._emit.emit(
            ev.PATIENT_STATE, patient_payload(view), to=user_room(view.request.patient_id)
        )

    async def gp_changed(self, view: GpView) -> None:
        await self._emit.emit(ev.GP_STATE, await self.gp_payload(view), to=user_room(view.gp_id))

    async def call_peer(self, room: CallRoom, user_id: UserId, present: bool) -> None:
        peer = room.peer_of(user_id)
        if peer is None:
            return
        payload: dict[str, Any] = {"room_id": room.id, "state": "back" if present else "left"}
        if not present:
            payload["grace_seconds"] = self._call_grace
        await self._emit.emit(ev.CALL_PEER, payload, to=user_room(peer))

    async def call_started(self, room: CallRoom, resume: bool) -> None:
        for member in (room.gp_id, room.patient_id):
            payload = await self.call_start_payload(room, member, resume)
            await self._emit.emit(ev.CALL_START, payload, to=user_room(member))

    async def call_degraded(self, room: CallRoom, by: UserId, to: str) -> None:
        peer = room.peer_of(by)
        if peer is None:
            return
        role = "patient" if by == room.patient_id else "physician"
        payload = {"room_id": room.id, "to": to, "by": role}
        await self._emit.emit(ev.CALL_DEGRADED, payload, to=user_room(peer))

    async def call_ended(self, room: CallRoom, reason: EndReason) -> None:
        payload = {"room_id": room.id, "request_id": room.request_id, "reason": reason.value}
        for member in (room.gp_id, room.patient_id):
            await self._emit.emit(ev.CALL_ENDED, payload, to=user_room(member))
