"""`teleconsult serve` itself: health, pages, start on an existing data directory, settings."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime
from pathlib import Path

import aiohttp

from tests.integration.test_auth import VALID
from tests.support.clients import login
from tests.support.processes import TELECONSULT, ServerProcess


async def test_healthz_and_pages(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/healthz") as resp:
            assert resp.status == 200
            body = await resp.json()
            assert body["status"] == "ok" and datetime.fromisoformat(body["now"]).tzinfo
        for path in ("/", "/patient", "/physician"):
            async with http.get(f"{server.url}{path}") as resp:
                assert resp.status == 200
                assert "text/html" in resp.headers["Content-Type"]
                csp = resp.headers["Content-Security-Policy"]
                assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
                assert resp.headers["X-Content-Type-Options"] == "nosniff"
        async with http.get(f"{server.url}/api/nothing-here") as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]["code"] == "not_found"


async def test_restart_on_an_existing_data_directory_keeps_everything(tmp_path: Path) -> None:
    """The schema is migrated, not recreated, and --demo seeding never wipes data."""
    node = ServerProcess(tmp_path / "node").start()
    try:
        async with aiohttp.ClientSession() as http:
            body = {**VALID, "email": "kept@example.fr"}
            async with http.post(f"{node.url}/api/auth/register", json=body) as resp:
                assert resp.status == 201
        node.stop()
        node.start()
        assert "demo accounts: 0 created, 11 already there" in node.log()
        await login(node.url, "kept@example.fr", VALID["password"])
        await login(node.url, "gp2@demo.test")
    finally:
        node.stop()


def test_a_bad_setting_is_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "TELECONSULT_ALLOWED_ORIGINS": "*"}
    done = subprocess.run(
        [str(TELECONSULT), "serve", "--port", "0", "--data-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "wildcard origin is refused" in done.stderr
