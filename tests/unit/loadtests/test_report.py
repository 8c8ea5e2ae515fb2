from __future__ import annotations

import base64
import dataclasses
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from loadtests.ideal import Outcome, Summary, simulate_ideal, stationary_stretches
from loadtests.report import timeline, write_report
from loadtests.scenario import load_scenario
from loadtests.trace import Arrival, Shift, make_roster, make_trace

IMAGE = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def as_record(arrival: Arrival, outcome: Outcome) -> dict[str, Any]:
    served = outcome.status == "served" and outcome.accepted_at is not None
    accepted = outcome.accepted_at
    left = arrival.due + arrival.patience_seconds if outcome.status == "abandoned" else None
    return {
        "index": arrival.index,
        "kind": arrival.kind,
        "channel": arrival.channel,
        "time": arrival.time,
        "due": arrival.due,
        "status": outcome.status,
        "wait_seconds": outcome.wait_seconds if served else None,
        "accepted_at": accepted,
        "left_at": left,
        "busy_until": (
            accepted + arrival.service_seconds + arrival.wrap_up_seconds
            if accepted is not None
            else None
        ),
    }


def as_summary(summary: Summary) -> dict[str, Any]:
    return {**dataclasses.asdict(summary), "lost": 0}


def piecewise(roster: Sequence[Sequence[Shift]]) -> list[list[float]]:
    """Per-GP shifts as [start, end, GPs on shift] between consecutive shift changes."""
    shifts = [s for own in roster for s in own]
    points = sorted({s.start for s in shifts} | {s.end for s in shifts})
    return [
        [a, b, float(sum(s.start <= a < s.end for s in shifts))]
        for a, b in zip(points, points[1:], strict=False)
    ]


def results_for(
    records: list[dict[str, Any]], summary: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    side = {"summary": summary, "records": records}
    results: dict[str, Any] = {
        "scenario": "steady",
        "description": "60 requests/h on 17 GPs",
        "seed": 1,
        "duration_hours": 2.0,
        "scale": 14.0,
        "started_at": "2026-11-27T10:00:00+00:00",
        "real_seconds": 512.3,
        "machine": "2 cores, test",
        "within_minutes": 30.0,
        "live": side,
        "ideal": side,
        "gap_pp": 0.0,
        "erlang_c": [],
        "roster": [],
        "alerts": [],
        "repeats": [],
        "spread": None,
        "call_setup": None,
    }
    results.update(extra)
    loaded: dict[str, Any] = json.loads(json.dumps(results))  # as read back from results.json
    return loaded


@pytest.fixture(scope="module")
def steady() -> dict[str, Any]:
    scenario = load_scenario("steady")
    trace = make_trace(scenario, seed=1, duration_hours=2.0)
    roster = make_roster(scenario, duration_hours=2.0)
    ideal = simulate_ideal(trace, roster)
    records = [as_record(a, o) for a, o in zip(trace, ideal.outcomes, strict=True)]
    served = [r for r in records if r["status"] == "served"]
    alerts = [
        {"index": 3, "raised_at": 900.0, "deadline": 1500.0, "predicted_start": 1600.0,
         "breached": True, "lead_seconds": 600.0},
        {"index": 7, "raised_at": 2000.0, "deadline": 2300.0, "predicted_start": None,
         "breached": False, "lead_seconds": None},
    ]  # fmt: skip
    return results_for(
        records,
        as_summary(ideal.summary),
        erlang_c=[dataclasses.asdict(s) for s in stationary_stretches(scenario)],
        roster=piecewise(roster),
        alerts=alerts,
        repeats=[
            {"seed": 1, "share_within": 1.0, "ideal_share_within": 1.0, "lost": 0},
            {"seed": 2, "share_within": 0.98, "ideal_share_within": 0.99, "lost": 1},
        ],
        spread={"runs": 2, "min": 0.98, "max": 1.0, "stdev": 0.0141},
        call_setup={"samples": len(served), "p50_ms": 420.0, "p90_ms": 810.0, "max_ms": 1900.0},
    )


def images(page: str) -> list[bytes]:
    return [base64.b64decode(data, validate=True) for data in IMAGE.findall(page)]


def test_report_of_an_ideal_run(steady: dict[str, Any], tmp_path: Path) -> None:
    path = write_report(steady, tmp_path / "run")
    assert path == tmp_path / "run" / "report.html"
    page = path.read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in page
    pngs = images(page)
    assert len(pngs) == 5
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in pngs)
    summary = steady["live"]["summary"]
    assert summary["requests"] > 100
    assert f"{100 * summary['share_within']:.2f} %" in page
    assert f"<td>requests</td><td>{summary['requests']}</td>" in page
    assert "within 0.5 pp: <strong>yes</strong>" in page
    erlang = steady["erlang_c"][0]["erlang_c_share"]
    assert f"{100 * erlang:.2f} %" in page
    assert "98.00 %" in page  # spread and repeats
    assert "420 ms" in page  # call set-up
    assert "2026-11-27T10:00:00+00:00" in page and "2 cores, test" in page
    assert "http://" not in page and "https://" not in page  # self-contained


def test_a_gap_over_half_a_point_is_flagged(steady: dict[str, Any], tmp_path: Path) -> None:
    page = write_report({**steady, "gap_pp": 0.8}, tmp_path).read_text(encoding="utf-8")
    assert "+0.80" in page
    assert "within 0.5 pp: <strong>no</strong>" in page


def test_timeline_by_hand() -> None:
    records = [
        {"status": "served", "time": 0.0, "due": 0.0, "accepted_at": 600.0, "busy_until": 2400.0},
        # served 35 minutes after its due: a breach at 2100 s, hour 0
        {"status": "served", "time": 300.0, "due": 300.0, "accepted_at": 2400.0,
         "busy_until": 3000.0},
        # left at 3900 s (hour 1); its breach counts at 1200 + 1800 = 3000 s (hour 0)
        {"status": "abandoned", "time": 1200.0, "due": 1200.0, "left_at": 3900.0},
        # appointment: enters at 3300, due at its slot 3600, taken at once
        {"status": "served", "time": 3300.0, "due": 3600.0, "accepted_at": 3600.0,
         "busy_until": 4500.0},
        # never served: waits until the end; breach at 4200 + 1800 = 6000 s (hour 1)
        {"status": "unserved", "time": 4200.0, "due": 4200.0},
    ]  # fmt: skip
    roster = [[0.0, 3600.0, 1.0], [3600.0, 7200.0, 2.0]]
    tl = timeline(records, roster, step_seconds=600.0, within_minutes=30.0)
    assert tl["times"] == [600.0 * k for k in range(13)]  # 0 to 7200 s
    assert tl["queue"] == [1, 1, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    assert tl["busy"] == [0, 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0]
    assert tl["on_shift"] == [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 0]
    assert tl["hours"] == [0, 1]
    assert tl["abandoned"] == [0, 1]
    assert tl["breaches"] == [2, 1]


def test_timeline_of_nothing_and_bad_step() -> None:
    tl = timeline([], [], step_seconds=60.0)
    assert tl["times"] == [] and tl["hours"] == [] and tl["queue"] == []
    with pytest.raises(ValueError):
        timeline([], [], step_seconds=0.0)


def test_empty_trace_still_gives_a_report(tmp_path: Path) -> None:
    empty = simulate_ideal([], []).summary  # 0 requests, share 1.0
    assert empty.requests == 0 and empty.per_hour == ()
    results = results_for([], as_summary(empty), roster=[[0.0, 7200.0, 3.0]])
    page = write_report(results, tmp_path).read_text(encoding="utf-8")
    assert len(images(page)) == 5
    assert "100.00 %" in page
    results = results_for([], as_summary(empty), roster=[], erlang_c=[])
    assert len(images(write_report(results, tmp_path).read_text(encoding="utf-8"))) == 5


def test_strings_are_escaped(tmp_path: Path) -> None:
    empty = as_summary(simulate_ideal([], []).summary)
    results = results_for(
        [],
        empty,
        scenario="<b>steady</b>",
        description='<script>alert("x")</script> & co',
        machine="<img src=x onerror=alert(1)>",
    )
    page = write_report(results, tmp_path).read_text(encoding="utf-8")
    assert "<script>" not in page and "<b>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in page
    assert "&lt;b&gt;steady&lt;/b&gt;" in page


def test_the_perfect_edf_reference_is_shown_when_given(
    steady: dict[str, Any], tmp_path: Path
) -> None:
    results = dict(steady)
    results["edf"] = {"summary": {**results["ideal"]["summary"], "share_within": 0.9}}
    results["gap_edf_pp"] = (0.9 - results["live"]["summary"]["share_within"]) * 100
    page = write_report(results, tmp_path).read_text()
    assert "Perfect earliest-deadline-first" in page and "90.00 %" in page
