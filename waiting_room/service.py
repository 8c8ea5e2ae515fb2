"""The waiting room's runner: applies the pure lifecycle and policy to SQL and Redis, and tells a
Notifier what changed. It knows no transport; signaling/ turns notifications into events."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from waiting_room import dispatch
from waiting_room.clock import Clock
from waiting_room.errors import (
    Conflict,
    ConsentMissing,
    IllegalTransition,
    InCall,
    NotFound,
    NotInRoom,
    OfferNotFound,
    QuotaExceeded,
)
from waiting_room.lifecycle import QUEUED, TERMINAL, plan_transition
from waiting_room.model import (
    CallRoom,
    Channel,
    ConsultationRequest,
    EndReason,
    GpStatus,
    QueueStats,
    RequestId,
    RequestKind,
    RequestState,
    RoomId,
    UserId,
)
from waiting_room.store import ConsentChecker, GpLive, LiveStore, Picked, RequestStore

logger = logging.getLogger(__name__)

PARIS = ZoneInfo("Europe/Paris")
YEARLY_QUOTA = 5
"""R12: five teleconsultations per beneficiary per calendar year."""


@dataclass(frozen=True, slots=True)
class PatientView:
    request: ConsultationRequest
    position: int | None
    """1-based place while queued, else None."""
    queue_size: int


@dataclass(frozen=True, slots=True)
class GpView:
    gp_id: UserId
    status: GpStatus
    offer: ConsultationRequest | None
    room_id: RoomId | None


class Notifier(Protocol):
    async def patient_changed(self, view: PatientView) -> None: ...
    async def gp_changed(self, view: GpView) -> None: ...
    async def queue_changed(self, stats: QueueStats) -> None: ...
    async def call_started(self, room: CallRoom, resume: bool) -> None: ...
    async def call_ended(self, room: CallRoom, reason: EndReason) -> None: ...


def _new_room_id() -> RoomId:
    return RoomId(secrets.token_hex(16))


class WaitingRoom:
    def __init__(
        self,
        requests: RequestStore,
        live: LiveStore,
        consents: ConsentChecker,
        notifier: Notifier,
        clock: Clock,
    ) -> None:
        self._requests = requests
        self._live = live
        self._consents = consents
        self._notify = notifier
        self._clock = clock

    # -- start-up ----------------------------------------------------------------------------
    async def rebuild(self) -> int:
        """Rebuild the live queue from SQL in the original order (start-up, or Redis came back
        empty). Offers in flight return to waiting. Returns the number of queued requests."""
        entries: list[tuple[str, float, UserId, float]] = []
        for request in await self._requests.queued():
            if request.state is RequestState.OFFERED:
                try:
                    request = await self._requests.apply(
                        plan_transition(
                            request, RequestState.WAITING, self._clock.now(), "system", gp_id=None
                        )
                    )
                except Conflict:
                    continue
            entries.append(self._queue_entry(request))
        await self._live.reset_queue(entries)
        logger.info("live queue rebuilt from SQL with %d requests", len(entries))
        return len(entries)

    # -- patient -----------------------------------------------------------------------------
    async def request_video(self, patient_id: UserId) -> PatientView:
        """An immediate video request (R6): screened, then queued with deadline arrival + 30 min."""
        if not await self._consents.has_required_consents(patient_id):
            raise ConsentMissing("both consents are needed before any consultation (R17)")
        now = self._clock.now()
        year = now.astimezone(PARIS).year
        if await self._requests.started_count(patient_id, year) >= YEARLY_QUOTA:
            raise QuotaExceeded(f"the {YEARLY_QUOTA} consultations of {year} are used (R12)")
        deadline = dispatch.deadline_for(RequestKind.IMMEDIATE, now)
        actor = f"patient:{patient_id}"
        request = await self._requests.create(
            patient_id, RequestKind.IMMEDIATE, Channel.VIDEO, now, deadline
        )
        request = await self._requests.apply(
            plan_transition(request, RequestState.SCREENED, now, actor)
        )
        request = await self._requests.apply(
            plan_transition(request, RequestState.WAITING, now, actor)
        )
        await self._live.enqueue(*self._queue_entry(request))
        logger.info("request %s queued", request.id)
        if not await self.dispatch():
            await self._after_queue_change()
        fresh = await self._requests.get(request.id)
        return await self.patient_view(fresh or request)

    async def cancel(self, patient_id: UserId, request_id: RequestId) -> None:
        request = await self._own_request(patient_id, request_id)
        offered_to = request.gp_id if request.state is RequestState.OFFERED else None
        request = await self._requests.apply(
            plan_transition(
                request,
                RequestState.CANCELLED,
                self._clock.now(),
                f"patient:{patient_id}",
                ended_reason=EndReason.CANCELLED,
            )
        )
        await self._live.dequeue(dispatch.queue_member(request.seq, request.id))
        if offered_to is not None:
            await self._gp_unavailable(offered_to)
        await self._notify.patient_changed(
            PatientView(request, None, await self._live.queue_size())
        )
        await self._after_queue_change()

    async def patient_view(self, request: ConsultationRequest) -> PatientView:
        size = await self._live.queue_size()
        position = None
        if request.state in QUEUED:
            rank = await self._live.rank(dispatch.queue_member(request.seq, request.id))
            # An offered request is out of the live queue but keeps its place: it is served next.
            position = 1 if rank is None else rank + 1
        return PatientView(request, position, size)

    async def current_for_patient(self, patient_id: UserId) -> PatientView | None:
        request = await self._requests.active_for_patient(patient_id)
        return None if request is None else await self.patient_view(request)

    # -- physician ---------------------------------------------------------------------------
    async def gp_available(self, gp_id: UserId) -> None:
        live = await self._live.get_gp(gp_id)
        if live.status in (GpStatus.IN_CALL, GpStatus.OFFERED):
            if live.status == GpStatus.IN_CALL:
                raise InCall("finish the current call before changing availability")
            return
        await self._live.set_gp(gp_id, GpLive(GpStatus.AVAILABLE, None, None))
        await self._live.set_idle(gp_id, self._clock.now().timestamp())
        await self._notify.gp_changed(GpView(gp_id, GpStatus.AVAILABLE, None, None))
        await self.dispatch()

    async def gp_unavailable(self, gp_id: UserId) -> None:
        live = await self._live.get_gp(gp_id)
        if live.status == GpStatus.IN_CALL:
            raise InCall("finish the current call before changing availability")
        if live.status == GpStatus.OFFERED and live.request_id is not None:
            await self._return_offer(gp_id, live.request_id)
        await self._gp_unavailable(gp_id)

    async def gp_disconnected(self, gp_id: UserId) -> None:
        """The GP's last connection dropped: an offer they hold goes back to the queue at once;
        an available GP stops receiving offers. A call keeps its room (the page may come back)."""
        live = await self._live.get_gp(gp_id)
        if live.status == GpStatus.IN_CALL:
            return
        if live.status == GpStatus.OFFERED and live.request_id is not None:
            await self._return_offer(gp_id, live.request_id)
        await self._gp_unavailable(gp_id, notify=False)

    async def accept(self, gp_id: UserId, request_id: RequestId) -> CallRoom:
        live = await self._live.get_gp(gp_id)
        if live.status != GpStatus.OFFERED or live.request_id != request_id:
            raise OfferNotFound("this offer is no longer yours")
        request = await self._requests.get(request_id)
        if request is None or request.state is not RequestState.OFFERED or request.gp_id != gp_id:
            raise OfferNotFound("this offer is no longer yours")
        room_id = _new_room_id()
        request = await self._requests.apply(
            plan_transition(
                request,
                RequestState.ACCEPTED,
                self._clock.now(),
                f"physician:{gp_id}",
                room_id=room_id,
            )
        )
        room = CallRoom(room_id, request.id, request.patient_id, gp_id)
        await self._live.save_room(room)
        await self._live.set_gp(gp_id, GpLive(GpStatus.IN_CALL, request.id, room_id))
        logger.info("request %s accepted, room %s", request.id, room_id)
        await self._notify.gp_changed(GpView(gp_id, GpStatus.IN_CALL, None, room_id))
        await self._notify.patient_changed(await self.patient_view(request))
        await self._notify.call_started(room, resume=False)
        await self._after_queue_change()
        return room

    async def decline(self, gp_id: UserId, request_id: RequestId) -> None:
        live = await self._live.get_gp(gp_id)
        if live.status != GpStatus.OFFERED or live.request_id != request_id:
            raise OfferNotFound("this offer is no longer yours")
        await self._return_offer(gp_id, request_id)
        # The decliner pauses, so the same offer does not bounce straight back to them.
        await self._gp_unavailable(gp_id)
        await self.dispatch()

    async def gp_view(self, gp_id: UserId) -> GpView:
        live = await self._live.get_gp(gp_id)
        status = GpStatus(live.status)
        offer = None
        if status == GpStatus.OFFERED and live.request_id is not None:
            offer = await self._requests.get(live.request_id)
        return GpView(gp_id, status, offer, live.room_id)

    # -- call ----------------------------------------------------------------------------------
    async def room_for(self, user_id: UserId, room_id: RoomId) -> CallRoom:
        room = await self._live.get_room(room_id)
        if room is None or room.peer_of(user_id) is None:
            raise NotInRoom("you are not a member of this call")
        return room

    async def active_room_of(
        self, user_id: UserId, request: ConsultationRequest | None
    ) -> CallRoom | None:
        if request is None or request.room_id is None:
            return None
        room = await self._live.get_room(request.room_id)
        return room if room is not None and room.peer_of(user_id) is not None else None

    async def call_connected(self, user_id: UserId, room_id: RoomId) -> None:
        room = await self.room_for(user_id, room_id)
        request = await self._requests.get(room.request_id)
        if request is None or request.state is not RequestState.ACCEPTED:
            return  # the first report wins; later ones change nothing
        try:
            request = await self._requests.apply(
                plan_transition(request, RequestState.IN_CALL, self._clock.now(), f"user:{user_id}")
            )
        except Conflict:
            return
        await self._notify.patient_changed(await self.patient_view(request))

    async def hangup(self, user_id: UserId, room_id: RoomId) -> None:
        """Either member hangs up: wrap-up then done, and both sides are told."""
        room = await self.room_for(user_id, room_id)
        reason = (
            EndReason.HANGUP_PATIENT if user_id == room.patient_id else EndReason.HANGUP_PHYSICIAN
        )
        request = await self._requests.get(room.request_id)
        if request is None:
            raise NotFound("unknown request")
        if request.state in TERMINAL:
            raise IllegalTransition("this consultation is already over")
        actor = f"user:{user_id}"
        now = self._clock.now()
        if request.state is not RequestState.WRAP_UP:
            request = await self._requests.apply(
                plan_transition(request, RequestState.WRAP_UP, now, actor, ended_reason=reason)
            )
        request = await self._requests.apply(
            plan_transition(request, RequestState.DONE, now, actor)
        )
        await self._live.delete_room(room.id)
        await self._live.set_gp(room.gp_id, GpLive(GpStatus.UNAVAILABLE, None, None))
        logger.info("request %s done (%s)", request.id, reason)
        await self._notify.call_ended(room, reason)
        await self._notify.patient_changed(
            PatientView(request, None, await self._live.queue_size())
        )
        await self._notify.gp_changed(GpView(room.gp_id, GpStatus.UNAVAILABLE, None, None))

    # -- dispatch ------------------------------------------------------------------------------
    async def dispatch(self) -> int:
        """Offer waiting requests to idle GPs until one side runs out. Returns offers made."""
        made = 0
        while (picked := await self._live.pick()) is not None:
            if await self._offer(picked):
                made += 1
        if made:
            await self._after_queue_change()
        return made

    async def queue_stats(self) -> QueueStats:
        entries = await self._live.queue_entries()
        now = self._clock.now().timestamp()
        oldest = max((now - e.arrival_ts for e in entries), default=0.0)
        return QueueStats(len(entries), max(oldest, 0.0))

    async def _offer(self, picked: Picked) -> bool:
        request_id = dispatch.request_of_member(picked.member)
        request = await self._requests.get(request_id)
        if request is None or request.state is not RequestState.WAITING:
            # A stale queue entry: drop it, give the GP back their place.
            await self._live.put_back(picked, False, None, None)
            return False
        try:
            request = await self._requests.apply(
                plan_transition(
                    request, RequestState.OFFERED, self._clock.now(), "system", gp_id=picked.gp_id
                )
            )
        except (Conflict, IllegalTransition):
            # SQL did not confirm the Redis claim: it did not happen (DESIGN.md).
            fresh = await self._requests.get(request_id)
            still = fresh is not None and fresh.state is RequestState.WAITING
            await self._live.put_back(
                picked, still, request.patient_id, request.arrival_at.timestamp()
            )
            return False
        await self._live.set_gp(picked.gp_id, GpLive(GpStatus.OFFERED, request.id, None))
        logger.info("request %s offered", request.id)
        await self._notify.gp_changed(GpView(picked.gp_id, GpStatus.OFFERED, request, None))
        await self._notify.patient_changed(PatientView(request, 1, await self._live.queue_size()))
        return True

    async def _return_offer(self, gp_id: UserId, request_id: RequestId) -> None:
        """An offer declined or lost goes back to waiting at its original place."""
        request = await self._requests.get(request_id)
        if request is None or request.state is not RequestState.OFFERED or request.gp_id != gp_id:
            return
        request = await self._requests.apply(
            plan_transition(
                request, RequestState.WAITING, self._clock.now(), f"physician:{gp_id}", gp_id=None
            )
        )
        await self._live.enqueue(*self._queue_entry(request))
        logger.info("request %s back to waiting", request.id)
        await self._after_queue_change()

    async def _gp_unavailable(self, gp_id: UserId, notify: bool = True) -> None:
        await self._live.clear_idle(gp_id)
        await self._live.set_gp(gp_id, GpLive(GpStatus.UNAVAILABLE, None, None))
        if notify:
            await self._notify.gp_changed(GpView(gp_id, GpStatus.UNAVAILABLE, None, None))

    async def _own_request(self, patient_id: UserId, request_id: RequestId) -> ConsultationRequest:
        request = await self._requests.get(request_id)
        if request is None or request.patient_id != patient_id:
            raise NotFound("no such request")
        return request

    def _queue_entry(self, request: ConsultationRequest) -> tuple[str, float, UserId, float]:
        return (
            dispatch.queue_member(request.seq, request.id),
            dispatch.queue_score(request.deadline),
            request.patient_id,
            request.arrival_at.timestamp(),
        )

    async def _after_queue_change(self) -> None:
        """Push each queued patient their place, and the physicians the queue's size.

        First version: one push per queued patient per change; issue 3 throttles it.
        """
        entries = await self._live.queue_entries()
        size = len(entries)
        for index, entry in enumerate(entries):
            request = await self._requests.get(dispatch.request_of_member(entry.member))
            if request is not None and request.state in QUEUED:
                await self._notify.patient_changed(PatientView(request, index + 1, size))
        await self._notify.queue_changed(await self.queue_stats())
