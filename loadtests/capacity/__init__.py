"""Capacity benchmarks (issue 6): ``teleconsult load capacity RUN [options]``.

Runs, each with its own redis-server and server node(s) on free loopback ports, the server on
core 0 and the load generators (separate processes speaking the socket.io wire protocol over
aiohttp websockets) on core 1:

- ``ramp``: waiting patients connect in steps up to ``--clients`` (over ``--nodes`` server
  processes) while GPs serve the head of the
  queue (every place changes, the node pushes updates): connects/s with JWT checks, memory per
  connection, file descriptors, longest event-loop pause, server CPU.
- ``relay``: ``rtc:signal`` at ``--rate`` messages/s between the members of ``--pairs`` call rooms
  made through the protocol (patient:request_video, gp:available, offer:accept): latency
  p50/p99, lost messages, server CPU per relayed message; ``--nodes 2`` with ``--cross`` puts the
  two members of each room on different nodes.
- ``ceiling``: the same frames through a raw aiohttp websocket relay (``raw_relay.py``).
- ``storm``: ``--clients`` connections dropped at once and reconnecting at once.
- ``suite``: ceiling, relay on one node (levers off, then on), two nodes same-node and
  cross-node, ramp and storm; the efficiency ratios of one run.

Figures go to ``--out``/<run>.json; a short table is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadtests.capacity import runs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="teleconsult load capacity", description="capacity benchmarks (issue 6)"
    )
    parser.add_argument("run", choices=("ramp", "relay", "ceiling", "storm", "suite"))
    parser.add_argument("--out", type=Path, default=Path("capacity-results"))
    parser.add_argument("--clients", type=int, default=20_000, help="ramp and storm")
    parser.add_argument("--step", type=int, default=5000, help="ramp: clients added per step")
    parser.add_argument("--hold", type=float, default=15.0, help="ramp: seconds at each step")
    parser.add_argument("--storm-clients", type=int, default=10_000, help="suite: storm size")
    parser.add_argument("--pairs", type=int, default=500, help="relay: call rooms")
    parser.add_argument("--rate", type=float, default=1500.0, help="relay: messages/s in all")
    parser.add_argument("--seconds", type=float, default=20.0, help="relay: measured seconds")
    parser.add_argument("--size", type=int, default=1500, help="relay: payload bytes")
    parser.add_argument("--warmup", type=float, default=3.0, help="relay: unmeasured seconds")
    parser.add_argument("--nodes", type=int, default=1, choices=(1, 2))
    parser.add_argument("--cross", action="store_true", help="relay: room members on two nodes")
    parser.add_argument("--generators", type=int, default=2, help="relay generator processes")
    parser.add_argument("--no-tuning", action="store_true", help="TELECONSULT_TUNING=off")
    parser.add_argument("--uvloop", action="store_true", help="server nodes on uvloop")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    parser.add_argument("--profile", type=Path, help="py-spy each server node into this folder")
    return parser


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"{'run':<28} {'msg/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'lost':>6} "
        f"{'µs/msg':>8} {'pause ms':>9} {'KB/conn':>8}"
    ]
    for r in rows:
        name = r.get("name", r["run"])
        if r["run"] in ("relay", "ceiling"):
            lat = r["latency"]
            lines.append(
                f"{name:<28} {r['achieved_rate']!s:>8} {lat['p50_ms']!s:>8} {lat['p99_ms']!s:>8} "
                f"{r['lost']:>6} {r['server_cpu_us_per_message']!s:>8} "
                f"{r['longest_loop_pause_ms']!s:>9} {r['rss_per_connection_kb']!s:>8}"
            )
        elif r["run"] == "ramp" and r["steps"]:
            s = r["steps"][-1]
            lines.append(
                f"{name:<28} {s['patient_updates_per_second']!s:>8} {'':>8} {'':>8} {'':>6} "
                f"{'':>8} {max(x['longest_loop_pause_ms'] or 0 for x in r['steps'])!s:>9} "
                f"{s['rss_per_connection_kb']!s:>8}   {s['connected']} connected, {s['fds']} fds"
            )
        elif r["run"] == "storm":
            for i, s in enumerate(r["rounds"]):
                lat = s["connect_to_state"]
                lines.append(
                    f"{name + f' round {i + 1}':<28} {s['per_second']!s:>8} "
                    f"{lat['p50_ms']!s:>8} {lat['p99_ms']!s:>8} "
                    f"{s['failed']:>6} {'':>8} {s['longest_loop_pause_ms']!s:>9} {'':>8}   "
                    f"{s['connected']}/{s['dropped']} back in {s['absorbed_seconds']} s"
                )
    return "\n".join(lines)


async def _suite(args: argparse.Namespace, common: runs.Common) -> list[dict[str, Any]]:
    off = runs.Common(tuning=False, uvloop=common.uvloop, size=common.size, keep=common.keep)
    relay = {
        "pairs": args.pairs,
        "rate": args.rate,
        "seconds": args.seconds,
        "warmup": args.warmup,
    }
    out: list[dict[str, Any]] = []

    async def one(name: str, coro: Any) -> None:
        print(f"{name} ...", flush=True)
        result = await coro
        result["name"] = name
        out.append(result)
        partial = {"machine": runs.machine(), "results": out}
        (args.out / "suite.partial.json").write_text(json.dumps(partial, indent=2))

    await one("ceiling (raw aiohttp)", runs.relay(common, raw=True, **relay))
    await one("relay 1 node, levers off", runs.relay(off, **relay))
    await one("relay 1 node", runs.relay(common, **relay))
    await one("relay 2 nodes, same node", runs.relay(common, nodes=2, **relay))
    await one("relay 2 nodes, cross-node", runs.relay(common, nodes=2, cross=True, **relay))
    await one("relay 2 nodes, cross, levers off", runs.relay(off, nodes=2, cross=True, **relay))
    await one("ramp", runs.ramp(common, args.clients, args.step, args.hold))
    await one("storm", runs.storm(common, args.storm_clients))
    by = {r["name"]: r for r in out}
    ceiling = by["ceiling (raw aiohttp)"]["server_cpu_us_per_message"]
    same = by["relay 2 nodes, same node"]["server_cpu_us_per_message"]
    ratios: dict[str, Any] = {"run": "ratios", "name": "ratios"}
    for name in (
        "relay 1 node, levers off",
        "relay 1 node",
        "relay 2 nodes, same node",
        "relay 2 nodes, cross-node",
        "relay 2 nodes, cross, levers off",
    ):
        cost = by[name]["server_cpu_us_per_message"]
        if cost and ceiling:
            ratios[f"{name} / ceiling"] = round(cost / ceiling, 2)
    cross = by["relay 2 nodes, cross-node"]["server_cpu_us_per_message"]
    if cross and same:
        ratios["cross-node / same-node"] = round(cross / same, 2)
    out.append(ratios)
    return out


async def _run(args: argparse.Namespace) -> list[dict[str, Any]]:
    # SIGTERM cancels the run, so every process it started is stopped on the way out.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    common = runs.Common(
        tuning=not args.no_tuning,
        uvloop=args.uvloop,
        size=args.size,
        keep=args.keep,
        profile=args.profile,
    )
    relay = {
        "pairs": args.pairs,
        "rate": args.rate,
        "seconds": args.seconds,
        "warmup": args.warmup,
    }
    if args.run == "suite":
        return await _suite(args, common)
    if args.run == "ceiling":
        result = await runs.relay(common, raw=True, generators=args.generators, **relay)
    elif args.run == "relay":
        result = await runs.relay(
            common, nodes=args.nodes, cross=args.cross, generators=args.generators, **relay
        )
    elif args.run == "ramp":
        result = await runs.ramp(common, args.clients, args.step, args.hold, nodes=args.nodes)
    else:
        result = await runs.storm(common, args.clients)
    return [result]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results = asyncio.run(_run(args))
    document = {
        "machine": runs.machine(),
        "command": "teleconsult load capacity "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "elapsed_seconds": round(time.monotonic() - started, 1),
        "results": results,
    }
    path = args.out / f"{args.run}.json"
    path.write_text(json.dumps(document, indent=2))
    print(_table([r for r in results if r["run"] != "ratios"]))
    for r in results:
        if r["run"] == "ratios":
            print(json.dumps({k: v for k, v in r.items() if k not in ("run", "name")}))
    print(f"figures: {path}")
    return 0
