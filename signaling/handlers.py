"""socket.io event handlers: authenticate, parse at the boundary, call the waiting room, ack."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, TypeVar

import socketio

from records.accounts import Accounts
from signaling import events as ev
from signaling.auth import TokenError, TokenService, TokenType
from signaling.errors import BadRequest, Forbidden, InvalidPhone, ack_error
from signaling.notifier import (
    PHYSICIANS_ROOM,
    SUPERVISORS_ROOM,
    SocketNotifier,
    patient_payload,
    queue_payload,
    user_room,
)
from signaling.registration import parse_mobile
from waiting_room.model import Role, UserId
from waiting_room.redis_store import RedisLiveStore
from waiting_room.service import WaitingRoom

logger = logging.getLogger(__name__)

P = TypeVar("P")
Ack = dict[str, Any]

_NONE: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Session:
    sid: str
    user_id: UserId
    role: Role


class LocalSessions:
    """The connections of this node (python-socketio keeps no cross-node view): the feed pushes
    queue updates to these only, and re-registers them after Redis is rebuilt."""

    def __init__(self) -> None:
        self._by_sid: dict[str, Session] = {}
        self._by_user: dict[UserId, set[str]] = {}
        self._ready: dict[UserId, set[str]] = {}

    def add(self, session: Session) -> None:
        self._by_sid[session.sid] = session
        self._by_user.setdefault(session.user_id, set()).add(session.sid)

    def mark_ready(self, sid: str) -> Session | None:
        """The client has its connect packet: the feed may push to it from now on (an event
        sent before the connect packet reaches a client that is not connected yet)."""
        session = self._by_sid.get(sid)
        if session is not None:
            self._ready.setdefault(session.user_id, set()).add(sid)
        return session

    def remove(self, sid: str) -> Session | None:
        session = self._by_sid.pop(sid, None)
        if session is not None:
            for index in (self._by_user, self._ready):
                sids = index.get(session.user_id)
                if sids is not None:
                    sids.discard(sid)
                    if not sids:
                        index.pop(session.user_id, None)
        return session

    def sids_of(self, user_id: UserId) -> set[str]:
        return self._by_user.get(user_id, set())

    def ready_sids_of(self, user_id: UserId) -> AbstractSet[str]:
        """The connections of ``user_id`` whose connect packet went out."""
        return self._ready.get(user_id, _NONE)

    def all(self) -> list[Session]:
        return list(self._by_sid.values())

    def __len__(self) -> int:
        return len(self._by_sid)


def _refuse(code: str, message: str) -> socketio.exceptions.ConnectionRefusedError:
    return socketio.exceptions.ConnectionRefusedError(code, {"code": code, "message": message})


class SocketHandlers:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        tokens: TokenService,
        accounts: Accounts,
        room: WaitingRoom,
        live: RedisLiveStore,
        notifier: SocketNotifier,
        sessions: LocalSessions,
    ) -> None:
        self.sessions = sessions
        self._sio = sio
        self._tokens = tokens
        self._accounts = accounts
        self._room = room
        self._live = live
        self._notifier = notifier
        self._tasks: set[asyncio.Task[None]] = set()
        self.at_risk: Callable[[], int] = lambda: 0
        """The feed's latest count of requests at risk (set by the feed)."""
        self.board: Callable[[], Awaitable[dict[str, Any]]] | None = None
        """The supervisor board as of now (set by the feed)."""

    def register(self) -> None:
        self._hook_connected()
        self._sio.on("connect", self.connect)
        self._sio.on("disconnect", self.disconnect)
        patient = {Role.PATIENT}
        gp = {Role.PHYSICIAN}
        both = {Role.PATIENT, Role.PHYSICIAN}
        self._on(ev.PATIENT_REQUEST_VIDEO, patient, ev.parse_video_request, self._request_video)
        self._on(ev.PATIENT_REQUEST_PHONE, patient, ev.parse_phone_request, self._request_phone)
        self._on(ev.PHONE_OUTCOME, gp, ev.parse_phone_outcome, self._phone_outcome)
        self._on(ev.PHONE_END, gp, ev.parse_request_ref, self._phone_end)
        self._on(ev.CALL_DEGRADE, both, ev.parse_degrade, self._degrade)
        self._on(ev.PATIENT_CANCEL, patient, ev.parse_request_ref, self._cancel)
        self._on(ev.GP_AVAILABLE, gp, ev.parse_empty, self._gp_available)
        self._on(ev.GP_UNAVAILABLE, gp, ev.parse_empty, self._gp_unavailable)
        self._on(ev.OFFER_ACCEPT, gp, ev.parse_request_ref, self._accept)
        self._on(ev.OFFER_DECLINE, gp, ev.parse_request_ref, self._decline)
        self._on(ev.RTC_SIGNAL, both, ev.parse_rtc_signal, self._rtc_signal)
        self._on(ev.CALL_CONNECTED, both, ev.parse_call_connected, self._call_connected)
        self._on(ev.CALL_HANGUP, both, ev.parse_room_ref, self._hangup)
        self._on(ev.SESSION_SYNC, set(Role), ev.parse_empty, self._sync)

    def _on(
        self,
        name: str,
        roles: Collection[Role],
        parse: Callable[[Any], P],
        handle: Callable[[Session, P], Awaitable[Ack | None]],
    ) -> None:
        async def handler(sid: str, *args: Any) -> Ack:
            try:
                session = await self._session(sid)
                if session.role not in roles:
                    raise Forbidden(f"the role {session.role} may not send {name}")
                if len(args) != 1:
                    raise ev.InvalidEvent("send exactly one payload object")
                payload = parse(args[0])
                result = await handle(session, payload)
            except Exception as exc:  # every failure becomes an ack; the socket stays up
                logger.info("event %s refused for sid %s: %s", name, sid, type(exc).__name__)
                return ack_error(exc)
            return {"ok": True, **(result or {})}

        self._sio.on(name, handler)

    async def _session(self, sid: str) -> Session:
        raw = await self._sio.get_session(sid)
        return Session(sid, UserId(raw["user_id"]), Role(raw["role"]))

    # -- connection ------------------------------------------------------------------------
    async def connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str) or not token:
            raise _refuse("auth_required", "send the access token as auth: {token}")
        try:
            claims = self._tokens.verify(token, TokenType.ACCESS)
        except TokenError as exc:
            raise _refuse(exc.code, str(exc)) from None
        user = await self._accounts.get(claims.user_id)
        if user is None or not user.active:
            raise _refuse("token_invalid", "unknown or closed account")
        await self._sio.save_session(sid, {"user_id": user.id, "role": user.role.value})
        await self._sio.enter_room(sid, user_room(user.id))
        if user.role is Role.PHYSICIAN:
            await self._sio.enter_room(sid, PHYSICIANS_ROOM)
        elif user.role is Role.SUPERVISOR:
            await self._sio.enter_room(sid, SUPERVISORS_ROOM)
        session = Session(sid, user.id, user.role)
        self.sessions.add(session)
        await self.announce(session)
        logger.info("sid %s connected as %s", sid, user.role.value)
        # The connect packet goes out after this handler returns; the state follows it
        # (_hook_connected).

    async def announce(self, session: Session) -> None:
        """Register a connection in the shared presence and stop the user's grace timers
        (also run again for every local connection after Redis is rebuilt)."""
        await self._live.add_presence(session.user_id, session.sid)
        if session.role is Role.PATIENT:
            await self._room.patient_connected(session.user_id)
        elif session.role is Role.PHYSICIAN:
            await self._room.gp_connected(session.user_id)

    async def disconnect(self, sid: str, reason: Any = None) -> None:
        session = self.sessions.remove(sid)
        if session is None:
            return
        await self._live.remove_presence(session.user_id, sid)
        logger.info("sid %s disconnected (%s)", sid, reason)
        if await self._live.is_present(session.user_id):
            return  # another tab or device of the same user is still connected
        if session.role is Role.PATIENT:
            await self._room.patient_disconnected(session.user_id)
        elif session.role is Role.PHYSICIAN:
            await self._room.gp_disconnected(session.user_id)

    def _hook_connected(self) -> None:
        """python-socketio sends the connect packet after the connect handler returns, then
        marks the client connected with ``manager.connect``: the state push follows that call
        (no polling; a refused connection never gets there)."""
        manager = self._sio.manager
        original = manager.connect

        async def connect(sid: str, namespace: str) -> Any:
            result = await original(sid, namespace)
            if namespace == "/":
                self._connected(sid)
            return result

        manager.connect = connect

    def _connected(self, sid: str) -> None:
        session = self.sessions.mark_ready(sid)
        if session is None:
            return
        task = asyncio.create_task(self._push_connected(session))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _push_connected(self, session: Session) -> None:
        try:
            await self._push_state(session)
        except Exception:
            logger.exception("state push failed for sid %s", session.sid)

    async def _push_state(self, session: Session) -> Ack:
        """The resynchronisation a new connection needs (no connection-state recovery)."""
        state: Ack = {}
        if session.role is Role.PATIENT:
            view = await self._room.current_for_patient(session.user_id)
            state["patient"] = patient_payload(view)
            await self._sio.emit(ev.PATIENT_STATE, state["patient"], to=session.sid)
            room = await self._room.active_room_of(session.user_id, view.request if view else None)
        elif session.role is Role.PHYSICIAN:
            gp = await self._room.gp_view(session.user_id)
            state["gp"] = await self._notifier.gp_payload(gp)
            state["queue"] = queue_payload(await self._room.queue_stats(), self.at_risk())
            await self._sio.emit(ev.GP_STATE, state["gp"], to=session.sid)
            await self._sio.emit(ev.QUEUE_STATS, state["queue"], to=session.sid)
            room = await self._live.get_room(gp.room_id) if gp.room_id else None
        elif session.role is Role.SUPERVISOR and self.board is not None:
            state["board"] = await self.board()
            await self._sio.emit(ev.BOARD_STATE, state["board"], to=session.sid)
            return state
        else:
            return state
        if room is not None:
            call = await self._notifier.call_start_payload(room, session.user_id, resume=True)
            state["call"] = call
            await self._sio.emit(ev.CALL_START, call, to=session.sid)
        return state

    # -- events ------------------------------------------------------------------------------
    async def _sync(self, s: Session, _: ev.Empty) -> Ack:
        return await self._push_state(s)

    async def _request_video(self, s: Session, _: ev.VideoRequest) -> Ack:
        view = await self._room.request_video(s.user_id)
        return patient_payload(view)

    async def _request_phone(self, s: Session, p: ev.PhoneRequest) -> Ack:
        """R8: the patient chooses to be called back by phone, at a mobile number."""
        try:
            number = parse_mobile(p.phone_number)
        except BadRequest:
            raise InvalidPhone("give a mobile number that can receive the call") from None
        view = await self._room.request_phone_callback(s.user_id, number)
        return patient_payload(view)

    async def _phone_outcome(self, s: Session, p: ev.PhoneOutcome) -> None:
        await self._room.phone_outcome(s.user_id, p.request_id, p.outcome)

    async def _phone_end(self, s: Session, p: ev.RequestRef) -> None:
        await self._room.phone_end(s.user_id, p.request_id)

    async def _degrade(self, s: Session, p: ev.Degrade) -> None:
        room = await self._room.room_for(s.user_id, p.room_id)
        patient = await self._accounts.get(room.patient_id)
        mobile = patient.mobile if patient is not None else ""
        logger.info("room %s degrades to %s (%s)", p.room_id, p.to, p.reason)
        await self._room.degrade(s.user_id, p.room_id, p.to, mobile)

    async def _cancel(self, s: Session, p: ev.RequestRef) -> None:
        await self._room.cancel(s.user_id, p.request_id)

    async def _gp_available(self, s: Session, _: ev.Empty) -> None:
        await self._room.gp_available(s.user_id)

    async def _gp_unavailable(self, s: Session, _: ev.Empty) -> None:
        await self._room.gp_unavailable(s.user_id)

    async def _accept(self, s: Session, p: ev.RequestRef) -> Ack:
        room = await self._room.take_offer(s.user_id, p.request_id)
        return {"room_id": room.id if room is not None else None}

    async def _decline(self, s: Session, p: ev.RequestRef) -> None:
        await self._room.decline(s.user_id, p.request_id)

    async def _rtc_signal(self, s: Session, p: ev.RtcSignal) -> None:
        room = await self._room.room_for(s.user_id, p.room_id)
        peer = room.peer_of(s.user_id)
        assert peer is not None  # room_for checked membership
        # Relayed only to the other member of the room, as parsed (nothing unvalidated passes).
        await self._sio.emit(
            ev.RTC_SIGNAL, ev.serialize_rtc_signal(p, s.role.value), to=user_room(peer)
        )

    async def _call_connected(self, s: Session, p: ev.CallConnected) -> None:
        await self._room.call_connected(s.user_id, p.room_id)

    async def _hangup(self, s: Session, p: ev.RoomRef) -> None:
        await self._room.hangup(s.user_id, p.room_id)


__all__ = ["SocketHandlers", "Forbidden"]
