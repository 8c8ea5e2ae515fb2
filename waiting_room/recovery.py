"""Rebuilding the live state from SQL: at start-up when no other node is alive (every node was
killed), and whenever Redis comes back empty. SQL is the source of truth; Redis is a cache of the
live state that can always be rebuilt (DESIGN.md, "Who owns which data")."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from waiting_room.clock import Clock
from waiting_room.dispatch import DispatchSettings
from waiting_room.errors import Conflict
from waiting_room.lifecycle import plan_transition
from waiting_room.model import (
    CallRoom,
    Channel,
    ConsultationRequest,
    GpStatus,
    RequestState,
    UserId,
)
from waiting_room.service import queue_entry
from waiting_room.store import DutyStore, GpLive, LiveStore, QueuedEntry, RequestStore

logger = logging.getLogger(__name__)

RECOVERY_LOCK_MS = 30_000


@dataclass(frozen=True, slots=True)
class Rebuilt:
    epoch: str
    queued: int
    offers_returned: int
    rooms: int
    gps: int


async def rebuild(
    requests: RequestStore,
    live: LiveStore,
    duty: DutyStore,
    clock: Clock,
    settings: DispatchSettings,
) -> Rebuilt:
    """Replace the live state with what SQL says, in the original order with the original
    arrival times. Offers in flight return to waiting. Nobody is assumed connected: queued
    patients, call members and available GPs each get their grace period to come back."""
    now = clock.now()
    ts = now.timestamp()
    entries: list[QueuedEntry] = []
    phone_ids: set[str] = set()
    returned = 0
    retries: list[tuple[str, float]] = []
    for request in await requests.queued():
        if (
            request.state is RequestState.WAITING
            and request.not_before
            and request.not_before > now
        ):
            retries.append((request.id, request.not_before.timestamp()))  # a phone retry
            continue
        if request.state is RequestState.OFFERED:
            try:
                request = await requests.apply(
                    plan_transition(
                        request, RequestState.WAITING, now, "system:recovery", gp_id=None
                    )
                )
            except Conflict:
                continue
            returned += 1
        entries.append(queue_entry(request))
        if request.channel is Channel.PHONE:
            phone_ids.add(request.id)
    entries.sort(key=lambda e: (e.score, e.member))

    gps: dict[UserId, GpLive] = {}
    for gp_id, (status, since) in (await duty.intents()).items():
        if status == GpStatus.AVAILABLE:
            gps[gp_id] = GpLive(GpStatus.AVAILABLE, since=since.timestamp())
        elif status == GpStatus.PAUSED:
            gps[gp_id] = GpLive(GpStatus.PAUSED, since=since.timestamp())
    rooms: list[CallRoom] = []
    for request in await requests.in_rooms():
        if request.room_id is None and request.gp_id is not None:
            # A phone task: the GP holds it, no call room.
            gps[request.gp_id] = GpLive(GpStatus.IN_CALL, request.id, None, since=ts)
            continue
        if request.room_id is None or request.gp_id is None:
            continue
        rooms.append(CallRoom(request.room_id, request.id, request.patient_id, request.gp_id))
        gps[request.gp_id] = GpLive(GpStatus.IN_CALL, request.id, request.room_id, since=ts)
    in_call = {room.gp_id for room in rooms}
    latest: dict[UserId, ConsultationRequest] = {}
    stale: list[ConsultationRequest] = []
    for request in await requests.in_wrap_up():  # oldest first
        if request.gp_id is None or request.gp_id in in_call:
            stale.append(request)
            continue
        if request.gp_id in latest:
            stale.append(latest[request.gp_id])
        latest[request.gp_id] = request
    for request in stale:
        # The GP moved on before this wrap-up's end was recorded (a crash in between).
        with contextlib.suppress(Conflict):
            await requests.apply(
                plan_transition(request, RequestState.DONE, now, "system:recovery")
            )
    wrap_ups = []
    for gp_id, request in latest.items():
        until = ts + settings.wrap_up
        gps[gp_id] = GpLive(GpStatus.WRAP_UP, request.id, None, ts, until)
        wrap_ups.append((gp_id, request.id, until))

    epoch = await live.reset(entries, rooms, gps)
    for entry in entries:
        request_id = entry.member.partition(":")[2]
        if request_id not in phone_ids:  # a phone callback needs no open page
            await live.schedule(f"grace:{request_id}", ts + settings.patient_grace)
    for room in rooms:
        await live.schedule(f"call:{room.id}:{room.patient_id}", ts + settings.call_grace)
        await live.schedule(f"call:{room.id}:{room.gp_id}", ts + settings.call_grace)
    for request_id, at in retries:
        await live.schedule(f"phoneretry:{request_id}", at)
    for gp_id, request_id, until in wrap_ups:
        await live.schedule(f"wrapup:{gp_id}:{request_id}", until)
    for gp_id, gp in gps.items():
        if gp.status == GpStatus.AVAILABLE:
            await live.schedule(f"gpgone:{gp_id}", ts + settings.call_grace)
    result = Rebuilt(epoch, len(entries), returned, len(rooms), len(gps))
    logger.info(
        "live state rebuilt from SQL: %d queued (%d offers returned), %d calls, %d GPs",
        result.queued,
        result.offers_returned,
        result.rooms,
        result.gps,
    )
    return result
