"""The degradation ladder in real browsers (R8, R15): no camera -> audio-only call; no
microphone or denied permission -> phone task; relay-only calls through a real coturn, and what
happens when coturn stops mid-call."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.support.processes import DEMO_PASSWORD, Coturn, RedisServer, ServerProcess

NO_CAMERA = """(() => {
  const md = navigator.mediaDevices;
  const gum = md.getUserMedia.bind(md);
  const enumerate = md.enumerateDevices.bind(md);
  md.getUserMedia = async (c) => {
    if (c && c.video) throw new DOMException('Requested device not found', 'NotFoundError');
    return gum(c);
  };
  md.enumerateDevices = async () => (await enumerate()).filter((d) => d.kind !== 'videoinput');
})();"""

NO_MICROPHONE = """(() => {
  const md = navigator.mediaDevices;
  const gum = md.getUserMedia.bind(md);
  const enumerate = md.enumerateDevices.bind(md);
  md.getUserMedia = async (c) => {
    if (c && c.audio) throw new DOMException('Requested device not found', 'NotFoundError');
    return gum(c);
  };
  md.enumerateDevices = async () => (await enumerate()).filter((d) => d.kind !== 'audioinput');
})();"""

DENIED = """(() => {
  navigator.mediaDevices.getUserMedia = async () => {
    throw new DOMException('Permission denied', 'NotAllowedError');
  };
})();"""

PAIR_JS = """async () => {
  const tc = window.__tc;
  if (!tc || !tc.pc) return null;
  const stats = await tc.pc.getStats();
  let frames = 0, pair = null;
  const byId = {};
  stats.forEach((r) => { byId[r.id] = r; });
  stats.forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video') frames += r.framesDecoded || 0;
    if (r.type === 'transport' && r.selectedCandidatePairId) pair = byId[r.selectedCandidatePairId];
  });
  const local = pair ? byId[pair.localCandidateId] : null;
  return {state: tc.pc.connectionState, frames, localType: local ? local.candidateType : null};
}"""


async def _login(page: Page, base: str, path: str, email: str) -> None:
    await page.goto(f"{base}{path}")
    await page.get_by_test_id("login-email").fill(email)
    await page.get_by_test_id("login-password").fill(DEMO_PASSWORD)
    await page.get_by_test_id("login-submit").click()


async def _poll(page: Page, check: Any, timeout_s: float) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for _ in range(int(timeout_s * 5)):
        result = await page.evaluate(PAIR_JS) or {}
        if check(result):
            return result
        await page.wait_for_timeout(200)
    raise AssertionError(f"not reached in {timeout_s}s: {result}")


async def _gp_takes_offer(gp: Page, base: str) -> None:
    await _login(gp, base, "/physician", "gp1@demo.test")
    await gp.get_by_test_id("go-available").click()
    await expect(gp.get_by_test_id("offer-accept")).to_be_visible(timeout=15_000)
    await gp.get_by_test_id("offer-accept").click()


@pytest.fixture
def node(tmp_path: Path, redis_server: RedisServer) -> Iterator[ServerProcess]:
    redis_server.flush()
    proc = ServerProcess(tmp_path / "node", redis_url=redis_server.url).start()
    yield proc
    proc.stop()


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[Coturn]:
    (tmp_path / "turn").mkdir()
    turn = Coturn(tmp_path / "turn").start()
    yield turn
    turn.stop()


@pytest.fixture
def relay_node(
    tmp_path: Path, redis_server: RedisServer, coturn: Coturn
) -> Iterator[ServerProcess]:
    redis_server.flush()
    env = {
        "TELECONSULT_TURN_URLS": coturn.url,
        "TELECONSULT_TURN_SECRET": coturn.secret,
        "TELECONSULT_ICE_RELAY_ONLY": "1",
    }
    proc = ServerProcess(tmp_path / "node", redis_url=redis_server.url, env=env).start()
    yield proc
    proc.stop()


@pytest.fixture
async def contexts(browser: Browser) -> AsyncIterator[list[BrowserContext]]:
    made: list[BrowserContext] = []
    yield made
    for context in made:
        await context.close()


async def _context(browser: Browser, made: list[BrowserContext], script: str | None = None) -> Page:
    context = await browser.new_context()
    if script:
        await context.add_init_script(script)
    made.append(context)
    return await context.new_page()


async def test_no_camera_gets_an_audio_only_call(
    browser: Browser, node: ServerProcess, contexts: list[BrowserContext]
) -> None:
    patient = await _context(browser, contexts, NO_CAMERA)
    gp = await _context(browser, contexts)
    await _login(patient, node.url, "/patient", "patient1@demo.test")
    await patient.get_by_test_id("device-check").click()
    result = patient.get_by_test_id("device-check-result")
    await expect(result).to_have_attribute("data-result", "audio", timeout=20_000)
    await patient.get_by_test_id("request-video").click()
    await _gp_takes_offer(gp, node.url)
    for page in (patient, gp):
        await expect(page.get_by_test_id("call-state")).to_have_attribute(
            "data-state", "connected", timeout=15_000
        )
    await expect(patient.get_by_test_id("call-state")).to_have_attribute("data-media", "audio")


@pytest.mark.parametrize("script", [NO_MICROPHONE, DENIED], ids=["no-microphone", "denied"])
async def test_without_microphone_the_request_becomes_a_phone_task(
    browser: Browser, node: ServerProcess, contexts: list[BrowserContext], script: str
) -> None:
    patient = await _context(browser, contexts, script)
    gp = await _context(browser, contexts)
    await _login(patient, node.url, "/patient", "patient1@demo.test")
    await patient.get_by_test_id("device-check").click()
    await expect(patient.get_by_test_id("device-check-result")).to_have_attribute(
        "data-result", "phone", timeout=20_000
    )
    number = patient.get_by_test_id("phone-number")
    if not await number.input_value():
        await number.fill("06 00 00 00 01")
    await patient.get_by_test_id("request-phone").click()
    state = patient.get_by_test_id("call-state")
    await expect(state).to_have_attribute("data-state", "phone", timeout=10_000)
    await expect(state).to_contain_text("06")
    await _gp_takes_offer(gp, node.url)
    task = gp.get_by_test_id("phone-task")
    await expect(task).to_be_visible(timeout=10_000)
    href = await gp.get_by_test_id("phone-call-link").get_attribute("href")
    assert href is not None and href.startswith("tel:+33")
    await gp.get_by_test_id("phone-reached").click()
    await gp.get_by_test_id("phone-end").click()
    await expect(gp.get_by_test_id("gp-status")).to_have_attribute("data-status", "wrap_up")


async def _relay_call(browser: Browser, base: str, made: list[BrowserContext]) -> tuple[Page, Page]:
    patient = await _context(browser, made)
    gp = await _context(browser, made)
    await _login(patient, base, "/patient", "patient1@demo.test")
    await patient.get_by_test_id("request-video").click()
    await _gp_takes_offer(gp, base)
    for page in (patient, gp):
        await _poll(
            page,
            lambda r: (
                r.get("state") == "connected"
                and r.get("frames", 0) > 0
                and r.get("localType") == "relay"
            ),
            20,
        )
    return patient, gp


async def test_relay_only_call_through_coturn(
    browser: Browser, relay_node: ServerProcess, coturn: Coturn, contexts: list[BrowserContext]
) -> None:
    patient, gp = await _relay_call(browser, relay_node.url, contexts)
    # Both ends use a relay candidate of this coturn: media went through TURN.
    for page in (patient, gp):
        pair = await page.evaluate(PAIR_JS)
        assert pair["localType"] == "relay" and pair["frames"] > 0


async def test_relay_call_recovers_by_ice_restart_when_coturn_returns(
    browser: Browser, relay_node: ServerProcess, coturn: Coturn, contexts: list[BrowserContext]
) -> None:
    patient, gp = await _relay_call(browser, relay_node.url, contexts)
    before = (await patient.evaluate(PAIR_JS))["frames"]
    coturn.stop()
    # Media is cut, signaling (the server) is alive: Chromium sees disconnected, then failed.
    await _poll(patient, lambda r: r.get("state") in ("disconnected", "failed"), 45)
    coturn.start()  # the same port and secret
    after = await _poll(
        patient,
        lambda r: r.get("state") == "connected" and r.get("frames", 0) > before + 10,
        60,
    )
    assert after["localType"] == "relay"
    await expect(gp.get_by_test_id("call-state")).to_have_attribute("data-state", "connected")


async def test_relay_call_becomes_a_phone_callback_when_coturn_stays_down(
    browser: Browser, relay_node: ServerProcess, coturn: Coturn, contexts: list[BrowserContext]
) -> None:
    patient, gp = await _relay_call(browser, relay_node.url, contexts)
    coturn.stop()
    # The ladder proposes audio, then a phone callback; the patient accepts the phone callback.
    phone = patient.get_by_test_id("degrade-phone")
    await expect(phone).to_be_visible(timeout=60_000)
    await phone.click()
    await expect(patient.get_by_test_id("call-state")).to_have_attribute(
        "data-state", "phone", timeout=10_000
    )
    await expect(gp.get_by_test_id("phone-task")).to_be_visible(timeout=10_000)
