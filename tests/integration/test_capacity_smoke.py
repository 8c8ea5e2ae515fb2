"""`teleconsult load capacity` at a tiny size against real processes (redis-server, server
nodes, the raw relay, generator processes): the figures are written, their counts agree and no
relayed message is lost. Not a speed test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import REPO

RUN_TIMEOUT = 240


def _capacity(out: Path, *args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "loadtests.capacity", *args, "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    document: dict[str, Any] = json.loads((out / f"{args[0]}.json").read_text())
    assert document["machine"]["nproc"] >= 1
    assert "figures:" in proc.stdout
    return document


def _check_relay(r: dict[str, Any], pairs: int) -> None:
    assert r["connect"]["connected"] == 2 * pairs and r["connect"]["failed"] == 0
    assert r["sent"] > 0
    assert r["lost"] == 0 and r["received"] == r["sent"]
    assert r["acked"] == r["sent"] and r["ack_errors"] == 0 and r["send_errors"] == 0
    assert r["latency"]["p50_ms"] is not None
    assert r["latency"]["p50_ms"] <= r["latency"]["p99_ms"] <= r["latency"]["max_ms"]
    assert r["server_cpu_seconds"] > 0 and r["server_cpu_us_per_message"] > 0


@pytest.mark.parametrize("nodes", ["1", "2"])
def test_relay_through_the_protocol(tmp_path: Path, nodes: str) -> None:
    args = ["relay", "--pairs", "25", "--rate", "100", "--seconds", "2", "--warmup", "0.5"]
    args += ["--nodes", nodes, "--generators", "1"] + (["--cross"] if nodes == "2" else [])
    [r] = _capacity(tmp_path, *args)["results"]
    pairing = r["pairing"]
    assert pairing["pairs"] == 25 and pairing["members_in_rooms"] == 50
    assert pairing["failed"] == 0 and pairing["mismatched"] == 0 and pairing["errors"] == []
    _check_relay(r, 25)
    assert r["longest_loop_pause_ms"] is not None


def test_raw_relay_ceiling(tmp_path: Path) -> None:
    args = ["ceiling", "--pairs", "25", "--rate", "100", "--seconds", "2", "--warmup", "0.5"]
    [r] = _capacity(tmp_path, *args)["results"]
    _check_relay(r, 25)


def test_ramp_and_storm(tmp_path: Path) -> None:
    [ramp] = _capacity(tmp_path, "ramp", "--clients", "50", "--step", "25", "--hold", "2")[
        "results"
    ]
    assert [s["connected"] for s in ramp["steps"]] == [25, 50]
    last = ramp["steps"][-1]
    assert last["open"] == 50 + ramp["movers"]
    assert last["fds"] >= 50 and last["max_rss_mb"] > 0
    assert all(s["connect"]["failed"] == 0 for s in ramp["steps"])
    assert sum(s["served_by_movers"] for s in ramp["steps"]) > 0
    [storm] = _capacity(tmp_path, "storm", "--clients", "50")["results"]
    assert storm["first_connect"]["connected"] == 50
    [round_] = storm["rounds"]
    assert round_["dropped"] == 50 and round_["connected"] == 50 and round_["failed"] == 0
    assert round_["absorbed_seconds"] > 0
