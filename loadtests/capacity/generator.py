"""A load generator process: holds up to a few thousand clients (under the 20,000 open-file limit
of a process) and obeys JSON-line commands on stdin, answering one JSON line each on stdout.

Started by the coordinator as ``python -m loadtests.capacity.generator`` (pinned with taskset to
the generators' core). The signing key comes in the environment (``CAPACITY_JWT_SECRET``), never
on a command line or in a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections import Counter
from typing import Any

import aiohttp

from loadtests.capacity.population import mint_tokens
from loadtests.capacity.wire import Client, relay_body, stamp_of

SECRET_ENV = "CAPACITY_JWT_SECRET"


class Generator:
    def __init__(self) -> None:
        self.clients: list[Client] = []
        self.events: Counter[str] = Counter()
        self.latencies_ns: list[int] = []
        self.relayed = 0
        self.offers: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.starts: dict[str, asyncio.Queue[str]] = {}
        self.http: aiohttp.ClientSession | None = None
        self.deflate = False
        self.raw = False

    # -- events -------------------------------------------------------------------------------
    def on_event(self, client: Client, name: str, frame: str) -> None:
        self.events[name] += 1
        if name == "rtc:signal":
            sent = stamp_of(frame)
            if sent is not None:
                self.relayed += 1
                self.latencies_ns.append(time.monotonic_ns() - sent)
        elif name == "call:start":
            payload = json.loads(frame[2:])[1]
            client.room_id = payload["room_id"]
            queue = self.starts.get(client.user_id)
            if queue is not None:
                queue.put_nowait(payload["room_id"])
        elif name == "gp:state" and client.user_id in self.offers:
            payload = json.loads(frame[2:])[1]
            if payload.get("status") == "offered":
                self.offers[client.user_id].put_nowait(payload)

    # -- commands -----------------------------------------------------------------------------
    async def init(self, cmd: dict[str, Any]) -> dict[str, Any]:
        self.raw = bool(cmd.get("raw"))
        self.deflate = bool(cmd.get("deflate"))
        specs = cmd["clients"]
        if self.raw:
            tokens = [""] * len(specs)
        else:
            tokens = mint_tokens(os.environ[SECRET_ENV], [(s["user_id"], s["role"]) for s in specs])
        self.clients = [
            Client(s["url"], t, s["role"], s["user_id"], self.on_event, raw=self.raw)
            for s, t in zip(specs, tokens, strict=True)
        ]
        for client, spec in zip(self.clients, specs, strict=True):
            client.room_id = spec.get("room_id")  # raw relay pairs are "in a room" at once
        connector = aiohttp.TCPConnector(limit=0, force_close=False)
        self.http = aiohttp.ClientSession(connector=connector)
        return {"clients": len(self.clients)}

    async def _connect_many(
        self, clients: list[Client], concurrency: int, timeout: float
    ) -> dict[str, Any]:
        assert self.http is not None
        http = self.http
        gate = asyncio.Semaphore(concurrency)
        took: list[float] = []
        errors: Counter[str] = Counter()
        started = time.perf_counter()

        async def one(client: Client) -> None:
            async with gate:
                try:
                    took.append(await client.connect(http, timeout, self.deflate))
                except Exception as exc:
                    errors[type(exc).__name__ + ": " + str(exc)[:80]] += 1
                    with contextlib.suppress(Exception):
                        await client.close(abort=True)

        await asyncio.gather(*(one(c) for c in clients))
        return {
            "connected": len(took),
            "failed": sum(errors.values()),
            "errors": dict(errors.most_common(3)),
            "seconds": time.perf_counter() - started,
            "connect_ms": sorted(round(t * 1000, 2) for t in took),
        }

    async def connect(self, cmd: dict[str, Any]) -> dict[str, Any]:
        clients = self.clients[cmd.get("start", 0) : cmd.get("stop", len(self.clients))]
        return await self._connect_many(clients, cmd.get("concurrency", 100), cmd["timeout"])

    async def pair(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """Put each patient with a GP in a call room through the real protocol, one pair at a
        time (so the dispatcher can only pair these two): patient:request_video, gp:available,
        the offer arrives, offer:accept, both get call:start."""
        timeout = cmd["timeout"]
        deadline = time.monotonic() + cmd.get("max_seconds", 300)
        patients = [c for c in self.clients if c.role == "patient"]
        gps = [c for c in self.clients if c.role == "physician"]
        made = mismatched = failed = 0
        errors: Counter[str] = Counter()
        started = time.perf_counter()
        paired: list[Client] = []
        for patient, gp in zip(patients, gps, strict=False):
            if time.monotonic() > deadline:
                break
            self.offers[gp.user_id] = asyncio.Queue()
            self.starts[gp.user_id] = asyncio.Queue()
            try:
                ack = await patient.call("patient:request_video", {}, timeout)
                if not ack.get("ok"):
                    raise RuntimeError(f"request_video: {ack.get('error')}")
                request_id = ack["request"]["id"]
                ack = await gp.call("gp:available", {}, timeout)
                if not ack.get("ok"):
                    raise RuntimeError(f"gp:available: {ack.get('error')}")
                offer = await asyncio.wait_for(self.offers[gp.user_id].get(), timeout)
                offered = offer["offer"]["request_id"]
                # Another patient's request (one left by an earlier failure) still makes a
                # room of two members of this process: accept it all the same.
                mismatched += offered != request_id
                ack = await gp.call("offer:accept", {"request_id": offered}, timeout)
                if not ack.get("ok"):
                    raise RuntimeError(f"offer:accept: {ack.get('error')}")
                room = await asyncio.wait_for(self.starts[gp.user_id].get(), timeout)
                if room != ack["room_id"]:
                    raise RuntimeError("call:start for another room")
                made += 1
                paired.append(patient)
            except Exception as exc:
                failed += 1
                errors[f"{type(exc).__name__} {str(exc)[:100]}"] += 1
            finally:
                self.offers.pop(gp.user_id, None)
                self.starts.pop(gp.user_id, None)
        until = time.monotonic() + timeout
        while time.monotonic() < until and any(p.room_id is None for p in paired):
            await asyncio.sleep(0.05)
        in_rooms = sum(1 for c in self.clients if c.room_id is not None)
        return {
            "pairs": made,
            "in_rooms": in_rooms,
            "failed": failed,
            "mismatched": mismatched,
            "errors": dict(errors.most_common(3)),
            "seconds": time.perf_counter() - started,
        }

    async def relay(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """Every client in a room sends rtc:signal to its peer; ``rate`` messages per second in
        all for this process, for ``seconds``; then waits ``drain`` seconds for the last ones."""
        senders = [c for c in self.clients if c.room_id is not None and not c.closed]
        rate, seconds, size = cmd["rate"], cmd["seconds"], cmd.get("size", 1500)
        self.latencies_ns.clear()
        self.relayed = 0
        acked_before = sum(c.acked for c in self.clients)
        errors_before = sum(c.ack_errors for c in self.clients)
        sent = send_errors = 0
        if not senders:
            return {"sent": 0, "error": "no client is in a room"}
        started = time.monotonic()
        stop = started + seconds
        turn = 0
        while (now := time.monotonic()) < stop:
            due = int(rate * (now - started)) - sent
            for _ in range(max(0, min(due, 10_000))):
                client = senders[turn % len(senders)]
                turn += 1
                try:
                    assert client.room_id is not None
                    await client.send_counted("rtc:signal", relay_body(client.room_id, size))
                except Exception:
                    send_errors += 1
                sent += 1
            await asyncio.sleep(0.002)
        elapsed = time.monotonic() - started
        drain_until = time.monotonic() + cmd.get("drain", 3.0)
        while time.monotonic() < drain_until:
            acked = sum(c.acked for c in self.clients) - acked_before
            if acked >= sent - send_errors and self.relayed >= cmd.get("expect", 0):
                break
            await asyncio.sleep(0.05)
        return {
            "sent": sent,
            "send_errors": send_errors,
            "elapsed": elapsed,
            "acked": sum(c.acked for c in self.clients) - acked_before,
            "ack_errors": sum(c.ack_errors for c in self.clients) - errors_before,
            "received": self.relayed,
            "latency_ms": [round(n / 1e6, 3) for n in self.latencies_ns],
        }

    async def move(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """GPs serve the head of the queue (accept, hang up, available again) so every waiting
        patient's place changes: one served request every ``interval`` seconds per GP."""
        gps = [c for c in self.clients if c.role == "physician" and not c.closed]
        timeout, interval = cmd["timeout"], cmd["interval"]
        stop = time.monotonic() + cmd["seconds"]
        served = failures = 0

        async def loop(gp: Client) -> None:
            nonlocal served, failures
            self.offers[gp.user_id] = asyncio.Queue()
            while time.monotonic() < stop:
                began = time.monotonic()
                try:
                    await gp.call("gp:available", {}, timeout)
                    offer = await asyncio.wait_for(self.offers[gp.user_id].get(), timeout)
                    rid = offer["offer"]["request_id"]
                    ack = await gp.call("offer:accept", {"request_id": rid}, timeout)
                    if ack.get("ok") and ack.get("room_id"):
                        await gp.call("call:hangup", {"room_id": ack["room_id"]}, timeout)
                        served += 1
                    else:
                        failures += 1
                except Exception:
                    failures += 1
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - began)))
            self.offers.pop(gp.user_id, None)

        await asyncio.gather(*(loop(gp) for gp in gps))
        return {"served": served, "failures": failures}

    async def storm(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """Drop every connection at once (no close frame: a network cut), then reconnect them
        all at once; reports when the last one had its state pushed again."""
        clients = [c for c in self.clients if c.ws is not None]
        started = time.perf_counter()
        for c in clients:
            await c.close(abort=True)
        result = await self._connect_many(clients, cmd.get("concurrency", 1000), cmd["timeout"])
        result["dropped"] = len(clients)
        result["seconds"] = time.perf_counter() - started
        return result

    async def stats(self, cmd: dict[str, Any]) -> dict[str, Any]:
        out = {
            "events": dict(self.events),
            "open": sum(1 for c in self.clients if c.ws is not None and not c.closed),
        }
        if cmd.get("reset"):
            self.events.clear()
        return out

    async def close(self, cmd: dict[str, Any]) -> dict[str, Any]:
        for c in self.clients:
            with contextlib.suppress(Exception):
                await c.close(abort=bool(cmd.get("abort")))
        if self.http is not None:
            await self.http.close()
        return {"closed": len(self.clients)}


async def serve() -> None:
    gen = Generator()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=256 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = json.loads(line)
        name = cmd["cmd"]
        try:
            if name == "exit":
                await gen.close({"abort": True})  # after the measurement: quick
                print(json.dumps({"ok": True}), flush=True)
                break
            result = await getattr(gen, name)(cmd)
            result["ok"] = True
        except Exception as exc:
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


def main() -> None:
    try:
        import uvloop

        uvloop.run(serve())
    except ImportError:
        asyncio.run(serve())


if __name__ == "__main__":
    main()
