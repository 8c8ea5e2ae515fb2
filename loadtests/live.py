"""The live half of a load test: simulated patients and GPs replay a trace against a running server
on a scaled clock, as real socket.io clients speaking docs/PROTOCOL.md.

- Each request of the trace is one patient account: it logs in just before its arrival, connects
  and asks (``patient:request_video``, with ``media: audio`` for audio, or
  ``patient:request_phone``); an appointment is booked over HTTP half an hour ahead and enters the
  queue by itself at its check-in time. While queued the patient drops and comes back as the
  trace says, and cancels when its patience runs out.
- Each GP of the roster connects before the day starts and, on shift, declares itself available.
  An offer is declined as many times as the trace says for that request (by whichever GPs get it),
  then accepted; the GP holds the call for the trace's consultation time, hangs up (``phone:end``
  for a phone callback, after ``phone:outcome`` ``reached``), writes up for the wrap-up time and
  becomes available again, or unavailable once its shift is over.
- An observing physician, never available, records the predicted-breach alerts (``sla:alert``).

Times are the trace's seconds from 00:00 of the simulated day; ``SimTime`` maps them to real time
on the server's clock, located from ``/healthz`` (``now``). "Served" is the instant a GP's
``offer:accept`` is acknowledged. A request is *lost* when the server ends or refuses it while its
patient is still there: that must never happen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import socketio

from loadtests.accounts import (
    LOAD_PASSWORD,
    OBSERVER,
    SUPERVISOR,
    gp_email,
    patient_email,
    patient_mobile,
)
from loadtests.ideal import Outcome
from loadtests.media_peer import SETUP_TIMEOUT, CalleePeer, CallerPeer
from loadtests.trace import Arrival, Shift
from waiting_room.schedule import PARIS

logger = logging.getLogger(__name__)

BOOK_AHEAD_SECONDS = 1800.0
"""Appointments are booked this long (simulated) before they enter the queue."""
LOGIN_AHEAD_REAL = 1.5
"""Real seconds a patient starts logging in before its arrival (argon2 takes its time)."""
ACK_TIMEOUT = 20.0
_ENDED = {"done", "cancelled", "abandoned", "refused", "redirected_to_gp", "emergency_transfer"}
_ENDED |= {"unreachable"}
_SERVED = {"accepted", "in_call", "wrap_up", "done"}


@dataclass(frozen=True, slots=True)
class SimTime:
    """The server's business clock, located: trace second ``t`` is business time ``t0 + t``."""

    t0: datetime
    ref_business: datetime
    ref_monotonic: float
    scale: float

    def now(self) -> float:
        base = (self.ref_business - self.t0).total_seconds()
        return base + (time.monotonic() - self.ref_monotonic) * self.scale

    def real_delay(self, t: float) -> float:
        return (t - self.now()) / self.scale

    async def sleep_until(self, t: float) -> None:
        delay = self.real_delay(t)
        if delay > 0:
            await asyncio.sleep(delay)

    def business(self, t: float) -> datetime:
        return self.t0 + timedelta(seconds=t)

    def seconds(self, business: datetime) -> float:
        return (business - self.t0).total_seconds()


async def locate_clock(http: aiohttp.ClientSession, base: str) -> tuple[datetime, float]:
    """(business time, monotonic instant) of the server's clock, from the fastest of five
    ``/healthz`` round trips (the midpoint of the round trip)."""
    best: tuple[float, datetime, float] | None = None
    for _ in range(5):
        sent = time.monotonic()
        async with http.get(f"{base}/healthz") as resp:
            body = await resp.json()
        received = time.monotonic()
        if resp.status != 200 or "now" not in body:
            raise RuntimeError(f"the server is not healthy: {resp.status}")
        rtt = received - sent
        if best is None or rtt < best[0]:
            best = (rtt, datetime.fromisoformat(body["now"]), (sent + received) / 2)
    assert best is not None
    return best[1], best[2]


@dataclass(slots=True)
class Alert:
    request_id: str
    raised_at: float
    deadline: float
    predicted_start: float | None


@dataclass(slots=True)
class LiveResult:
    outcomes: tuple[Outcome, ...]
    busy_until: dict[int, float]
    left_at: dict[int, float]
    alerts: list[Alert]
    request_index: dict[str, int]
    errors: Counter[str]
    lost_reasons: dict[int, str]
    booking_refused: int
    real_seconds: float
    setup_ms: list[float] = field(default_factory=list)  # call set-ups with real media
    setup_failed: int = 0
    runner_max_lag_seconds: float = 0.0


@dataclass
class _Patient:
    arrival: Arrival
    request_id: str | None = None
    accepted_at: float | None = None
    left_at: float | None = None
    lost: str | None = None
    connected: bool = False
    gone: bool = False  # left (cancelled, dropped for good): the server may end the request
    accepted: asyncio.Event = field(default_factory=asyncio.Event)
    call_over: asyncio.Event = field(default_factory=asyncio.Event)
    known: asyncio.Event = field(default_factory=asyncio.Event)


class LiveRun:
    """One replay of ``trace`` with ``roster`` against the server at ``base``."""

    def __init__(
        self,
        base: str,
        sim: SimTime,
        trace: Sequence[Arrival],
        roster: Sequence[Sequence[Shift]],
        duration_seconds: float,
        drain_seconds: float,
        grace_seconds: float,
        progress: Callable[[LiveRun], None] | None = None,
        media_share: float = 0.0,
        ice_servers: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self.base = base
        self.sim = sim
        self.trace = trace
        self.roster = roster
        self.duration = duration_seconds
        self.end = duration_seconds + drain_seconds
        self.grace = grace_seconds
        self.patients = [_Patient(a) for a in trace]
        self.declines_left = [a.declines for a in trace]
        self.by_request: dict[str, int] = {}
        self.busy_until: dict[int, float] = {}
        self.alerts: list[Alert] = []
        self.errors: Counter[str] = Counter()
        self.booking_refused = 0
        self._settled: set[int] = set()  # patients with a final outcome (accepted, gone, lost)
        self.all_settled = asyncio.Event()
        self.gps_busy = 0
        self.max_lag = 0.0
        self.media_share = media_share
        self.ice_servers = list(ice_servers)
        self.setup_ms: list[float] = []
        self.setup_failed = 0
        self.first_frames: dict[int, asyncio.Event] = {}
        self._media_tasks: set[asyncio.Task[None]] = set()
        self._progress = progress
        self._http: aiohttp.ClientSession | None = None
        self._clients: list[socketio.AsyncClient] = []
        if not trace:
            self.all_settled.set()

    # -- plumbing --------------------------------------------------------------------------

    @property
    def http(self) -> aiohttp.ClientSession:
        assert self._http is not None
        return self._http

    async def login(self, email: str) -> str:
        for attempt in range(3):
            async with self.http.post(
                f"{self.base}/api/auth/login", json={"email": email, "password": LOAD_PASSWORD}
            ) as resp:
                body = await resp.json()
                if resp.status == 200:
                    return str(body["access_token"])
                code = str(body.get("error", {}).get("code", resp.status))
                self.errors[f"login:{code}"] += 1
            await asyncio.sleep(0.2 * (attempt + 1))
        raise RuntimeError(f"login refused for a load account ({code})")

    async def connect(self, token: str, handlers: dict[str, Any]) -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False)
        for event, handler in handlers.items():
            client.on(event, handler)
        await client.connect(
            self.base, auth={"token": token}, transports=["websocket"], wait_timeout=ACK_TIMEOUT
        )
        self._clients.append(client)
        return client

    async def call(self, client: socketio.AsyncClient, event: str, payload: Any) -> dict[str, Any]:
        try:
            ack = await client.call(event, payload, timeout=ACK_TIMEOUT)
        except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError) as exc:
            self.errors[f"{event}:{type(exc).__name__}"] += 1
            return {"ok": False, "error": {"code": type(exc).__name__}}
        if not isinstance(ack, dict):
            self.errors[f"{event}:bad_ack"] += 1
            return {"ok": False, "error": {"code": "bad_ack"}}
        if not ack.get("ok"):
            self.errors[f"{event}:{ack.get('error', {}).get('code')}"] += 1
        return ack

    @property
    def settled(self) -> int:
        """Patients whose outcome is known."""
        return len(self._settled)

    def _settle(self, p: _Patient) -> None:
        """Count a patient once, when its outcome is known (or its life is over)."""
        if p.arrival.index in self._settled:
            return
        self._settled.add(p.arrival.index)
        if len(self._settled) == len(self.patients):
            self.all_settled.set()

    def register(self, request_id: str, index: int) -> None:
        self.by_request[request_id] = index
        patient = self.patients[index]
        patient.request_id = request_id
        patient.known.set()

    async def index_of(self, request_id: str) -> int | None:
        """The trace index of a request; an offer can overtake the patient's acknowledgement."""
        deadline = time.monotonic() + 3.0
        while request_id not in self.by_request and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return self.by_request.get(request_id)

    # -- the run ---------------------------------------------------------------------------

    async def run(self) -> LiveResult:
        started = time.monotonic()
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            self._http = http
            await self._post_roster()
            gps = [_Gp(self, i, shifts) for i, shifts in enumerate(self.roster)]
            await asyncio.gather(*(gp.start() for gp in gps))
            observer = await self._observe()
            tasks = [asyncio.create_task(gp.life()) for gp in gps]
            tasks += [asyncio.create_task(self._patient(p)) for p in self.patients]
            ticker = asyncio.create_task(self._tick())
            try:
                await self._until_done()
            finally:
                for task in [*tasks, ticker]:
                    task.cancel()
                await asyncio.gather(*tasks, ticker, return_exceptions=True)
                for task in tasks:
                    if task.done() and not task.cancelled() and task.exception() is not None:
                        exc = task.exception()
                        self.errors[f"task:{type(exc).__name__}"] += 1
                        logger.error("a simulated client failed: %r", exc)
                for media in list(self._media_tasks):
                    media.cancel()
                await asyncio.gather(*self._media_tasks, return_exceptions=True)
                await asyncio.gather(
                    *(c.disconnect() for c in [*self._clients, observer] if c.connected),
                    return_exceptions=True,
                )
        return self._result(time.monotonic() - started)

    async def _until_done(self) -> None:
        """Until every request has its outcome (or the drain ends), and the day is over."""
        settled = asyncio.create_task(self.all_settled.wait())
        try:
            await asyncio.wait_for(asyncio.shield(settled), max(0.0, self.sim.real_delay(self.end)))
        except TimeoutError:
            pass
        finally:
            settled.cancel()

    async def _tick(self) -> None:
        """Progress, and the runner's own event-loop lag: a slow load generator would make the
        simulated GPs miss offers and skew the result."""
        while True:
            if self._progress is not None:
                self._progress(self)
            before = time.monotonic()
            await asyncio.sleep(0.25)
            self.max_lag = max(self.max_lag, time.monotonic() - before - 0.25)

    async def _post_roster(self) -> None:
        """The supervisor rosters the load GPs (appointments are bookable only where GPs are
        rostered), in pieces of at most 24 hours."""
        token = await self.login(SUPERVISOR)
        headers = {"Authorization": f"Bearer {token}"}
        horizon = max((s.end for shifts in self.roster for s in shifts), default=0.0)
        for i, shifts in enumerate(self.roster):
            for shift in shifts:
                start = shift.start
                # Rostered half an hour past the run, so the last slots are bookable.
                until = shift.end + 1800.0 if shift.end >= horizon else shift.end
                while start < until:
                    end = min(until, start + 24 * 3600.0)
                    body = {
                        "gp_email": gp_email(i),
                        "start": self.sim.business(start).isoformat(),
                        "end": self.sim.business(end).isoformat(),
                    }
                    async with self.http.post(
                        f"{self.base}/api/roster", json=body, headers=headers
                    ) as resp:
                        if resp.status != 201:
                            self.errors[f"roster:{resp.status}"] += 1
                    start = end

    async def _observe(self) -> socketio.AsyncClient:
        async def on_alert(data: Any) -> None:
            now = self.sim.now()
            for alert in data.get("alerts", []) if isinstance(data, dict) else []:
                predicted = alert.get("predicted_start")
                self.alerts.append(
                    Alert(
                        str(alert.get("request_id")),
                        now,
                        self.sim.seconds(datetime.fromisoformat(alert["deadline"])),
                        self.sim.seconds(datetime.fromisoformat(predicted)) if predicted else None,
                    )
                )

        return await self.connect(await self.login(OBSERVER), {"sla:alert": on_alert})

    # -- a patient -------------------------------------------------------------------------

    async def _patient(self, p: _Patient) -> None:
        try:
            await self._patient_life(p)
        except Exception as exc:  # one simulated patient failing must not stop the run
            if p.accepted_at is None and p.left_at is None and p.lost is None:
                p.lost = f"client error: {type(exc).__name__}"
            raise
        finally:
            self._settle(p)

    async def _patient_life(self, p: _Patient) -> None:
        a = p.arrival
        email = patient_email(a.index)
        immediate = a.kind == "immediate"
        if not immediate:
            await self.sim.sleep_until(a.time - BOOK_AHEAD_SECONDS)
            token = await self.login(email)
            immediate = not await self._book(token, a)
        else:
            await asyncio.sleep(max(0.0, self.sim.real_delay(a.time) - LOGIN_AHEAD_REAL))
            token = await self.login(email)
        client = await self._patient_socket(p, token)
        if immediate:
            await self.sim.sleep_until(a.due if a.kind == "appointment" else a.time)
            if a.channel == "phone":
                ack = await self.call(
                    client, "patient:request_phone", {"phone_number": patient_mobile(a.index)}
                )
            else:
                payload = {"media": "audio"} if a.channel == "audio" else {}
                ack = await self.call(client, "patient:request_video", payload)
            if not ack.get("ok"):
                p.lost = f"refused: {ack.get('error', {}).get('code')}"
                return
            self.register(str(ack["request"]["id"]), a.index)
        await self._wait_in_queue(p, client, token)
        if p.accepted_at is not None:  # stay in the call until the GP hangs up
            self._settle(p)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(p.call_over.wait(), max(0.0, self.sim.real_delay(self.end)))
        with contextlib.suppress(Exception):
            await client.disconnect()

    async def _book(self, token: str, a: Arrival) -> bool:
        slot = self.sim.business(a.due).astimezone(PARIS).isoformat()
        async with self.http.post(
            f"{self.base}/api/appointments",
            json={"slot_start": slot},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            if resp.status == 201:
                return True
            body = await resp.json()
            self.errors[f"booking:{body.get('error', {}).get('code', resp.status)}"] += 1
            self.booking_refused += 1
            return False

    async def _patient_socket(self, p: _Patient, token: str) -> socketio.AsyncClient:
        async def on_state(data: Any) -> None:
            request = data.get("request") if isinstance(data, dict) else None
            if not isinstance(request, dict):
                return
            request_id = str(request.get("id"))
            if p.request_id is None and p.arrival.kind == "appointment":
                if request.get("state") not in _ENDED:
                    self.register(request_id, p.arrival.index)
            if request_id != p.request_id:
                return
            state = request.get("state")
            if state in _ENDED or state == "wrap_up":
                p.call_over.set()
            if state in _ENDED and p.accepted_at is None and not p.gone and p.lost is None:
                # Ended by the server while its patient was still there.
                p.lost = f"ended by the server: {state} ({request.get('ended_reason')})"
                self._settle(p)

        async def on_ended(data: Any) -> None:
            p.call_over.set()

        async def on_signal(data: Any) -> None:
            if (
                isinstance(data, dict)
                and data.get("type") == "offer"
                and self.with_media(p.arrival.index)
            ):
                callee = CalleePeer(self.ice_servers, lambda d: self.call(client, "rtc:signal", d))
                frame = self.first_frames.setdefault(p.arrival.index, asyncio.Event())
                self.background(self._answer(callee, data, frame))

        client = await self.connect(
            token, {"patient:state": on_state, "call:ended": on_ended, "rtc:signal": on_signal}
        )
        return client

    def with_media(self, index: int) -> bool:
        """Whether this request's call uses real WebRTC peers: a spread-out share of the video
        calls (the golden-ratio sequence)."""
        arrival = self.trace[index]
        return arrival.channel == "video" and (index * 0.6180339887) % 1.0 < self.media_share

    def background(self, job: Awaitable[None]) -> None:
        task = asyncio.ensure_future(job)
        self._media_tasks.add(task)
        task.add_done_callback(self._media_tasks.discard)

    async def _answer(self, callee: CalleePeer, offer: Any, frame: asyncio.Event) -> None:
        try:
            await asyncio.wait_for(callee.answer(offer), SETUP_TIMEOUT)
            frame.set()
        except Exception as exc:  # counted as a failed set-up by the caller's side
            logger.warning("media callee failed: %r", exc)
        finally:
            await callee.close()

    async def setup_call(self, index: int, caller: CallerPeer, accepted_real: float) -> None:
        """Time the set-up of one call with real media (both sides)."""
        frame = self.first_frames.setdefault(index, asyncio.Event())
        try:
            await asyncio.wait_for(caller.connect(), SETUP_TIMEOUT)
            await asyncio.wait_for(frame.wait(), SETUP_TIMEOUT)
            self.setup_ms.append((time.monotonic() - accepted_real) * 1000.0)
        except Exception as exc:
            self.setup_failed += 1
            logger.warning("media set-up failed: %r", exc)
        finally:
            await caller.close()

    async def _wait_in_queue(self, p: _Patient, client: socketio.AsyncClient, token: str) -> None:
        a = p.arrival
        leave_at = a.due + a.patience_seconds
        drop_at = math.inf  # a phone callback needs no open page: a drop changes nothing
        if a.disconnect_after_seconds is not None and a.channel != "phone":
            drop_at = a.time + a.disconnect_after_seconds
        while p.lost is None:
            next_t = min(leave_at, drop_at, self.end)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(p.accepted.wait(), max(0.0, self.sim.real_delay(next_t)))
            if p.accepted.is_set() or p.lost is not None or next_t >= self.end:
                return
            if next_t == leave_at:  # out of patience
                if p.request_id is None:
                    await asyncio.wait_for(p.known.wait(), ACK_TIMEOUT)
                p.gone = True
                ack = await self.call(client, "patient:cancel", {"request_id": p.request_id})
                if ack.get("ok"):
                    p.left_at = leave_at
                else:  # taken by a GP at that very instant
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(p.accepted.wait(), 3.0)
                    if not p.accepted.is_set():
                        p.lost = f"cancel refused: {ack.get('error', {}).get('code')}"
                return
            # The connection drops.
            drop_at = math.inf
            await client.disconnect()
            back = a.reconnect_after_seconds
            if back is None or back > self.grace:
                p.gone = True  # gone for good, or back too late: the grace period ends it
                p.left_at = min(leave_at, a.time + (a.disconnect_after_seconds or 0) + self.grace)
                with contextlib.suppress(TimeoutError):  # a GP may still take it in the grace
                    await asyncio.wait_for(
                        p.accepted.wait(), max(0.0, self.sim.real_delay(p.left_at))
                    )
                if p.accepted.is_set():
                    p.left_at = None
                return
            await self.sim.sleep_until(self.sim.now() + back)
            if p.accepted.is_set():
                return
            client = await self._patient_socket(p, token)

    # -- results ---------------------------------------------------------------------------

    def accepted(self, index: int, at: float) -> None:
        p = self.patients[index]
        if p.accepted_at is not None:
            self.errors["accepted_twice"] += 1
            return
        p.accepted_at = at
        p.left_at = None
        p.accepted.set()
        self._settle(p)

    def _result(self, real_seconds: float) -> LiveResult:
        outcomes = []
        lost_reasons = {}
        left_at = {}
        for p in self.patients:
            a = p.arrival
            if p.accepted_at is not None:
                outcomes.append(
                    Outcome(a.index, "served", p.accepted_at - a.due, None, p.accepted_at)
                )
            elif p.lost is not None:
                outcomes.append(Outcome(a.index, "lost", None))
                lost_reasons[a.index] = p.lost
            elif p.left_at is not None:
                outcomes.append(Outcome(a.index, "abandoned", p.left_at - a.due))
                left_at[a.index] = p.left_at
            else:
                outcomes.append(Outcome(a.index, "unserved", None))
        return LiveResult(
            tuple(outcomes),
            dict(self.busy_until),
            left_at,
            list(self.alerts),
            dict(self.by_request),
            self.errors,
            lost_reasons,
            self.booking_refused,
            real_seconds,
            list(self.setup_ms),
            self.setup_failed,
            self.max_lag,
        )


class _Gp:
    """One simulated GP: connected all day, available on shift."""

    def __init__(self, run: LiveRun, index: int, shifts: Sequence[Shift]) -> None:
        self.run = run
        self.index = index
        self.shifts = shifts
        self.on_shift = False
        self.busy = False  # holding an offer, in a call or writing up
        self.status = "unavailable"
        self.client: socketio.AsyncClient | None = None
        self.lock = asyncio.Lock()
        self.handled: set[str] = set()
        self.caller: CallerPeer | None = None

    async def start(self) -> None:
        token = await self.run.login(gp_email(self.index))
        self.client = await self.run.connect(
            token, {"gp:state": self._on_state, "rtc:signal": self._on_signal}
        )

    async def _on_signal(self, data: Any) -> None:
        if isinstance(data, dict) and self.caller is not None:
            self.caller.on_signal(data)

    async def life(self) -> None:
        for shift in self.shifts:
            await self.run.sim.sleep_until(shift.start)
            self.on_shift = True
            if not self.busy:
                await self._send("gp:available")
            await self.run.sim.sleep_until(min(shift.end, self.run.end))
            self.on_shift = False
            if not self.busy:
                await self._send("gp:unavailable")

    async def _send(self, event: str, payload: Any = None) -> dict[str, Any]:
        assert self.client is not None
        return await self.run.call(self.client, event, {} if payload is None else payload)

    async def _on_state(self, state: Any) -> None:
        if not isinstance(state, dict):
            return
        self.status = str(state.get("status"))
        offer = state.get("offer")
        if self.status == "offered" and isinstance(offer, dict):
            request_id = str(offer.get("request_id"))
            if request_id not in self.handled:
                self.handled.add(request_id)
                asyncio.create_task(self._take(request_id))
        elif self.status in ("unavailable", "paused") and self.on_shift and not self.busy:
            asyncio.create_task(self._send("gp:available"))

    async def _take(self, request_id: str) -> None:
        async with self.lock:
            self.busy = True
            try:
                await self._consult(request_id)
            finally:
                self.busy = False
            if self.on_shift:
                await self._send("gp:available")
            elif self.status != "unavailable":
                await self._send("gp:unavailable")

    async def _consult(self, request_id: str) -> None:
        run = self.run
        index = await run.index_of(request_id)
        if index is not None and run.declines_left[index] > 0:
            run.declines_left[index] -= 1
            self.handled.discard(request_id)  # it may come back to this GP
            await self._send("offer:decline", {"request_id": request_id})
            return
        ack = await self._send("offer:accept", {"request_id": request_id})
        if not ack.get("ok"):
            return  # the patient left, or the offer expired: the server re-dispatches
        accepted = run.sim.now()
        accepted_real = time.monotonic()
        if index is None:
            run.errors["unknown_request_accepted"] += 1
            return
        run.accepted(index, accepted)
        arrival = run.trace[index]
        run.gps_busy += 1
        try:
            phone = ack.get("room_id") is None  # a phone task has no call room
            if phone:
                await self._send("phone:outcome", {"request_id": request_id, "outcome": "reached"})
            else:
                media = "audio" if arrival.channel == "audio" else "video"
                if run.with_media(index):
                    client = self.client
                    assert client is not None
                    self.caller = CallerPeer(
                        run.ice_servers,
                        ack["room_id"],
                        lambda d: run.call(client, "rtc:signal", d),
                    )
                    run.background(run.setup_call(index, self.caller, accepted_real))
                await self._send("call:connected", {"room_id": ack["room_id"], "media": media})
            await run.sim.sleep_until(accepted + arrival.service_seconds)
            if phone:
                await self._send("phone:end", {"request_id": request_id})
            else:
                await self._send("call:hangup", {"room_id": ack["room_id"]})
            free = accepted + arrival.service_seconds + arrival.wrap_up_seconds
            run.busy_until[index] = free
            await run.sim.sleep_until(free)
        finally:
            run.gps_busy -= 1
