"""The waiting room's runner: applies the pure lifecycle and policy to SQL and Redis, and tells a
Notifier what changed. It knows no transport; signaling/ turns notifications into events.

Deadlines are data: each pending deadline is a timer in the live store (``offer:``, ``grace:``,
``wrapup:``, ``call:``), claimed by exactly one node when due and handled by ``on_timer``.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from waiting_room import dispatch
from waiting_room.clock import Clock
from waiting_room.dispatch import DispatchSettings
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
from waiting_room.lifecycle import QUEUED, TERMINAL, plan_transition, plan_update
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
from waiting_room.store import (
    ConsentChecker,
    DutyStore,
    GpLive,
    LiveStore,
    Picked,
    QueuedEntry,
    RequestStore,
)

logger = logging.getLogger(__name__)

PARIS = ZoneInfo("Europe/Paris")
YEARLY_QUOTA = 5
"""R12: five teleconsultations per beneficiary per calendar year."""
S = RequestState


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
    until: float | None = None
    """Offer expiry or wrap-up end (business epoch seconds)."""
    missed: int = 0
    task: ConsultationRequest | None = None
    """The phone callback the GP is handling (in call, no room)."""


class Notifier(Protocol):
    async def patient_changed(self, view: PatientView) -> None: ...
    async def gp_changed(self, view: GpView) -> None: ...
    async def call_started(self, room: CallRoom, resume: bool) -> None: ...
    async def call_ended(self, room: CallRoom, reason: EndReason) -> None: ...
    async def call_peer(self, room: CallRoom, user_id: UserId, present: bool) -> None:
        """Tell the other member that ``user_id`` left (grace running) or came back."""
        ...

    async def call_degraded(self, room: CallRoom, by: UserId, to: str) -> None:
        """Tell the other member that the call drops to ``to`` (audio)."""
        ...


class Observer(Protocol):
    """Measurements (signaling/ exports them as Prometheus metrics)."""

    def offer_made(self, latency_seconds: float) -> None: ...
    def offer_timed_out(self) -> None: ...
    def consultation_started(self, wait_seconds: float, breached: bool) -> None: ...


class NullObserver:
    def offer_made(self, latency_seconds: float) -> None:
        pass

    def offer_timed_out(self) -> None:
        pass

    def consultation_started(self, wait_seconds: float, breached: bool) -> None:
        pass


def _new_room_id() -> RoomId:
    return RoomId(secrets.token_hex(16))


def queue_entry(request: ConsultationRequest) -> QueuedEntry:
    """The live-queue entry of a request: its score never changes, so it keeps its place."""
    return QueuedEntry(
        member=dispatch.queue_member(request.seq, request.id),
        score=dispatch.queue_score(
            request.deadline, request.priority_credit + dispatch.kind_credit(request.kind)
        ),
        patient_id=request.patient_id,
        arrival_ts=request.arrival_at.timestamp(),
        deadline_ts=request.deadline.timestamp(),
    )


class WaitingRoom:
    def __init__(
        self,
        requests: RequestStore,
        live: LiveStore,
        duty: DutyStore,
        consents: ConsentChecker,
        notifier: Notifier,
        clock: Clock,
        settings: DispatchSettings | None = None,
        observer: Observer | None = None,
    ) -> None:
        self._requests = requests
        self._live = live
        self._duty = duty
        self._consents = consents
        self._notify = notifier
        self._clock = clock
        self.settings = settings or DispatchSettings()
        self._observe = observer or NullObserver()

    def _now(self) -> float:
        return self._clock.now().timestamp()

    # -- patient -----------------------------------------------------------------------------
    async def screen(self, patient_id: UserId) -> None:
        """The rules every request passes before it is queued (also checked at booking):
        R17 both consents, R12 the yearly quota."""
        if not await self._consents.has_required_consents(patient_id):
            raise ConsentMissing("both consents are needed before any consultation (R17)")
        year = self._clock.now().astimezone(PARIS).year
        if await self._requests.started_count(patient_id, year) >= YEARLY_QUOTA:
            raise QuotaExceeded(f"the {YEARLY_QUOTA} consultations of {year} are used (R12)")

    async def request_video(self, patient_id: UserId) -> PatientView:
        """An immediate video request (R6): screened, then queued with deadline arrival + 30 min."""
        return await self._new_request(patient_id, RequestKind.IMMEDIATE, Channel.VIDEO, None)

    async def request_phone_callback(
        self, patient_id: UserId, phone_number: str, actor: str | None = None
    ) -> PatientView:
        """R8/R9: a GP calls the patient back at ``phone_number`` (E.164), in the same queue under
        the same deadline."""
        return await self._new_request(
            patient_id, RequestKind.IMMEDIATE, Channel.PHONE, None, actor, phone_number
        )

    async def admit_appointment(self, patient_id: UserId, slot_start: datetime) -> PatientView:
        """R7: a booked appointment comes due: queued with its slot as deadline."""
        return await self._new_request(
            patient_id, RequestKind.APPOINTMENT, Channel.VIDEO, slot_start, actor="system:slot"
        )

    async def _new_request(
        self,
        patient_id: UserId,
        kind: RequestKind,
        channel: Channel,
        slot_start: datetime | None,
        actor: str | None = None,
        phone_number: str | None = None,
    ) -> PatientView:
        started = time.perf_counter()
        await self.screen(patient_id)
        now = self._clock.now()
        deadline = dispatch.deadline_for(kind, now, slot_start)
        actor = actor or f"patient:{patient_id}"
        request = await self._requests.create(
            patient_id, kind, channel, now, deadline, phone_number
        )
        request = await self._requests.apply(plan_transition(request, S.SCREENED, now, actor))
        request = await self._requests.apply(plan_transition(request, S.WAITING, now, actor))
        await self._live.enqueue(queue_entry(request))
        logger.info("request %s queued", request.id)
        await self.dispatch(started)
        fresh = await self._requests.get(request.id)
        return await self.patient_view(fresh or request)

    async def cancel(self, patient_id: UserId, request_id: RequestId) -> None:
        request = await self._own_request(patient_id, request_id)
        await self._leave_queue(request, S.CANCELLED, EndReason.CANCELLED, f"patient:{patient_id}")

    async def patient_view(self, request: ConsultationRequest) -> PatientView:
        size = await self._live.queue_size()
        position = None
        if request.state in QUEUED:
            rank = await self._live.rank(dispatch.queue_member(request.seq, request.id))
            # None while out of the line (a phone retry waiting for its time).
            position = None if rank is None else rank + 1
        return PatientView(request, position, size)

    async def current_for_patient(self, patient_id: UserId) -> PatientView | None:
        request = await self._requests.active_for_patient(patient_id)
        return None if request is None else await self.patient_view(request)

    async def patient_connected(self, patient_id: UserId) -> None:
        """A connection (re)opened: the grace timers of the patient stop (their place is kept)."""
        request = await self._requests.active_for_patient(patient_id)
        if request is None:
            return
        await self._live.cancel(f"grace:{request.id}")
        if request.room_id is not None:
            await self._member_back(patient_id, request.room_id)

    async def patient_disconnected(self, patient_id: UserId) -> None:
        """The patient's last connection dropped: queued, they keep their place for the grace
        period; in a call, the room waits for them for the call grace period."""
        request = await self._requests.active_for_patient(patient_id)
        if request is None or request.channel is Channel.PHONE:
            return  # a phone callback needs no open page: the GP calls the patient's phone
        if request.state in QUEUED:
            await self._live.schedule(
                f"grace:{request.id}", self._now() + self.settings.patient_grace
            )
        elif request.room_id is not None:
            await self._member_left(patient_id, request.room_id)

    # -- physician ---------------------------------------------------------------------------
    async def gp_available(self, gp_id: UserId) -> None:
        """Go available; also confirms a paused GP, and ends a wrap-up early."""
        started = time.perf_counter()
        live = await self._live.get_gp(gp_id)
        if live.status == GpStatus.IN_CALL:
            raise InCall("finish the current call before changing availability")
        if live.status in (GpStatus.OFFERED, GpStatus.AVAILABLE):
            return  # already in the idle line: a second click keeps the GP's place
        if live.status == GpStatus.WRAP_UP:
            await self._finish_wrap_up(gp_id, live, available=True, started=started)
            return
        await self._make_available(gp_id, started=started)

    async def gp_unavailable(self, gp_id: UserId) -> None:
        live = await self._live.get_gp(gp_id)
        if live.status == GpStatus.IN_CALL:
            raise InCall("finish the current call before changing availability")
        if live.status == GpStatus.WRAP_UP:
            await self._finish_wrap_up(gp_id, live, available=False)
            return
        if live.status == GpStatus.OFFERED and live.request_id is not None:
            await self._return_offer(gp_id, live.request_id, f"physician:{gp_id}")
        await self._set_unavailable(gp_id, GpStatus.UNAVAILABLE)
        await self.dispatch()

    async def gp_connected(self, gp_id: UserId) -> None:
        """A connection (re)opened: an available GP who had dropped is back in the idle line at
        their old place; a GP in a call is back in the room."""
        await self._live.cancel(f"gpgone:{gp_id}")
        live = await self._live.get_gp(gp_id)
        if live.status == GpStatus.IN_CALL and live.room_id is not None:
            await self._member_back(gp_id, live.room_id)
        elif live.status == GpStatus.AVAILABLE:
            await self._live.set_idle(gp_id, live.since)
            await self.dispatch()

    async def gp_disconnected(self, gp_id: UserId) -> None:
        """The GP's last connection dropped: an offer they hold goes back to the queue at once
        (re-offered); an available GP gets no offers until they come back within the grace period
        (past it they become unavailable); a call waits for them for the call grace period; a
        wrap-up runs on."""
        live = await self._live.get_gp(gp_id)
        if live.status == GpStatus.IN_CALL and live.room_id is not None:
            await self._member_left(gp_id, live.room_id)
            return
        if live.status not in (GpStatus.AVAILABLE, GpStatus.OFFERED):
            return
        await self._live.clear_idle(gp_id)
        if live.status == GpStatus.OFFERED and live.request_id is not None:
            await self._return_offer(gp_id, live.request_id, "system:gp_disconnected")
            live = GpLive(GpStatus.AVAILABLE, since=live.since, missed=live.missed)
            await self._live.set_gp(gp_id, live)
        await self._live.schedule(f"gpgone:{gp_id}", self._now() + self.settings.call_grace)
        await self.dispatch()

    async def take_offer(self, gp_id: UserId, request_id: RequestId) -> CallRoom | None:
        """Take an offer: a video request opens a call room for the pair (returned); a phone
        request becomes the GP's phone task (None)."""
        request = await self._requests.get(request_id)
        if request is not None and request.channel is Channel.PHONE:
            await self._check_offer(gp_id, request_id)
            await self._accept_phone(gp_id, request)
            return None
        return await self.accept(gp_id, request_id)

    async def _check_offer(self, gp_id: UserId, request_id: RequestId) -> ConsultationRequest:
        live = await self._live.get_gp(gp_id)
        if live.status != GpStatus.OFFERED or live.request_id != request_id:
            raise OfferNotFound("this offer is no longer yours")
        request = await self._requests.get(request_id)
        if request is None or request.state is not S.OFFERED or request.gp_id != gp_id:
            raise OfferNotFound("this offer is no longer yours")
        return request

    async def accept(self, gp_id: UserId, request_id: RequestId) -> CallRoom:
        """Take the offer of a video request: a call room for the pair."""
        live = await self._live.get_gp(gp_id)
        if live.status != GpStatus.OFFERED or live.request_id != request_id:
            raise OfferNotFound("this offer is no longer yours")
        request = await self._requests.get(request_id)
        if request is None or request.state is not S.OFFERED or request.gp_id != gp_id:
            raise OfferNotFound("this offer is no longer yours")
        now = self._clock.now()
        if request.channel is Channel.PHONE:
            raise IllegalTransition("a phone request is taken as a phone task (take_offer)")
        room_id = _new_room_id()
        request = await self._requests.apply(
            plan_transition(request, S.ACCEPTED, now, f"physician:{gp_id}", room_id=room_id)
        )
        await self._live.cancel(f"offer:{request_id}:{gp_id}")
        await self._live.dequeue(dispatch.queue_member(request.seq, request.id))
        room = CallRoom(room_id, request.id, request.patient_id, gp_id)
        await self._live.save_room(room)
        await self._live.set_gp(
            gp_id, GpLive(GpStatus.IN_CALL, request.id, room_id, since=now.timestamp())
        )
        waited = (now - request.arrival_at).total_seconds()
        self._observe.consultation_started(waited, now > request.deadline)
        logger.info("request %s accepted, room %s", request.id, room_id)
        await self._notify.gp_changed(GpView(gp_id, GpStatus.IN_CALL, None, room_id))
        await self._notify.patient_changed(await self.patient_view(request))
        await self._notify.call_started(room, resume=False)
        return room

    async def decline(self, gp_id: UserId, request_id: RequestId) -> None:
        live = await self._live.get_gp(gp_id)
        if live.status != GpStatus.OFFERED or live.request_id != request_id:
            raise OfferNotFound("this offer is no longer yours")
        await self._return_offer(gp_id, request_id, f"physician:{gp_id}")
        # The decliner pauses, so the same offer does not bounce straight back to them.
        await self._set_unavailable(gp_id, GpStatus.UNAVAILABLE)
        await self.dispatch()

    async def gp_view(self, gp_id: UserId) -> GpView:
        live = await self._live.get_gp(gp_id)
        status = GpStatus(live.status)
        offer = task = None
        if status == GpStatus.OFFERED and live.request_id is not None:
            offer = await self._requests.get(live.request_id)
        if status == GpStatus.IN_CALL and live.room_id is None and live.request_id is not None:
            task = await self._requests.get(live.request_id)
        return GpView(gp_id, status, offer, live.room_id, live.until, live.missed, task)

    # -- phone callbacks (R8, R9) -----------------------------------------------------------------
    async def _accept_phone(self, gp_id: UserId, request: ConsultationRequest) -> None:
        now = self._clock.now()
        request = await self._requests.apply(
            plan_transition(request, S.ACCEPTED, now, f"physician:{gp_id}")
        )
        await self._live.cancel(f"offer:{request.id}:{gp_id}")
        await self._live.dequeue(dispatch.queue_member(request.seq, request.id))
        await self._live.set_gp(
            gp_id, GpLive(GpStatus.IN_CALL, request.id, None, since=now.timestamp())
        )
        if request.phone_attempts == 0:
            waited = (now - request.arrival_at).total_seconds()
            self._observe.consultation_started(waited, now > request.deadline)
        logger.info("request %s accepted as a phone task", request.id)
        await self._notify.gp_changed(GpView(gp_id, GpStatus.IN_CALL, None, None, task=request))
        await self._notify.patient_changed(await self.patient_view(request))

    async def _phone_task(self, gp_id: UserId, request_id: RequestId) -> ConsultationRequest:
        live = await self._live.get_gp(gp_id)
        request = await self._requests.get(request_id)
        if (
            live.status != GpStatus.IN_CALL
            or live.request_id != request_id
            or live.room_id is not None
            or request is None
            or request.channel is not Channel.PHONE
        ):
            raise OfferNotFound("this is not your phone task")
        return request

    async def phone_outcome(self, gp_id: UserId, request_id: RequestId, outcome: str) -> None:
        """The GP called the patient back: reached (the consultation is under way), no answer
        (tried again later by the next free GP, at most 3 tries, then unreachable), or wrong
        number (unreachable)."""
        request = await self._phone_task(gp_id, request_id)
        actor = f"physician:{gp_id}"
        now = self._clock.now()
        if outcome == "reached":
            request = await self._requests.apply(plan_transition(request, S.IN_CALL, now, actor))
            await self._notify.patient_changed(await self.patient_view(request))
            await self._notify.gp_changed(GpView(gp_id, GpStatus.IN_CALL, None, None, task=request))
            return
        if request.state is not S.ACCEPTED:
            raise IllegalTransition("the patient was reached: end the call instead")
        attempts = request.phone_attempts + 1
        if outcome == "no_answer" and attempts < self.settings.phone_tries:
            retry_at = now + timedelta(seconds=self.settings.phone_retry)
            request = await self._requests.apply(
                plan_transition(
                    request,
                    S.WAITING,
                    now,
                    actor,
                    gp_id=None,
                    phone_attempts=attempts,
                    not_before=retry_at,
                )
            )
            await self._live.schedule(f"phoneretry:{request.id}", retry_at.timestamp())
            logger.info("request %s: no answer (%d), retry later", request.id, attempts)
        else:
            reason = EndReason.WRONG_NUMBER if outcome == "wrong_number" else EndReason.UNREACHABLE
            request = await self._requests.apply(
                plan_transition(
                    request,
                    S.UNREACHABLE,
                    now,
                    actor,
                    ended_reason=reason,
                    phone_attempts=attempts,
                )
            )
            logger.info("request %s unreachable (%s)", request.id, reason)
        await self._notify.patient_changed(await self.patient_view(request))
        await self._make_available(gp_id, record_intent=False)

    async def phone_end(self, gp_id: UserId, request_id: RequestId) -> None:
        """The phone consultation is over: the GP wraps up."""
        request = await self._phone_task(gp_id, request_id)
        if request.state is not S.IN_CALL:
            raise IllegalTransition("record the call's outcome first")
        await self._to_wrap_up(request, gp_id, EndReason.HANGUP_PHYSICIAN, f"physician:{gp_id}")

    async def _phone_retry_due(self, request_id: RequestId) -> None:
        request = await self._requests.get(request_id)
        if request is None or request.state is not S.WAITING:
            return
        await self._live.enqueue(queue_entry(request))
        await self._notify.patient_changed(await self.patient_view(request))
        await self.dispatch()

    async def degrade(self, user_id: UserId, room_id: RoomId, to: str, phone_number: str) -> None:
        """The degradation ladder mid-call: ``audio`` is told to the other member; ``phone``
        moves the same consultation to a phone callback by the same GP: no new queue entry, no
        second quota count (R12)."""
        room = await self.room_for(user_id, room_id)
        if to == "audio":
            await self._notify.call_degraded(room, user_id, to)
            return
        request = await self._requests.get(room.request_id)
        if request is None or request.state not in (S.ACCEPTED, S.IN_CALL):
            raise IllegalTransition("this consultation is not under way")
        request = await self._requests.apply(
            plan_update(
                request,
                self._clock.now(),
                f"user:{user_id}",
                room_id=None,
                channel=Channel.PHONE,
                phone_number=phone_number,
            )
        )
        await self._live.delete_room(room.id)
        await self._live.cancel(f"call:{room.id}:{room.patient_id}")
        await self._live.cancel(f"call:{room.id}:{room.gp_id}")
        live = await self._live.get_gp(room.gp_id)
        await self._live.set_gp(
            room.gp_id, GpLive(GpStatus.IN_CALL, request.id, None, since=live.since)
        )
        logger.info("request %s moved to a phone callback", request.id)
        await self._notify.call_ended(room, EndReason.PHONE_CALLBACK)
        await self._notify.gp_changed(
            GpView(room.gp_id, GpStatus.IN_CALL, None, None, task=request)
        )
        await self._notify.patient_changed(await self.patient_view(request))

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
        if request is None or request.state is not S.ACCEPTED:
            return  # the first report wins; later ones change nothing
        try:
            request = await self._requests.apply(
                plan_transition(request, S.IN_CALL, self._clock.now(), f"user:{user_id}")
            )
        except Conflict:
            return
        await self._notify.patient_changed(await self.patient_view(request))

    async def hangup(self, user_id: UserId, room_id: RoomId) -> None:
        """Either member hangs up: the GP wraps up, and both sides are told."""
        room = await self.room_for(user_id, room_id)
        reason = (
            EndReason.HANGUP_PATIENT if user_id == room.patient_id else EndReason.HANGUP_PHYSICIAN
        )
        await self._end_call(room, reason, f"user:{user_id}")

    # -- timers ----------------------------------------------------------------------------------
    async def on_timer(self, timer: str) -> None:
        """Handle one due timer (claimed by this node only)."""
        kind, _, rest = timer.partition(":")
        parts = rest.split(":")
        match kind, parts:
            case "offer", [request_id, gp_id]:
                await self._offer_expired(RequestId(request_id), UserId(gp_id))
            case "grace", [request_id]:
                await self._grace_expired(RequestId(request_id))
            case "wrapup", [gp_id, _request_id]:
                live = await self._live.get_gp(UserId(gp_id))
                if live.status == GpStatus.WRAP_UP:
                    await self._finish_wrap_up(UserId(gp_id), live, available=True)
            case "call", [room_id, user_id]:
                await self._call_grace_expired(RoomId(room_id), UserId(user_id))
            case "gpgone", [gp_id]:
                await self._gp_gone(UserId(gp_id))
            case "phoneretry", [request_id]:
                await self._phone_retry_due(RequestId(request_id))
            case _:
                logger.warning("unknown timer %r dropped", timer)

    async def _offer_expired(self, request_id: RequestId, gp_id: UserId) -> None:
        live = await self._live.get_gp(gp_id)
        if live.status != GpStatus.OFFERED or live.request_id != request_id:
            return
        self._observe.offer_timed_out()
        await self._return_offer(gp_id, request_id, "system:offer_timeout")
        missed, paused = dispatch.missed_offer_outcome(live.missed, self.settings)
        logger.info("offer of request %s missed (%d in a row)", request_id, missed)
        if paused:
            await self._set_unavailable(gp_id, GpStatus.PAUSED, missed=missed)
        else:
            # Back of the idle line: another free GP gets the re-offer first.
            await self._make_available(gp_id, missed=missed)
        await self.dispatch()

    async def _gp_gone(self, gp_id: UserId) -> None:
        """An available GP did not come back within the grace period: off duty."""
        if await self._live.is_present(gp_id):
            return
        live = await self._live.get_gp(gp_id)
        if live.status == GpStatus.OFFERED and live.request_id is not None:
            await self._return_offer(gp_id, live.request_id, "system:gp_gone")
        if live.status in (GpStatus.AVAILABLE, GpStatus.OFFERED):
            logger.info("physician %s gone: unavailable", gp_id)
            await self._set_unavailable(gp_id, GpStatus.UNAVAILABLE)
            await self.dispatch()

    async def _grace_expired(self, request_id: RequestId) -> None:
        request = await self._requests.get(request_id)
        if request is None or request.state not in QUEUED:
            return
        if await self._live.is_present(request.patient_id):
            return
        logger.info("request %s abandoned after the grace period", request_id)
        await self._leave_queue(request, S.ABANDONED, EndReason.ABANDONED, "system:grace")

    async def _call_grace_expired(self, room_id: RoomId, user_id: UserId) -> None:
        room = await self._live.get_room(room_id)
        if room is None or await self._live.is_present(user_id):
            return
        if user_id == room.patient_id:
            await self._end_call(room, EndReason.PATIENT_LOST, "system:call_grace")
        elif user_id == room.gp_id:
            await self._physician_lost(room)

    # -- reconciliation --------------------------------------------------------------------------
    async def reconcile(self, min_age: float = 10.0) -> int:
        """Repair the live queue against SQL (the source of truth): a request waiting in SQL but
        missing from Redis (a node died between the two writes) is queued again at its place; an
        offer SQL still holds but no GP holds any more returns to waiting; Redis entries SQL no
        longer queues are dropped. Only changes older than ``min_age`` seconds are touched, so a
        write in progress is not mistaken for a loss. Returns the number of repairs."""
        now = self._now()
        line = {e.member: e for e in await self._live.queue_entries()}
        queued = await self._requests.queued()
        repairs = 0
        for request in queued:
            member = dispatch.queue_member(request.seq, request.id)
            age = now - request.updated_at.timestamp()
            retrying = request.not_before is not None and request.not_before.timestamp() > now
            if age < min_age or retrying:
                line.pop(member, None)
                continue
            entry = line.pop(member, None)
            if request.state is S.WAITING and (entry is None or entry.offered):
                await self._live.enqueue(queue_entry(request))
                repairs += 1
            elif request.state is S.OFFERED and request.gp_id is not None:
                live = await self._live.get_gp(request.gp_id)
                if live.status != GpStatus.OFFERED or live.request_id != request.id:
                    await self._return_offer(request.gp_id, request.id, "system:reconcile")
                    repairs += 1
        for member in line:  # in Redis, no longer queued in SQL
            await self._live.dequeue(member)
            repairs += 1
        if repairs:
            logger.warning("live queue repaired against SQL: %d change(s)", repairs)
            await self.dispatch()
        return repairs

    # -- dispatch ------------------------------------------------------------------------------
    async def dispatch(self, started: float | None = None) -> int:
        """Offer waiting requests to idle GPs until one side runs out. Returns offers made."""
        started = time.perf_counter() if started is None else started
        made = 0
        while (picked := await self._live.pick()) is not None:
            if await self._offer(picked, started):
                made += 1
        return made

    async def queue_stats(self) -> QueueStats:
        entries = await self._live.queue_entries()
        now = self._now()
        oldest = max((now - e.arrival_ts for e in entries), default=0.0)
        return QueueStats(len(entries), max(oldest, 0.0))

    async def _offer(self, picked: Picked, started: float) -> bool:
        request_id = dispatch.request_of_member(picked.member)
        request = await self._requests.get(request_id)
        if request is None or request.state is not S.WAITING:
            # A stale queue entry: drop it, give the GP back their place.
            await self._live.put_back(picked, None)
            return False
        now = self._clock.now()
        try:
            request = await self._requests.apply(
                plan_transition(request, S.OFFERED, now, "system", gp_id=picked.gp_id)
            )
        except (Conflict, IllegalTransition):
            # SQL did not confirm the Redis claim: it did not happen (DESIGN.md).
            fresh = await self._requests.get(request_id)
            still = fresh is not None and fresh.state is S.WAITING
            await self._live.put_back(picked, queue_entry(request) if still else None)
            return False
        until = now.timestamp() + self.settings.offer_timeout
        previous = await self._live.get_gp(picked.gp_id)
        await self._live.set_gp(
            picked.gp_id,
            GpLive(GpStatus.OFFERED, request.id, None, now.timestamp(), until, previous.missed),
        )
        await self._live.schedule(f"offer:{request.id}:{picked.gp_id}", until)
        logger.info("request %s offered", request.id)
        await self._notify.gp_changed(
            GpView(picked.gp_id, GpStatus.OFFERED, request, None, until, previous.missed)
        )
        self._observe.offer_made(time.perf_counter() - started)
        await self._notify.patient_changed(await self.patient_view(request))
        return True

    async def _return_offer(self, gp_id: UserId, request_id: RequestId, actor: str) -> None:
        """An offer declined, missed or lost goes back to waiting at its original place."""
        await self._live.cancel(f"offer:{request_id}:{gp_id}")
        request = await self._requests.get(request_id)
        if request is None or request.state is not S.OFFERED or request.gp_id != gp_id:
            return
        request = await self._requests.apply(
            plan_transition(request, S.WAITING, self._clock.now(), actor, gp_id=None)
        )
        await self._live.enqueue(queue_entry(request))
        logger.info("request %s back to waiting", request.id)
        await self._notify.patient_changed(await self.patient_view(request))

    async def _leave_queue(
        self, request: ConsultationRequest, target: RequestState, reason: EndReason, actor: str
    ) -> None:
        offered_to = request.gp_id if request.state is S.OFFERED else None
        request = await self._requests.apply(
            plan_transition(request, target, self._clock.now(), actor, ended_reason=reason)
        )
        await self._live.dequeue(dispatch.queue_member(request.seq, request.id))
        await self._live.cancel(f"grace:{request.id}")
        await self._notify.patient_changed(
            PatientView(request, None, await self._live.queue_size())
        )
        if offered_to is not None:
            await self._live.cancel(f"offer:{request.id}:{offered_to}")
            # Not the GP's fault: they go back to the head of the idle line.
            live = await self._live.get_gp(offered_to)
            await self._make_available(offered_to, missed=live.missed, since=live.since)
        await self.dispatch()

    async def _end_call(self, room: CallRoom, reason: EndReason, actor: str) -> None:
        request = await self._requests.get(room.request_id)
        if request is None:
            raise NotFound("unknown request")
        if request.state in TERMINAL or request.state is S.WRAP_UP:
            raise IllegalTransition("this consultation is already over")
        await self._live.delete_room(room.id)
        await self._live.cancel(f"call:{room.id}:{room.patient_id}")
        await self._live.cancel(f"call:{room.id}:{room.gp_id}")
        await self._notify.call_ended(room, reason)
        await self._to_wrap_up(request, room.gp_id, reason, actor)

    async def _to_wrap_up(
        self, request: ConsultationRequest, gp_id: UserId, reason: EndReason, actor: str
    ) -> None:
        now = self._clock.now()
        request = await self._requests.apply(
            plan_transition(request, S.WRAP_UP, now, actor, ended_reason=reason)
        )
        until = now.timestamp() + self.settings.wrap_up
        await self._live.set_gp(
            gp_id, GpLive(GpStatus.WRAP_UP, request.id, None, now.timestamp(), until)
        )
        await self._live.schedule(f"wrapup:{gp_id}:{request.id}", until)
        logger.info("request %s call ended (%s)", request.id, reason)
        await self._notify.patient_changed(
            PatientView(request, None, await self._live.queue_size())
        )
        await self._notify.gp_changed(GpView(gp_id, GpStatus.WRAP_UP, None, None, until))

    async def _finish_wrap_up(
        self, gp_id: UserId, live: GpLive, available: bool, started: float | None = None
    ) -> None:
        now = self._clock.now()
        if live.request_id is not None:
            await self._live.cancel(f"wrapup:{gp_id}:{live.request_id}")
        if available:
            # The intent is unchanged (a GP in wrap-up came from a call they were available for).
            await self._make_available(gp_id, record_intent=False, started=started)
        else:
            await self._set_unavailable(gp_id, GpStatus.UNAVAILABLE)
        # The request's own end is recorded after the next offer went out: it is off the hot
        # path, and recovery closes a wrap-up whose GP has moved on.
        if live.request_id is not None:
            request = await self._requests.get(live.request_id)
            if request is not None and request.state is S.WRAP_UP:
                try:
                    await self._requests.apply(
                        plan_transition(request, S.DONE, now, f"physician:{gp_id}")
                    )
                except Conflict:
                    pass

    async def _physician_lost(self, room: CallRoom) -> None:
        """The GP did not come back: the patient returns to the queue at their original place."""
        request = await self._requests.get(room.request_id)
        await self._live.delete_room(room.id)
        await self._live.cancel(f"call:{room.id}:{room.patient_id}")
        await self._set_unavailable(room.gp_id, GpStatus.UNAVAILABLE)
        await self._notify.call_ended(room, EndReason.PHYSICIAN_LOST)
        if request is None or request.state not in (S.ACCEPTED, S.IN_CALL):
            return
        request = await self._requests.apply(
            plan_transition(
                request, S.WAITING, self._clock.now(), "system:call_grace", gp_id=None, room_id=None
            )
        )
        await self._live.enqueue(queue_entry(request))
        if not await self._live.is_present(request.patient_id):
            await self._live.schedule(
                f"grace:{request.id}", self._now() + self.settings.patient_grace
            )
        logger.info("request %s back to waiting: physician lost", request.id)
        await self._notify.patient_changed(await self.patient_view(request))
        await self.dispatch()

    async def _member_left(self, user_id: UserId, room_id: RoomId) -> None:
        room = await self._live.get_room(room_id)
        if room is None:
            return
        await self._live.schedule(
            f"call:{room_id}:{user_id}", self._now() + self.settings.call_grace
        )
        await self._notify.call_peer(room, user_id, present=False)

    async def _member_back(self, user_id: UserId, room_id: RoomId) -> None:
        room = await self._live.get_room(room_id)
        if room is None:
            return
        await self._live.cancel(f"call:{room_id}:{user_id}")
        await self._notify.call_peer(room, user_id, present=True)

    async def _make_available(
        self,
        gp_id: UserId,
        missed: int = 0,
        since: float | None = None,
        record_intent: bool = True,
        started: float | None = None,
    ) -> None:
        """Put the GP in the idle line and dispatch at once; the GP hears "available" only if no
        offer came (the hot path of a GP becoming free: one message, the offer)."""
        since = self._now() if since is None else since
        await self._live.set_gp(gp_id, GpLive(GpStatus.AVAILABLE, since=since, missed=missed))
        await self._live.set_idle(gp_id, since)
        await self.dispatch(started)
        if record_intent:
            await self._duty.set_intent(gp_id, GpStatus.AVAILABLE, self._clock.now())
        if (await self._live.get_gp(gp_id)).status == GpStatus.AVAILABLE:
            await self._notify.gp_changed(
                GpView(gp_id, GpStatus.AVAILABLE, None, None, None, missed)
            )

    async def _set_unavailable(self, gp_id: UserId, status: GpStatus, missed: int = 0) -> None:
        await self._live.clear_idle(gp_id)
        await self._live.set_gp(gp_id, GpLive(status, since=self._now(), missed=missed))
        await self._duty.set_intent(gp_id, status, self._clock.now())
        await self._notify.gp_changed(GpView(gp_id, status, None, None, None, missed))

    async def _own_request(self, patient_id: UserId, request_id: RequestId) -> ConsultationRequest:
        request = await self._requests.get(request_id)
        if request is None or request.patient_id != patient_id:
            raise NotFound("no such request")
        return request
