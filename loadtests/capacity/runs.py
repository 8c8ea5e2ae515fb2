"""The capacity runs: each starts its own processes, measures, stops them all, returns figures."""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from loadtests.capacity.population import Population, seed_population
from loadtests.capacity.procs import (
    GeneratorProc,
    Node,
    Processes,
    can_pin,
    cpu_seconds,
    open_fds,
    rss_bytes,
)

PER_GENERATOR = 5000
"""Clients per generator process: far under the 20,000 open files a process may hold."""
STEP_TIMEOUT = 60.0
PAIR_TIMEOUT = 10.0
"""Bound of one step of making a call room (a failure is counted, the next pair goes on)."""
"""Bound of one awaited client step (connect, ack, offer)."""


@dataclass
class Common:
    tuning: bool = True
    uvloop: bool = False
    size: int = 1500
    keep: bool = False
    """Keep the work directory (logs) instead of deleting it."""
    profile: Path | None = None
    """Record each server process with py-spy during the measured phase, into this folder."""


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def summary_ms(values: list[float]) -> dict[str, float | None]:
    return {
        "p50_ms": pct(values, 0.50),
        "p90_ms": pct(values, 0.90),
        "p99_ms": pct(values, 0.99),
        "max_ms": round(max(values), 2) if values else None,
    }


def start_profiles(
    common: Common, nodes: list[Node], seconds: float | None, label: str
) -> list[Any]:
    """py-spy on each server process (collapsed stacks, from outside the process), for
    ``seconds``, or until ``stop_profiles`` interrupts it (``seconds`` None: a phase of unknown
    length, such as a ramp step's connects)."""
    if common.profile is None:
        return []
    import subprocess
    import sys

    spy = Path(sys.executable).parent / "py-spy"
    common.profile.mkdir(parents=True, exist_ok=True)
    procs = []
    for i, node in enumerate(nodes):
        out = common.profile / f"{label}-node{i}.txt"
        argv = [str(spy), "record", "--pid", str(node.pid)]
        argv += ["--duration", str(int(seconds))] if seconds is not None else []
        argv += ["--rate", "250", "--nonblocking", "--format", "raw", "-o", str(out)]
        procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return procs


def stop_profiles(procs: list[Any], interrupt: bool = False) -> None:
    """Wait for each py-spy to write its file; ``interrupt`` ends an open-ended recording first
    (py-spy writes what it has on SIGINT)."""
    import signal

    for proc in procs:
        if interrupt and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except Exception:
            proc.kill()
            proc.wait(5)


class Sampler:
    """Polls the server processes while a phase runs: /proc (CPU, RSS, fds) and each node's
    longest recent event-loop lag (``tc_event_loop_lag_recent_max_seconds``)."""

    def __init__(self, nodes: list[Node], http: aiohttp.ClientSession | None) -> None:
        self.nodes = nodes
        self.http = http
        self.max_lag = 0.0
        self.max_rss = 0
        self.max_fds = 0
        self._task: asyncio.Task[None] | None = None
        self._cpu0 = 0.0
        self._t0 = 0.0
        self._gc0: dict[str, float] = {}

    def cpu(self) -> float:
        return sum(cpu_seconds(n.pid) for n in self.nodes)

    def rss(self) -> int:
        return sum(rss_bytes(n.pid) for n in self.nodes)

    def fds(self) -> int:
        return sum(open_fds(n.pid) for n in self.nodes)

    async def _poll(self) -> None:
        while True:
            self.max_rss = max(self.max_rss, self.rss())
            self.max_fds = max(self.max_fds, self.fds())
            if self.http is not None:
                for node in self.nodes:
                    with contextlib.suppress(Exception):
                        m = await asyncio.wait_for(node.metrics(self.http), 5)
                        self.max_lag = max(
                            self.max_lag, m.get("tc_event_loop_lag_recent_max_seconds", 0.0)
                        )
            await asyncio.sleep(1.0)

    async def _gc_counts(self) -> dict[str, float]:
        """Garbage collections so far and those that took under 100 ms, by generation."""
        out: dict[str, float] = {}
        if self.http is None:
            return out
        for node in self.nodes:
            with contextlib.suppress(Exception):
                m = await asyncio.wait_for(node.metrics(self.http), 15)
                for g in "012":
                    for key in (
                        f'tc_gc_pause_seconds_count{{generation="{g}"}}',
                        f'tc_gc_pause_seconds_bucket{{generation="{g}",le="0.1"}}',
                    ):
                        out[key] = out.get(key, 0.0) + m.get(key, 0.0)
        return out

    def start(self) -> None:
        self.max_lag = 0.0
        self.max_rss = self.max_fds = 0
        self._cpu0 = self.cpu()
        self._t0 = time.monotonic()
        self._task = asyncio.create_task(self._poll())

    async def start_gc(self) -> None:
        self._gc0 = await self._gc_counts()

    async def stop(self) -> dict[str, Any]:
        cpu = self.cpu() - self._cpu0
        wall = time.monotonic() - self._t0
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._final_lag()
        gc1 = await self._gc_counts()
        slow_gc = {}
        for g in "012":
            count = f'tc_gc_pause_seconds_count{{generation="{g}"}}'
            quick = f'tc_gc_pause_seconds_bucket{{generation="{g}",le="0.1"}}'
            slow = (gc1.get(count, 0) - self._gc0.get(count, 0)) - (
                gc1.get(quick, 0) - self._gc0.get(quick, 0)
            )
            slow_gc[g] = int(slow)
        return {
            "gc_pauses_over_100ms": slow_gc,
            "server_cpu_seconds": round(cpu, 3),
            "wall_seconds": round(wall, 3),
            "server_cpu_share": round(cpu / wall, 3) if wall else None,
            "longest_loop_pause_ms": round(self.max_lag * 1000, 1) if self.http else None,
            "max_rss_mb": round(self.max_rss / 2**20, 1),
            "max_fds": self.max_fds,
        }

    async def _final_lag(self) -> None:
        if self.http is None:
            return
        for node in self.nodes:
            with contextlib.suppress(Exception):
                m = await asyncio.wait_for(node.metrics(self.http), 5)
                self.max_lag = max(self.max_lag, m.get("tc_event_loop_lag_recent_max_seconds", 0))


async def _all(gens: list[GeneratorProc], wait: float, /, **cmd: Any) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(g.call(wait, **cmd) for g in gens)))


def _merge_connect(replies: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    took = [t for r in replies for t in r["connect_ms"]]
    connected = sum(r["connected"] for r in replies)
    errors: dict[str, int] = {}
    for r in replies:
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    return {
        "connected": connected,
        "failed": sum(r["failed"] for r in replies),
        "errors": errors,
        "seconds": round(seconds, 3),
        "per_second": round(connected / seconds, 1) if seconds else None,
        "connect_to_state": summary_ms(took),
    }


class Run:
    """The processes of one run, stopped whatever happens."""

    def __init__(self, common: Common, label: str) -> None:
        self.common = common
        self.work = Path(tempfile.mkdtemp(prefix=f"capacity-{label}-"))
        self.procs = Processes(self.work)
        self.secret = secrets.token_urlsafe(48)
        self.http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Run:
        self.http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await self.procs.stop_generators()
        self.procs.stop_all()
        if self.http is not None:
            await self.http.close()
        if not self.common.keep:
            shutil.rmtree(self.work, ignore_errors=True)

    async def servers(
        self, nodes: int, pop_args: tuple[int, int, int]
    ) -> tuple[list[Node], Population]:
        pop = await seed_population(self.work / "data", *pop_args)
        _, redis_url = self.procs.start_redis()
        started = [
            self.procs.start_server(
                f"node{i}",
                self.work / "data",
                redis_url,
                self.secret,
                self.common.tuning,
                self.common.uvloop,
            )
            for i in range(nodes)
        ]
        return started, pop

    def ws(self, node: Node) -> str:
        return node.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"


def _spread(items: list[dict[str, Any]], generators: int) -> list[list[dict[str, Any]]]:
    """Consecutive slices (pairs stay in one generator: items come as patient, GP, ...)."""
    per = math.ceil(len(items) / generators / 2) * 2
    return [items[i * per : (i + 1) * per] for i in range(generators)]


async def relay(
    common: Common,
    pairs: int,
    rate: float,
    seconds: float,
    nodes: int = 1,
    cross: bool = False,
    raw: bool = False,
    generators: int = 2,
    warmup: float = 3.0,
) -> dict[str, Any]:
    """rtc:signal at a fixed rate between the members of ``pairs`` call rooms (made through the
    protocol), or the same frames through the raw relay (``raw``)."""
    label = "raw" if raw else f"relay{nodes}{'x' if cross else ''}"
    result: dict[str, Any] = {
        "run": "ceiling" if raw else "relay",
        "nodes": 0 if raw else nodes,
        "cross_node": cross,
        "pairs": pairs,
        "rate": rate,
        "seconds": seconds,
        "payload_bytes": common.size,
        "tuning": common.tuning,
        "uvloop": common.uvloop,
    }
    async with Run(common, label) as run:
        specs: list[dict[str, Any]] = []
        if raw:
            node = run.procs.start_raw_relay(common.uvloop)
            servers = [node]
            base = node.url.replace("http://", "ws://")
            for i in range(pairs):
                for role in ("patient", "physician"):
                    specs.append(
                        {
                            "user_id": f"{role}{i}",
                            "role": role,
                            "url": f"{base}/relay?pair={i}",
                            "room_id": f"pair{i}",
                        }
                    )
        else:
            servers, pop = await run.servers(nodes, (0, pairs, pairs))
            for i, (patient, gp) in enumerate(zip(pop.patients, pop.gps, strict=True)):
                home = servers[i % nodes]
                away = servers[(i + 1) % nodes] if cross else home
                specs.append({"user_id": patient, "role": "patient", "url": run.ws(home)})
                specs.append({"user_id": gp, "role": "physician", "url": run.ws(away)})
        await asyncio.sleep(2)
        idle_rss = sum(rss_bytes(n.pid) for n in servers)
        gens = await run.procs.start_generators(generators, run.secret)
        for gen, part in zip(gens, _spread(specs, generators), strict=True):
            await gen.call(60, cmd="init", clients=part, raw=raw)
        started = time.monotonic()
        connect = await _all(gens, 300, cmd="connect", concurrency=50, timeout=STEP_TIMEOUT)
        result["connect"] = _merge_connect(connect, time.monotonic() - started)
        if not raw:
            made = []
            for gen in gens:  # one generator at a time: the dispatcher pairs only its two
                made.append(await gen.call(900, cmd="pair", timeout=PAIR_TIMEOUT))
            result["pairing"] = {
                "pairs": sum(m["pairs"] for m in made),
                "members_in_rooms": sum(m["in_rooms"] for m in made),
                "failed": sum(m["failed"] for m in made),
                "mismatched": sum(m["mismatched"] for m in made),
                "errors": [m["errors"] for m in made if m["errors"]],
                "seconds": round(sum(m["seconds"] for m in made), 2),
            }
        per_gen = rate / generators
        if warmup > 0:
            await _all(
                gens, warmup + 60, cmd="relay", rate=per_gen, seconds=warmup, size=common.size
            )
        sampler = Sampler(servers, None if raw else run.http)
        sampler.start()
        await sampler.start_gc()
        spies = start_profiles(common, servers, seconds, label)
        replies = await _all(
            gens, seconds + 120, cmd="relay", rate=per_gen, seconds=seconds, size=common.size
        )
        measured = await sampler.stop()
        stop_profiles(spies)
        sent = sum(r["sent"] for r in replies)
        received = sum(r["received"] for r in replies)
        latencies = [v for r in replies for v in r["latency_ms"]]
        elapsed = max(r["elapsed"] for r in replies)
        result.update(
            {
                "sent": sent,
                "received": received,
                "acked": sum(r["acked"] for r in replies),
                "ack_errors": sum(r["ack_errors"] for r in replies),
                "send_errors": sum(r["send_errors"] for r in replies),
                "lost": sent - received,
                "achieved_rate": round(received / elapsed, 1) if elapsed else None,
                "latency": summary_ms(latencies),
                **measured,
                "server_cpu_us_per_message": (
                    round(measured["server_cpu_seconds"] / received * 1e6, 1) if received else None
                ),
                "rss_per_connection_kb": round(
                    (sampler.rss() - idle_rss) / max(1, result["connect"]["connected"]) / 1024, 1
                ),
            }
        )
    return result


async def ramp(
    common: Common,
    clients: int,
    step: int,
    hold: float,
    movers: int = 2,
    move_interval: float = 0.5,
    nodes: int = 1,
) -> dict[str, Any]:
    """Waiting patients connect in steps up to ``clients``; between steps ``movers`` GPs serve
    the head of the queue, so every patient's place changes and the node pushes updates.
    ``nodes`` 2 spreads the patients over two server processes (both on the server core): one
    process may hold fewer than 20,000 sockets here (open-file limit)."""
    generators = max(1, math.ceil(clients / PER_GENERATOR))
    steps: list[dict[str, Any]] = []
    result: dict[str, Any] = {
        "run": "ramp",
        "clients": clients,
        "step": step,
        "hold_seconds": hold,
        "movers": movers,
        "nodes": nodes,
        "tuning": common.tuning,
        "uvloop": common.uvloop,
        "generators": generators,
        "steps": steps,
    }
    async with Run(common, "ramp") as run:
        servers, pop = await run.servers(nodes, (clients, 0, movers))
        await asyncio.sleep(3)
        sampler = Sampler(servers, run.http)
        base_rss = sampler.rss()
        result["idle_rss_mb"] = round(base_rss / 2**20, 1)
        gens = await run.procs.start_generators(generators, run.secret)
        mover_specs = [
            {"user_id": g, "role": "physician", "url": run.ws(servers[0])} for g in pop.gps
        ]
        parts: list[list[dict[str, Any]]] = [[] for _ in gens]
        for i, patient in enumerate(pop.waiting):
            url = run.ws(servers[(i // generators) % nodes])
            parts[i % generators].append({"user_id": patient, "role": "patient", "url": url})
        parts[0] = mover_specs + parts[0]
        for gen, part in zip(gens, parts, strict=True):
            await gen.call(120, cmd="init", clients=part)
        await gens[0].call(60, cmd="connect", start=0, stop=movers, timeout=STEP_TIMEOUT)
        offsets = [movers] + [0] * (generators - 1)
        connected = 0
        deadline = time.monotonic() + 3600
        while connected < clients and time.monotonic() < deadline:
            n = min(step, clients - connected)
            share = [n // generators + (1 if i < n % generators else 0) for i in range(generators)]
            label = f"ramp-step{len(steps) + 1}"
            sampler.start()
            await sampler.start_gc()
            started = time.monotonic()
            spies = start_profiles(common, servers, None, f"{label}-connect")
            replies = await asyncio.gather(
                *(
                    g.call(
                        900,
                        cmd="connect",
                        start=offsets[i],
                        stop=offsets[i] + share[i],
                        concurrency=100,
                        timeout=STEP_TIMEOUT,
                    )
                    for i, g in enumerate(gens)
                )
            )
            stop_profiles(spies, interrupt=True)
            conn = _merge_connect(list(replies), time.monotonic() - started)
            during = await sampler.stop()
            conn["server_cpu_ms_per_connect"] = round(
                during["server_cpu_seconds"] / max(1, conn["connected"]) * 1000, 2
            )
            conn["server_cpu_share"] = during["server_cpu_share"]
            conn["longest_loop_pause_ms"] = during["longest_loop_pause_ms"]
            conn["gc_pauses_over_100ms"] = during["gc_pauses_over_100ms"]
            offsets = [o + s for o, s in zip(offsets, share, strict=True)]
            connected += conn["connected"]
            await _all(gens, 60, cmd="stats", reset=True)
            sampler.start()
            await sampler.start_gc()
            spies = start_profiles(common, servers, hold, f"{label}-hold")
            moved = asyncio.create_task(
                gens[0].call(
                    hold + 120, cmd="move", seconds=hold, interval=move_interval, timeout=10
                )
            )
            await asyncio.sleep(hold)
            served = await moved
            measured = await sampler.stop()
            stop_profiles(spies)
            stats = await _all(gens, 60, cmd="stats", reset=True)
            updates = sum(s["events"].get("patient:state", 0) for s in stats)
            rss = sampler.rss()
            steps.append(
                {
                    "connected": connected,
                    "open": sum(s["open"] for s in stats),
                    "connect": conn,
                    "served_by_movers": served["served"],
                    "mover_failures": served["failures"],
                    "patient_updates_per_second": round(updates / measured["wall_seconds"], 1),
                    "rss_mb": round(rss / 2**20, 1),
                    "rss_per_connection_kb": round((rss - base_rss) / max(1, connected) / 1024, 1),
                    "fds": sampler.fds(),
                    **measured,
                }
            )
            print(_ramp_line(steps[-1]), flush=True)
            if conn["connected"] == 0:
                result["stopped"] = "a step connected nobody"
                break
    return result


def _ramp_line(s: dict[str, Any]) -> str:
    return (
        f"  ramp {s['connected']:>6} connected: {s['connect']['per_second']} connects/s "
        f"(cpu {s['connect']['server_cpu_share']:.0%}, "
        f"pause {s['connect']['longest_loop_pause_ms']} ms), "
        f"{s['rss_per_connection_kb']} KB/conn, {s['fds']} fds, "
        f"hold: pause {s['longest_loop_pause_ms']} ms, cpu {s['server_cpu_share']:.0%}, "
        f"gc>100ms {s['gc_pauses_over_100ms']}, "
        f"{s['patient_updates_per_second']} updates/s"
        + (
            f", {s['connect']['failed']} failed {s['connect']['errors']}"
            if s["connect"]["failed"]
            else ""
        )
    )


async def storm(common: Common, clients: int, rounds: int = 1) -> dict[str, Any]:
    """``clients`` waiting patients connected; every connection dropped at once (no close
    frame) and every client reconnecting at once; absorbed when the last one has its state."""
    generators = max(1, math.ceil(clients / PER_GENERATOR))
    result: dict[str, Any] = {
        "run": "storm",
        "clients": clients,
        "tuning": common.tuning,
        "uvloop": common.uvloop,
        "rounds": [],
    }
    async with Run(common, "storm") as run:
        servers, pop = await run.servers(1, (clients, 0, 0))
        node = servers[0]
        gens = await run.procs.start_generators(generators, run.secret)
        parts: list[list[dict[str, Any]]] = [[] for _ in gens]
        for i, patient in enumerate(pop.waiting):
            parts[i % generators].append(
                {"user_id": patient, "role": "patient", "url": run.ws(node)}
            )
        for gen, part in zip(gens, parts, strict=True):
            await gen.call(120, cmd="init", clients=part)
        started = time.monotonic()
        first = await _all(gens, 900, cmd="connect", concurrency=100, timeout=STEP_TIMEOUT)
        result["first_connect"] = _merge_connect(first, time.monotonic() - started)
        await asyncio.sleep(5)
        sampler = Sampler(servers, run.http)
        for i in range(rounds):
            sampler.start()
            await sampler.start_gc()
            spies = start_profiles(common, servers, None, f"storm-round{i + 1}")
            started = time.monotonic()
            replies = await _all(gens, 900, cmd="storm", concurrency=1000, timeout=STEP_TIMEOUT)
            took = time.monotonic() - started
            stop_profiles(spies, interrupt=True)
            merged = _merge_connect(replies, took)
            merged["dropped"] = sum(r["dropped"] for r in replies)
            merged["absorbed_seconds"] = round(max(r["seconds"] for r in replies), 2)
            await asyncio.sleep(2)
            merged.update(await sampler.stop())
            merged["rss_mb"] = round(rss_bytes(node.pid) / 2**20, 1)
            result["rounds"].append(merged)
            await asyncio.sleep(3)
    return result


def machine() -> dict[str, Any]:
    import os
    import platform

    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "pinned": can_pin(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
    }
