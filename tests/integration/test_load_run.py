"""`teleconsult load run` end to end: its own redis-server and server on a scaled clock, simulated
patients and GPs over socket.io, the ideal beside it, results.json and report.html. A smoke test:
it checks that the report is produced, that its numbers add up and that nothing is lost (not
speed)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support.processes import TELECONSULT

SCENARIO = Path(__file__).parent / "data" / "load_smoke.toml"


def test_a_short_overloaded_stretch_is_replayed_and_reported(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [str(TELECONSULT), "load", "run", str(SCENARIO), "--from", "9h", "--duration", "0.2h"]
        + ["--drain", "0.3h", "--seed", "3", "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    live, ideal = results["live"], results["ideal"]
    s = live["summary"]
    assert s["requests"] == ideal["summary"]["requests"] == len(live["records"]) > 10
    assert s["served"] + s["abandoned"] + s["unserved"] + s["lost"] == s["requests"]
    assert s["lost"] == 0 and results["lost_reasons"] == {}
    assert s["within"] <= s["served"] and s["abandoned"] > 0  # overloaded: some leave
    assert results["gap_pp"] == round(
        (ideal["summary"]["share_within"] - s["share_within"]) * 100, 3
    )
    edf = results["edf"]["summary"]
    assert edf["requests"] == s["requests"] and edf["lost"] == 0
    assert results["gap_edf_pp"] == round((edf["share_within"] - s["share_within"]) * 100, 3)
    kinds = {(r["kind"], r["channel"]) for r in live["records"]}
    assert {("immediate", "video"), ("immediate", "phone"), ("appointment", "video")} <= kinds
    for record in live["records"]:
        if record["status"] == "served":
            assert record["accepted_at"] >= record["time"] - 5  # not before it was asked
            assert record["busy_until"] > record["accepted_at"]
    assert results["booking_refused"] == 0
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 5 and "load_smoke" in html
