"""`teleconsult load run SCENARIO`: replay a seeded day against a live server on a scaled clock and
put it beside the ideal dispatcher on the same trace.

Without ``--target`` the runner seeds a fresh data directory with the load accounts, starts its own
redis-server and `teleconsult serve` on loopback with ``TELECONSULT_CLOCK_SCALE`` and a clock that
starts just before 00:00 Paris time of a working Monday (so the scenario's hours are Paris hours),
drives the simulated patients and GPs (loadtests.live), stops everything and writes
``DIR/results.json`` and ``DIR/report.html``. With ``--target URL`` it drives a server started by
hand on data seeded by ``teleconsult load seed`` (docs/OPERATIONS.md); the scenario's day then
starts at the next quarter hour of that server's clock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from loadtests.accounts import seed_accounts
from loadtests.ideal import (
    GRACE_SECONDS,
    IdealResult,
    Outcome,
    Summary,
    percentile,
    simulate_ideal,
    stationary_stretches,
    summarize,
)
from loadtests.live import LiveResult, LiveRun, SimTime, locate_clock
from loadtests.scenario import Scenario, ScenarioError, load_scenario
from loadtests.servers import StartError, start_redis, start_server, stop
from loadtests.trace import Arrival, Shift, make_roster, make_trace
from signaling.config import ConfigError, parse_ice_servers
from waiting_room.hours import is_french_holiday
from waiting_room.schedule import PARIS

OFFER_TIMEOUT_SECONDS = 30.0
"""The server's default offer timeout: the shortest business timer the simulated GPs race."""
MIN_REAL_OFFER_SECONDS = 2.0
DEFAULT_SCALE = 14.0  # the 30-second offer timeout lasts 2.14 real seconds


def lead_real_seconds(gps: int) -> float:
    """Real seconds between the server's start and the start of the simulated day: the server
    gets ready, then the GPs log in (argon2) and connect."""
    return 6.0 + 0.1 * gps


def parse_duration(raw: str) -> float:
    """Hours from ``24h``, ``90m``, ``1.5h`` or a bare number of hours (more than 0)."""
    text = raw.strip().lower()
    try:
        if text.endswith("h"):
            hours = float(text[:-1])
        elif text.endswith("m"):
            hours = float(text[:-1]) / 60.0
        else:
            hours = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {raw!r} (e.g. 2h, 90m)") from None
    if not 0 < hours <= 24 * 7:
        raise argparse.ArgumentTypeError("the duration must be between 0 and 7 days")
    return hours


def _hour(raw: str) -> float:
    text = raw.strip().lower().removesuffix("h")
    try:
        hour = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an hour of the day: {raw!r} (e.g. 9h)") from None
    if not 0 <= hour < 24:
        raise argparse.ArgumentTypeError("the start hour must be from 0 to 24")
    return hour


def _share(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a share: {raw!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("a share is between 0 and 1")
    return value


def _ice_servers(raw: str) -> list[Mapping[str, Any]]:
    try:
        return list(parse_ice_servers(raw))
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def call_setup(live: LiveResult) -> dict[str, Any] | None:
    """Call set-up times of the calls made with real media, from the GP's acceptance to both
    peers connected and the patient's first video frame."""
    if not live.setup_ms and not live.setup_failed:
        return None
    ordered = sorted(live.setup_ms)
    return {
        "samples": len(ordered),
        "failed": live.setup_failed,
        "p50_ms": round(percentile(ordered, 0.5), 1),
        "p90_ms": round(percentile(ordered, 0.9), 1),
        "max_ms": round(ordered[-1], 1) if ordered else 0.0,
    }


def check_scale(scale: float) -> float:
    if scale <= 0:
        raise ValueError("the scale must be positive")
    if OFFER_TIMEOUT_SECONDS / scale <= MIN_REAL_OFFER_SECONDS:
        raise ValueError(
            f"at scale {scale:g} the {OFFER_TIMEOUT_SECONDS:g}-second offer timeout lasts "
            f"{OFFER_TIMEOUT_SECONDS / scale:.2f} real seconds; keep it above "
            f"{MIN_REAL_OFFER_SECONDS:g} (scale below {OFFER_TIMEOUT_SECONDS / 2:g})"
        )
    return scale


def working_monday(today: date) -> date:
    """The next Monday after ``today`` that is not a French public holiday."""
    day = today + timedelta(days=7 - today.weekday())
    while is_french_holiday(day):
        day += timedelta(days=7)
    return day


def roster_steps(roster: Sequence[Sequence[Shift]]) -> list[list[float]]:
    """[start, end, GPs on shift] pieces over the roster's horizon."""
    points = sorted({t for shifts in roster for s in shifts for t in (s.start, s.end)})
    steps = []
    for a, b in zip(points, points[1:], strict=False):
        on = sum(any(s.start <= a < s.end for s in shifts) for shifts in roster)
        steps.append([a, b, float(on)])
    return steps


def records(
    trace: Sequence[Arrival],
    outcomes: Sequence[Outcome],
    busy_until: dict[int, float] | None = None,
) -> list[dict[str, Any]]:
    """One JSON record per request; the ideal's GP is busy exactly service + wrap-up."""
    out = []
    for a, o in zip(trace, outcomes, strict=True):
        busy = None
        if o.accepted_at is not None:  # measured live, else (or the run ended in the call) drawn
            drawn = o.accepted_at + a.service_seconds + a.wrap_up_seconds
            busy = (busy_until or {}).get(a.index, drawn)
        out.append(
            {
                "index": a.index,
                "kind": a.kind,
                "channel": a.channel,
                "time": a.time,
                "due": a.due,
                "status": o.status,
                "wait_seconds": o.wait_seconds,
                "accepted_at": o.accepted_at,
                "left_at": a.due + o.wait_seconds
                if o.status == "abandoned" and o.wait_seconds is not None
                else None,
                "busy_until": busy,
            }
        )
    return out


def summary_dict(summary: Summary) -> dict[str, Any]:
    data = asdict(summary)
    data["per_hour"] = [asdict(h) for h in summary.per_hour]
    return data


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.node()}, {os.cpu_count()} cores {model}, Python {platform.python_version()}"


def build_results(
    scenario: Scenario,
    args: argparse.Namespace,
    trace: Sequence[Arrival],
    roster: Sequence[Sequence[Shift]],
    ideal: IdealResult,
    live: LiveResult,
    repeats: Sequence[LiveResult],
    late_start: float,
    edf: IdealResult | None = None,
) -> dict[str, Any]:
    within = 30.0
    live_summary = summarize(trace, live.outcomes, within)
    limit = within * 60.0
    ok = {
        o.index
        for o in live.outcomes
        if o.status == "served" and o.wait_seconds is not None and o.wait_seconds <= limit
    }
    alerts = []
    for alert in live.alerts:
        index = live.request_index.get(alert.request_id)
        alerts.append(
            {
                "index": index,
                "raised_at": alert.raised_at,
                "deadline": alert.deadline,
                "predicted_start": alert.predicted_start,
                "breached": index is not None and index not in ok,
                "lead_seconds": alert.deadline - alert.raised_at,
            }
        )
    runs = [live, *repeats]
    shares = [summarize(trace, r.outcomes, within).share_within for r in runs]
    spread = None
    if len(runs) > 1:
        spread = {
            "runs": len(runs),
            "min": min(shares),
            "max": max(shares),
            "stdev": statistics.stdev(shares),
        }
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "seed": args.seed,
        "duration_hours": args.duration,
        "start_hour": args.start,
        "scale": args.scale,
        "target": args.target,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "real_seconds": round(live.real_seconds, 1),
        "machine": machine(),
        "within_minutes": within,
        "live": {
            "summary": summary_dict(live_summary),
            "records": records(trace, live.outcomes, live.busy_until),
        },
        "ideal": {
            "summary": summary_dict(ideal.summary),
            "records": records(trace, ideal.outcomes),
        },
        "gap_pp": round((ideal.summary.share_within - live_summary.share_within) * 100.0, 3),
        # The live policy (earliest deadline first) at zero latency, on the same trace: live
        # against it is what the implementation loses, it against the ideal what the policy does.
        "edf": None if edf is None else {"summary": summary_dict(edf.summary)},
        "gap_edf_pp": None
        if edf is None
        else round((edf.summary.share_within - live_summary.share_within) * 100.0, 3),
        "erlang_c": [asdict(s) for s in stationary_stretches(scenario, within)],
        "roster": roster_steps(roster),
        "alerts": alerts,
        "repeats": [
            {
                "seed": args.seed,
                "share_within": share,
                "ideal_share_within": ideal.summary.share_within,
                "lost": sum(o.status == "lost" for o in r.outcomes),
            }
            for share, r in zip(shares, runs, strict=True)
        ]
        if len(runs) > 1
        else [],
        "spread": spread,
        "call_setup": call_setup(live),
        "errors": dict(sorted(live.errors.items())),
        "lost_reasons": {str(k): v for k, v in sorted(live.lost_reasons.items())},
        "booking_refused": live.booking_refused,
        "late_start_seconds": round(late_start, 1),
        "runner_max_lag_ms": round(live.runner_max_lag_seconds * 1000.0, 1),
    }


class Progress:
    """A one-line progress bar on stderr (a line per tenth when stderr is not a terminal)."""

    def __init__(self, begin: float, end: float, label: str) -> None:
        self.begin = begin
        self.total = end
        self.label = label
        self.tty = sys.stderr.isatty()
        self.last_tenth = -1

    def __call__(self, run: LiveRun) -> None:
        now = max(self.begin, run.sim.now())
        span = self.total - self.begin
        done = min(1.0, (now - self.begin) / span) if span > 0 else 1.0
        served = sum(p.accepted_at is not None for p in run.patients)
        left = sum(p.left_at is not None for p in run.patients)
        lost = sum(p.lost is not None for p in run.patients)
        queued = sum(
            p.request_id is not None and p.accepted_at is None and p.left_at is None
            for p in run.patients
        )
        bar = "#" * int(done * 30)
        line = (
            f"{self.label} [{bar:<30}] {done:4.0%} {_clock(now)}/{_clock(self.total)}"
            f" queue {queued} busy {run.gps_busy} served {served} left {left} lost {lost}"
            f" ({run.settled}/{len(run.patients)})"
        )
        if self.tty:
            print("\r" + line, end="", file=sys.stderr, flush=True)
        elif int(done * 10) != self.last_tenth:
            self.last_tenth = int(done * 10)
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=sys.stderr)


def _clock(seconds: float) -> str:
    return f"{int(seconds // 3600):02d}:{int(seconds % 3600 // 60):02d}"


async def run_live(
    args: argparse.Namespace,
    scenario: Scenario,
    trace: Sequence[Arrival],
    roster: Sequence[Sequence[Shift]],
    label: str,
) -> tuple[LiveResult, float]:
    """One live replay; returns the result and how late (simulated seconds) the day started."""
    begin = args.start * 3600.0
    wrap_up = scenario.consultation.wrap_up_minutes * 60.0
    progress = None if args.quiet else Progress(begin, begin + args.duration * 3600.0, label)
    if args.target:
        async with aiohttp.ClientSession() as http:
            business, mono = await locate_clock(http, args.target)
        start = business + timedelta(seconds=lead_real_seconds(len(roster)) * args.scale)
        quarter = 900 - (start.timestamp() % 900)
        t0 = start + timedelta(seconds=quarter - begin)
        return await _drive(
            args.target, SimTime(t0, business, mono, args.scale), trace, roster, args, progress
        )

    work = Path(tempfile.mkdtemp(prefix="teleconsult-load-"))
    redis = server = None
    try:
        data = work / "data"
        await seed_accounts(data, patients=len(trace), gps=len(roster))
        redis, redis_url = start_redis(work / "redis")
        day = working_monday(datetime.now(PARIS).date())
        t0 = datetime(day.year, day.month, day.day, tzinfo=PARIS).astimezone(UTC)
        env = {
            "TELECONSULT_CLOCK_SCALE": repr(args.scale),
            "TELECONSULT_CLOCK_START": (
                t0 + timedelta(seconds=begin - lead_real_seconds(len(roster)) * args.scale)
            ).isoformat(),
            "TELECONSULT_JWT_SECRET": secrets.token_hex(32),
            # The simulated GPs end their own wrap-up at the trace's time; bookings are not what
            # is under test, so every rostered GP may take one.
            "TELECONSULT_WRAP_UP_SECONDS": repr(wrap_up + 600.0),
            "TELECONSULT_APPOINTMENT_SHARE": "1",
            "TELECONSULT_PATIENT_GRACE_SECONDS": repr(GRACE_SECONDS),
        }
        server, base = start_server(data, redis_url, env)
        async with aiohttp.ClientSession() as http:
            business, mono = await locate_clock(http, base)
        sim = SimTime(t0, business, mono, args.scale)
        try:
            return await _drive(base, sim, trace, roster, args, progress)
        finally:
            if args.keep:
                print(f"server log: {data / 'server.log'}", file=sys.stderr)
    finally:
        stop(server)
        stop(redis)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


async def _drive(
    base: str,
    sim: SimTime,
    trace: Sequence[Arrival],
    roster: Sequence[Sequence[Shift]],
    args: argparse.Namespace,
    progress: Progress | None,
) -> tuple[LiveResult, float]:
    begin = args.start * 3600.0
    end = begin + args.duration * 3600.0
    run = LiveRun(
        base,
        sim,
        trace,
        roster,
        end,
        args.drain * 3600.0,
        GRACE_SECONDS,
        progress,
        args.media_share,
        args.ice_servers,
    )
    late = max(0.0, sim.now() - begin)
    try:
        result = await run.run()
    finally:
        if progress is not None:
            progress.close()
    return result, late


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="teleconsult load",
        description="Load tests: replay a scenario's day against a live server beside the ideal "
        "dispatcher (run), prepare a server started by hand (seed), measure how much a node "
        "carries (capacity). docs/OPERATIONS.md, 'Load tests'.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("capacity", help="capacity benchmarks (teleconsult load capacity -h)")
    run = sub.add_parser("run", help="replay a scenario against a live server and the ideal")
    run.add_argument("scenario", help="a shipped scenario name or a TOML file")
    run.add_argument("--duration", type=parse_duration, default=24.0, help="simulated, e.g. 2h")
    run.add_argument("--seed", type=int, default=1)
    run.add_argument(
        "--from", dest="start", type=_hour, default=0.0, help="hour of the day to start at (9h)"
    )
    run.add_argument(
        "--scale",
        type=float,
        default=DEFAULT_SCALE,
        help=f"simulated seconds per real second (default {DEFAULT_SCALE:g}, at most 15)",
    )
    run.add_argument("--out", type=Path, help="results directory (default ./loadtest-results/...)")
    run.add_argument("--target", help="base URL of a server started by hand (see load seed)")
    run.add_argument("--repeat", type=int, default=1, help="live runs of the same trace (spread)")
    run.add_argument("--drain", type=parse_duration, default=1.0, help="after the day (default 1h)")
    run.add_argument(
        "--media-share",
        type=_share,
        default=0.0,
        help="share of the video calls set up with real aiortc peers (call set-up time)",
    )
    run.add_argument(
        "--ice-servers",
        type=_ice_servers,
        default=[],
        help="JSON list of ICE servers for those peers (default [] : loopback host candidates)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--keep", action="store_true", help="keep the server's data directory")
    seed = sub.add_parser("seed", help="write the load accounts into a data directory (--target)")
    seed.add_argument("scenario")
    seed.add_argument("--data-dir", type=Path, required=True)
    seed.add_argument("--duration", type=parse_duration, default=24.0)
    seed.add_argument("--seed", type=int, default=1)
    seed.add_argument("--from", dest="start", type=_hour, default=0.0)
    seed.add_argument("--database-url")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    if raw[:1] == ["capacity"]:
        from loadtests.capacity import main as capacity_main

        return capacity_main(raw[1:])
    args = _parser().parse_args(raw)
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        print(f"teleconsult load: {exc}", file=sys.stderr)
        return 2
    trace = make_trace(scenario, args.seed, args.duration, args.start)
    if args.command == "seed":
        roster = make_roster(scenario, args.duration, 1.0, args.start)
        created = asyncio.run(
            seed_accounts(args.data_dir, len(trace), len(roster), args.database_url)
        )
        print(f"{created} load accounts created ({len(trace)} patients, {len(roster)} GPs)")
        return 0
    try:
        check_scale(args.scale)
    except ValueError as exc:
        print(f"teleconsult load: {exc}", file=sys.stderr)
        return 2
    if not 1 <= args.repeat <= 20:
        print("teleconsult load: --repeat must be between 1 and 20", file=sys.stderr)
        return 2
    roster = make_roster(scenario, args.duration, args.drain, args.start)
    ideal = simulate_ideal(trace, roster)
    edf = simulate_ideal(trace, roster, policy="edf")
    out = args.out or Path("loadtest-results") / (
        f"{scenario.name}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    )
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    runs: list[LiveResult] = []
    late = 0.0
    try:
        for i in range(args.repeat):
            label = scenario.name if args.repeat == 1 else f"{scenario.name} {i + 1}/{args.repeat}"
            result, late_i = asyncio.run(run_live(args, scenario, trace, roster, label))
            runs.append(result)
            late = max(late, late_i)
    except StartError as exc:
        print(f"teleconsult load: {exc}", file=sys.stderr)
        return 1
    results = build_results(scenario, args, trace, roster, ideal, runs[0], runs[1:], late, edf)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    from loadtests.report import write_report

    write_report(results, out)
    live, best = results["live"]["summary"], results["ideal"]["summary"]
    print(
        f"{scenario.name}: {live['requests']} requests in {time.monotonic() - started:.0f} s;"
        f" within 30 min live {live['share_within']:.2%} ideal {best['share_within']:.2%}"
        f" (gap {results['gap_pp']:+.2f} pp; perfect EDF"
        f" {results['edf']['summary']['share_within']:.2%}, gap {results['gap_edf_pp']:+.2f} pp);"
        f" served {live['served']} abandoned"
        f" {live['abandoned']} unserved {live['unserved']} lost {live['lost']}\n"
        f"results: {out / 'results.json'}  report: {out / 'report.html'}"
    )
    return 0 if live["lost"] == 0 else 3


if __name__ == "__main__":
    raise SystemExit(main())
