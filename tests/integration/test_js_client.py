"""The official socket.io JavaScript client drives a consultation by PROTOCOL.md alone."""

from __future__ import annotations

import asyncio
import json
import shutil

import pytest

from tests.support.processes import REPO, ServerProcess

SCRIPT = REPO / "tests" / "integration" / "js" / "call_flow.mjs"
PACKAGE = REPO / "web_client" / "package.json"


async def test_socket_io_client_from_npm_completes_a_call(fresh_server: ServerProcess) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed (Node 20 is part of the machine)")
    assert (REPO / "web_client" / "node_modules" / "socket.io-client").is_dir(), "run make test"
    proc = await asyncio.create_subprocess_exec(
        node,
        str(SCRIPT),
        fresh_server.url,
        str(PACKAGE),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, stderr.decode()
    out = json.loads(stdout.decode().strip().splitlines()[-1])
    assert out["initial_patient_state"] == {"request": None}
    assert out["request_ack"]["ok"] is True and out["request_ack"]["request"]["position"] == 1
    assert out["gp_available"] == {"ok": True}
    assert out["offered_request"] == out["request_ack"]["request"]["id"]
    assert out["accept_ack"]["ok"] is True
    assert out["patient_call_start"]["role"] == "callee"
    assert out["relay_ack"] == {"ok": True}
    assert out["relayed"]["from"] == "physician" and out["relayed"]["sdp"] == "v=0"
    assert out["bad_ack"]["ok"] is False and out["bad_ack"]["error"]["code"] == "invalid_payload"
    assert out["hangup_ack"] == {"ok": True}
    assert out["gp_ended"]["reason"] == "hangup_patient"
    assert out["refused"] == "token_invalid"
