"""The load-test report: one run's results (what the runner writes to results.json) as a static,
self-contained HTML page with its plots embedded as PNG data URIs, to archive or mail on its own.

Times are simulated seconds from 00:00 of the scenario's day, as in results.json. matplotlib is
imported only when plotting, so importing this module stays cheap.
"""

from __future__ import annotations

import base64
import bisect
import html
import io
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

GAP_LIMIT_PP = 0.5  # the live dispatcher may lose at most this many points against the ideal
STEP_SECONDS = 60.0  # resolution of the queue and GP timelines
SIDES = ("live", "ideal")
_COLORS = {"live": "tab:blue", "ideal": "tab:orange"}
_DPI = 90


class Timeline(TypedDict):
    times: list[float]  # seconds, every ``step_seconds``
    queue: list[int]  # requests waiting at each time
    busy: list[int]  # GPs in a consultation or its wrap-up
    on_shift: list[int]  # GPs on shift (roster)
    hours: list[int]  # consecutive hours since 00:00 of the day
    abandoned: list[int]  # per hour, by when the patient left
    breaches: list[int]  # per hour, by due + within_minutes


def _waiting_span(record: Mapping[str, Any]) -> tuple[float, float]:
    end = {"served": record.get("accepted_at"), "abandoned": record.get("left_at")}
    start, stop = float(record["time"]), end.get(record["status"])
    return start, math.inf if stop is None else max(start, float(stop))


def _wait(record: Mapping[str, Any]) -> float | None:
    if record["status"] != "served":
        return None
    if record.get("wait_seconds") is not None:
        return float(record["wait_seconds"])
    if record.get("accepted_at") is not None:
        return float(record["accepted_at"]) - float(record["due"])
    return None


def _counts(spans: Sequence[tuple[float, float]], times: Sequence[float]) -> list[int]:
    """How many half-open spans [start, end) hold each time."""
    starts = sorted(a for a, _ in spans)
    ends = sorted(b for _, b in spans)
    return [bisect.bisect_right(starts, t) - bisect.bisect_right(ends, t) for t in times]


def timeline(
    records: Sequence[Mapping[str, Any]],
    roster: Sequence[Sequence[float]],
    step_seconds: float = STEP_SECONDS,
    within_minutes: float = 30.0,
) -> Timeline:
    """At every ``step_seconds``: the queue length (from ``time`` until accepted, until the patient
    left, or for ever when unserved or lost), the GPs busy (``accepted_at`` to ``busy_until``) and
    on shift (``roster``: ``[start, end, gps]``). Per hour: abandonments, and breaches (not served
    within ``within_minutes`` of ``due``, R6: late, abandoned, unserved or lost) at due + limit."""
    if step_seconds <= 0:
        raise ValueError("step_seconds must be positive")
    waiting = [_waiting_span(r) for r in records]
    busy = [
        (float(r["accepted_at"]), max(float(r["accepted_at"]), float(r["busy_until"])))
        for r in records
        if r["status"] == "served"
        and r.get("accepted_at") is not None
        and r.get("busy_until") is not None
    ]
    bounds = [t for span in (*waiting, *busy) for t in span if math.isfinite(t)]
    bounds += [float(x) for segment in roster for x in segment[:2]]
    times: list[float] = []
    if bounds:
        first, last = math.floor(min(bounds) / step_seconds), math.ceil(max(bounds) / step_seconds)
        times = [k * step_seconds for k in range(first, last + 1)]
    on_shift = [sum(int(g) for a, b, g in roster if a <= t < b) for t in times]

    limit = within_minutes * 60.0
    abandoned_hours = [
        int(float(r["due"] if r.get("left_at") is None else r["left_at"]) // 3600)
        for r in records
        if r["status"] == "abandoned"
    ]
    breach_hours = [
        int((float(r["due"]) + limit) // 3600)
        for r in records
        if (wait := _wait(r)) is None or wait > limit
    ]
    span_hours = abandoned_hours + breach_hours
    if times:
        first_hour = math.floor(times[0] / 3600)
        span_hours += [first_hour, max(first_hour, math.ceil(times[-1] / 3600) - 1)]
    hours = list(range(min(span_hours), max(span_hours) + 1)) if span_hours else []
    return Timeline(
        times=times,
        queue=_counts(waiting, times),
        busy=_counts(busy, times),
        on_shift=on_shift,
        hours=hours,
        abandoned=[abandoned_hours.count(h) for h in hours],
        breaches=[breach_hours.count(h) for h in hours],
    )


# --- plots --------------------------------------------------------------------------------------


def _no_data(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def _legend(ax: Axes) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")


def _plot_share(fig: Figure, results: Mapping[str, Any]) -> None:
    ax = fig.add_subplot()
    rows = {side: results[side]["summary"]["per_hour"] for side in SIDES}
    if not any(rows.values()):
        _no_data(ax, "no requests")
        return
    for offset, side in ((-0.2, "live"), (0.2, "ideal")):
        xs = [r["hour"] + 0.5 + offset for r in rows[side]]
        ax.bar(xs, [100 * r["share"] for r in rows[side]], 0.4, color=_COLORS[side], label=side)
    begin = float(results.get("start_hour") or 0.0)
    horizon = max(
        begin + float(results.get("duration_hours") or 0.0),
        max(r["hour"] + 1 for side in SIDES for r in rows[side]),
    )
    xs_c: list[float] = []
    ys_c: list[float] = []
    for day in range(math.ceil(horizon / 24.0)):
        for s in results.get("erlang_c") or []:
            a = max(day * 24.0 + s["start_hour"], math.floor(begin))
            b = min(day * 24.0 + s["end_hour"], horizon)
            if a >= b:
                continue
            if xs_c and xs_c[-1] != a:  # not contiguous: break the line
                xs_c.append(math.nan)
                ys_c.append(math.nan)
            xs_c += [a, b]
            ys_c += [100 * s["erlang_c_share"]] * 2
    if xs_c:
        ax.plot(xs_c, ys_c, color="black", linewidth=1.5, label="Erlang C (stationary)")
    ax.set_ylim(0, 105)
    ax.set_xlabel("hours since 00:00 (by due)")
    ax.set_ylabel(f"% served within {results['within_minutes']:g} min")
    _legend(ax)


def _plot_waits(fig: Figure, results: Mapping[str, Any], within: float) -> None:
    bars, cdf = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    labels = ("p50", "p90", "p99", "max")
    for offset, side in ((-0.2, "live"), (0.2, "ideal")):
        summary = results[side]["summary"]
        values = [summary[f"{label}_wait_seconds"] / 60.0 for label in labels]
        bars.bar([i + offset for i in range(4)], values, 0.4, color=_COLORS[side], label=side)
    bars.set_xticks(range(4), labels)
    bars.axhline(within, color="grey", linestyle="--", linewidth=1)
    bars.set_ylabel("wait of served requests (min)")
    _legend(bars)
    for side in SIDES:
        waits = sorted(w / 60.0 for r in results[side]["records"] if (w := _wait(r)) is not None)
        if waits:
            shares = [100.0 * (i + 1) / len(waits) for i in range(len(waits))]
            cdf.step(waits, shares, where="post", color=_COLORS[side], label=side)
    if not cdf.lines:
        _no_data(cdf, "no request served")
        return
    cdf.axvline(within, color="grey", linestyle="--", linewidth=1)
    cdf.set_xlabel("wait (min)")
    cdf.set_ylabel("% of served requests")
    _legend(cdf)


def _plot_timelines(fig: Figure, timelines: Mapping[str, Timeline]) -> None:
    for row, side in enumerate(SIDES):
        ax = fig.add_subplot(2, 1, row + 1)
        tl = timelines[side]
        if not tl["times"]:
            _no_data(ax, f"{side}: nothing happened")
            continue
        hours = [t / 3600.0 for t in tl["times"]]
        ax.plot(hours, tl["queue"], color="tab:red", label="queue length")
        ax.plot(hours, tl["busy"], color="tab:blue", label="GPs busy")
        ax.step(hours, tl["on_shift"], where="post", color="black", ls="--", label="on shift")
        ax.set_title(side, fontsize="medium")
        ax.set_ylabel("count")
        _legend(ax)
    fig.axes[-1].set_xlabel("hours since 00:00")


def _plot_failures(fig: Figure, timelines: Mapping[str, Timeline]) -> None:
    for col, title in enumerate(("abandonments", "breaches")):
        ax = fig.add_subplot(1, 2, col + 1)
        ax.set_title(f"{title} per hour", fontsize="medium")
        for offset, side in ((-0.2, "live"), (0.2, "ideal")):
            tl = timelines[side]
            per_hour = tl["abandoned"] if col == 0 else tl["breaches"]
            xs = [h + 0.5 + offset for h, n in zip(tl["hours"], per_hour, strict=True) if n]
            counts = [n for n in per_hour if n]
            if counts:
                ax.bar(xs, counts, 0.4, color=_COLORS[side], label=side)
        if not ax.patches:
            _no_data(ax, f"no {title}")
            continue
        ax.set_xlabel("hours since 00:00")
        ax.locator_params(axis="y", integer=True)
        _legend(ax)


def _lead_minutes(alert: Mapping[str, Any]) -> float:
    lead = alert.get("lead_seconds")
    return float(alert["deadline"] - alert["raised_at"] if lead is None else lead) / 60.0


def _plot_alerts(fig: Figure, alerts: Sequence[Mapping[str, Any]]) -> None:
    when, dist = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    if not alerts:
        _no_data(when, "no predicted-breach alerts")
        dist.set_axis_off()
        return
    groups = (("breached", "tab:red", True), ("not breached", "tab:green", False))
    for label, color, breached in groups:
        chosen = [a for a in alerts if bool(a["breached"]) == breached]
        if chosen:
            xs = [float(a["raised_at"]) / 3600.0 for a in chosen]
            when.scatter(xs, [_lead_minutes(a) for a in chosen], s=12, color=color, label=label)
    when.set_xlabel("raised at (hours since 00:00)")
    when.set_ylabel("lead before the deadline (min)")
    _legend(when)
    leads = [[_lead_minutes(a) for a in alerts if bool(a["breached"]) == b] for *_, b in groups]
    dist.hist(leads, bins=15, stacked=True, color=[color for _, color, _ in groups])
    dist.set_xlabel("lead before the deadline (min)")
    dist.set_ylabel("alerts")
    dist.locator_params(axis="y", integer=True)


def render_plots(results: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    """The report's five plots as (caption, PNG bytes)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    within = float(results["within_minutes"])
    roster = results.get("roster") or []
    timelines = {
        side: timeline(results[side]["records"], roster, STEP_SECONDS, within) for side in SIDES
    }
    plots: list[tuple[str, float, Callable[[Figure], None]]] = [
        (f"Share served within {within:g} min per hour, with Erlang C", 3.5,
         lambda fig: _plot_share(fig, results)),
        ("Waits: percentiles and distribution of served requests", 3.5,
         lambda fig: _plot_waits(fig, results, within)),
        ("Queue length, GPs busy and on shift over time", 5.5,
         lambda fig: _plot_timelines(fig, timelines)),
        ("Abandonments and breaches per hour", 3.5, lambda fig: _plot_failures(fig, timelines)),
        ("Predicted-breach alerts: lead time before the deadline", 3.5,
         lambda fig: _plot_alerts(fig, results.get("alerts") or [])),
    ]  # fmt: skip
    out: list[tuple[str, bytes]] = []
    for caption, height, plot in plots:
        fig = Figure(figsize=(10.0, height), layout="constrained")
        plot(fig)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=_DPI)
        out.append((caption, buffer.getvalue()))
    return out


# --- HTML ---------------------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value))


def _pct(share: float) -> str:
    return f"{100.0 * share:.2f} %"


def _min(seconds: float) -> str:
    return f"{seconds / 60.0:.1f} min"


def _table(head: Sequence[str] | None, rows: Sequence[Sequence[object]]) -> str:
    cells = "".join(f"<th>{_e(h)}</th>" for h in head or ())
    thead = f"<thead><tr>{cells}</tr></thead>" if cells else ""
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{thead}<tbody>{body}</tbody></table>"


def _comparison(results: Mapping[str, Any], within: float) -> list[str]:
    live, ideal = results["live"]["summary"], results["ideal"]["summary"]
    rows: list[list[object]] = [
        [key, live.get(key, 0), ideal.get(key, 0)]
        for key in ("requests", "served", "abandoned", "unserved", "lost", "within")
    ]
    share = f"share within {within:g} min"
    rows.append([share, _pct(live["share_within"]), _pct(ideal["share_within"])])
    for key in ("p50_wait_seconds", "p90_wait_seconds", "p99_wait_seconds", "max_wait_seconds"):
        rows.append([f"{key.split('_')[0]} wait", _min(live[key]), _min(ideal[key])])
    gap = float(results["gap_pp"])
    ok = gap <= GAP_LIMIT_PP  # live doing better than the ideal (noise) is no failure
    cls, word = ("ok", "yes") if ok else ("bad", "no")
    verdict = f"Gap (ideal - live): {gap:+.2f} pp; within {GAP_LIMIT_PP:g} pp: "
    out = [
        "<h2>Live against ideal</h2>",
        _table(("", "live", "ideal"), rows),
        f'<p class="{cls}">{_e(verdict)}<strong>{word}</strong></p>',
    ]
    edf = results.get("edf")
    if edf:
        edf_share = float(edf["summary"]["share_within"])
        out.append(
            "<p>"
            + _e(
                f"Perfect earliest-deadline-first (the live policy at zero latency, same trace): "
                f"{_pct(edf_share)} within {within:g} min; live against it "
                f"{-float(results.get('gap_edf_pp') or 0.0):+.2f} pp (what the implementation "
                f"loses), it against the ideal {(edf_share - ideal['share_within']) * 100:+.2f} pp "
                f"(what the policy does)."
            )
            + "</p>"
        )
    return out


def _extras(results: Mapping[str, Any], within: float) -> list[str]:
    out = []
    spread, repeats = results.get("spread"), results.get("repeats") or []
    if spread or repeats:
        out.append("<h2>Spread over repeats</h2>")
    if spread:
        text = (
            f"{spread['runs']} runs: live share within {within:g} min from {_pct(spread['min'])} "
            f"to {_pct(spread['max'])}, standard deviation {100.0 * spread['stdev']:.2f} pp."
        )
        out.append(f"<p>{_e(text)}</p>")
    if repeats:
        head = ("seed", "live share", "ideal share", "gap (pp)", "lost")
        gap = "{:+.2f}".format
        rows = [
            [r["seed"], _pct(r["share_within"]), _pct(r["ideal_share_within"]),
             gap(100.0 * (r["ideal_share_within"] - r["share_within"])), r["lost"]]
            for r in repeats
        ]  # fmt: skip
        out.append(_table(head, rows))
    setup = results.get("call_setup")
    if setup:
        ms = [f"{setup[k]:.0f} ms" for k in ("p50_ms", "p90_ms", "max_ms")]
        out += [
            "<h2>Call set-up</h2>",
            _table(("samples", "p50", "p90", "max"), [[setup["samples"], *ms]]),
        ]
    stretches = results.get("erlang_c") or []
    if stretches:
        head = ("hours", "requests/h", "GPs", "Erlangs", f"share within {within:g} min")
        rows = [
            [f"{s['start_hour']:g}-{s['end_hour']:g}", f"{s['per_hour']:g}", s["gps"],
             f"{s['erlangs']:.2f}", _pct(s["erlang_c_share"])]
            for s in stretches
        ]  # fmt: skip
        out += ["<h2>Erlang C on stationary stretches</h2>", _table(head, rows)]
    return out


_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.ok { color: #1a7f37; } .bad { color: #c62828; }
figure { margin: 1em 0; } img { max-width: 100%; }
"""


def render_html(results: Mapping[str, Any], plots: Sequence[tuple[str, bytes]]) -> str:
    """The page: header, live against ideal, repeats, call set-up, Erlang C, then the plots."""
    within = float(results["within_minutes"])
    header = [
        ("seed", results.get("seed")),
        ("from", f"{float(results.get('start_hour') or 0.0):g} h"),
        ("duration", f"{float(results.get('duration_hours') or 0.0):g} h"),
        ("clock scale", f"×{float(results.get('scale') or 0.0):g}"),
        ("started at", results.get("started_at")),
        ("machine", results.get("machine")),
        ("real time", f"{float(results.get('real_seconds') or 0.0):.1f} s"),
    ]
    figures = [
        f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode("ascii")}"><figcaption>{_e(caption)}</figcaption></figure>'
        for caption, png in plots
    ]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>Load test: {_e(results.get('scenario', ''))}</title>",
            f"<style>{_STYLE}</style></head><body>",
            f"<h1>Load test: {_e(results.get('scenario', ''))}</h1>",
            f"<p>{_e(results.get('description', ''))}</p>",
            _table(None, header),
            *_comparison(results, within),
            *_extras(results, within),
            *_health(results),
            "<h2>Plots</h2>",
            *figures,
            "</body></html>",
            "",
        ]
    )


def _health(results: Mapping[str, Any]) -> list[str]:
    """What could skew the run: errors the server acknowledged, refused bookings, lost requests
    and why, a late start, the load generator's own event-loop lag."""
    rows: list[list[object]] = [
        ["runner event-loop lag (max)", f"{float(results.get('runner_max_lag_ms') or 0.0):.0f} ms"],
        ["late start", f"{float(results.get('late_start_seconds') or 0.0):.0f} s"],
        ["bookings refused", results.get("booking_refused", 0)],
    ]
    rows += [[f"error {code}", count] for code, count in (results.get("errors") or {}).items()]
    rows += [[f"lost #{i}", why] for i, why in (results.get("lost_reasons") or {}).items()]
    return ["<h2>Run health</h2>", _table(("", ""), rows)]


def write_report(results: Mapping[str, Any], out_dir: Path) -> Path:
    """Write ``out_dir/report.html`` for one run's results and return its path."""
    page = render_html(results, render_plots(results))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    logger.info("load-test report written to %s", path)
    return path
