"""R7 in the browsers: a patient books a slot; at its time (the server's test clock) the GP is
offered that patient before an immediate request that arrived later; the supervisor board shows
the queue and the share served within 30 minutes change."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect

from tests.support.clients import connect_as
from tests.support.processes import DEMO_PASSWORD, RedisServer, ServerProcess

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def clock_server(tmp_path: Path, redis_server: RedisServer) -> Iterator[ServerProcess]:
    redis_server.flush()
    proc = ServerProcess(
        tmp_path / "node", redis_url=redis_server.url, env={"TELECONSULT_TEST_CLOCK": "1"}
    ).start()
    yield proc
    proc.stop()


async def _clock(server: ServerProcess, seconds: float) -> datetime:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{server.url}/api/test/clock", json={"advance_seconds": seconds}
        ) as resp:
            assert resp.status == 200
            return datetime.fromisoformat((await resp.json())["now"])


async def _login(page: Page, base: str, path: str, email: str) -> None:
    await page.goto(f"{base}{path}")
    await page.get_by_test_id("login-email").fill(email)
    await page.get_by_test_id("login-password").fill(DEMO_PASSWORD)
    await page.get_by_test_id("login-submit").click()


async def test_booked_patient_is_offered_first_and_the_board_follows(
    browser: Browser, clock_server: ServerProcess
) -> None:
    base = clock_server.url
    now = await _clock(clock_server, 0)
    tomorrow = (now.astimezone(PARIS) + timedelta(days=1)).date()
    slot = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 10, 0, tzinfo=PARIS)
    contexts = [await browser.new_context() for _ in range(3)]
    walk_in = None
    try:
        patient, gp, supervisor = [await c.new_page() for c in contexts]
        await _login(supervisor, base, "/supervisor", "supervisor@demo.test")
        await expect(supervisor.get_by_test_id("board-queue-size")).to_contain_text("0")
        await expect(supervisor.get_by_test_id("board-served-hour")).not_to_contain_text("100")

        # The patient books tomorrow 10:00 (Paris) from the page.
        await _login(patient, base, "/patient", "patient1@demo.test")
        await patient.get_by_test_id("book-date").fill(tomorrow.isoformat())
        slot_button = patient.locator(f'[data-testid="book-slot"][data-start="{slot.isoformat()}"]')
        await slot_button.click()
        booked = patient.get_by_test_id("appointment")
        await expect(booked).to_have_attribute("data-state", "booked")

        # Five minutes before the slot the appointment enters the queue; then a walk-in patient
        # asks for an immediate consultation (deadline 30 minutes later than the slot's).
        await _clock(clock_server, (slot - now).total_seconds() - 5 * 60)
        await expect(patient.get_by_test_id("call-state")).to_have_attribute(
            "data-state", "waiting", timeout=10_000
        )
        walk_in = await connect_as(base, "patient2@demo.test")
        immediate = (await walk_in.call("patient:request_video"))["request"]
        assert immediate["position"] == 2
        await expect(supervisor.get_by_test_id("board-queue-size")).to_contain_text(
            "2", timeout=10_000
        )

        # The GP is offered the booked patient first.
        await _login(gp, base, "/physician", "gp1@demo.test")
        await gp.get_by_test_id("go-available").click()
        await expect(gp.get_by_test_id("offer-accept")).to_be_visible(timeout=10_000)
        await expect(gp.get_by_test_id("offer-card")).to_contain_text("Anne")
        await expect(patient.get_by_test_id("call-state")).to_have_attribute(
            "data-state", "offered"
        )
        await gp.get_by_test_id("offer-accept").click()
        await expect(supervisor.get_by_test_id("board-queue-size")).to_contain_text(
            "1", timeout=10_000
        )

        # Past the slot time, the served share of the last hour shows it: on time, 100 %.
        await _clock(clock_server, 6 * 60)
        served = supervisor.get_by_test_id("board-served-hour")
        await expect(served).to_contain_text("100", timeout=15_000)
        await expect(served).to_have_attribute("data-on-time", "1")
        await expect(served).to_have_attribute("data-total", "1")
    finally:
        if walk_in is not None:
            await walk_in.close()
        for context in contexts:
            await context.close()
