"""A real video consultation between two headless Chromium pages with fake camera and mic:
passes only when both RTCPeerConnections are connected and each side decoded remote video."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, Page, expect

from tests.support.processes import DEMO_PASSWORD, ServerProcess

STATS_JS = """async () => {
  const tc = window.__tc;
  if (!tc || !tc.pc) return null;
  const stats = await tc.pc.getStats();
  let framesDecoded = 0, audioSamples = 0;
  stats.forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video') framesDecoded += r.framesDecoded || 0;
    if (r.type === 'inbound-rtp' && r.kind === 'audio') audioSamples += r.totalSamplesReceived || 0;
  });
  const video = document.querySelector('[data-testid=remote-video]');
  return {state: tc.pc.connectionState, framesDecoded, audioSamples,
          width: video ? video.videoWidth : 0};
}"""


async def _login(page: Page, base: str, path: str, email: str) -> None:
    await page.goto(f"{base}{path}")
    await page.get_by_test_id("login-email").fill(email)
    await page.get_by_test_id("login-password").fill(DEMO_PASSWORD)
    await page.get_by_test_id("login-submit").click()


async def _media_flows(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for _ in range(150):  # 15 s
        result = await page.evaluate(STATS_JS) or {}
        if (
            result.get("state") == "connected"
            and result.get("framesDecoded", 0) > 0
            and result.get("width", 0) > 0
            and result.get("audioSamples", 0) > 0
        ):
            return result
        await page.wait_for_timeout(100)
    raise AssertionError(f"media did not flow: {result}")


async def test_patient_and_gp_see_and_hear_each_other(
    browser: Browser, fresh_server: ServerProcess
) -> None:
    base = fresh_server.url
    gp_ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    patient_ctx = await browser.new_context(viewport={"width": 390, "height": 844})
    try:
        gp = await gp_ctx.new_page()
        patient = await patient_ctx.new_page()
        await _login(gp, base, "/physician", "gp1@demo.test")
        await gp.get_by_test_id("go-available").click()
        await expect(gp.get_by_test_id("queue-size")).to_contain_text("0")

        await _login(patient, base, "/patient", "patient1@demo.test")
        await patient.get_by_test_id("request-video").click()
        # The GP is available: the offer arrives at once; the patient sees their place meanwhile.
        await expect(gp.get_by_test_id("offer-accept")).to_be_visible(timeout=10_000)
        await expect(patient.get_by_test_id("call-state")).to_have_attribute(
            "data-state", "offered"
        )
        await expect(patient.get_by_test_id("queue-position")).to_contain_text("1")

        await gp.get_by_test_id("offer-accept").click()
        for page in (gp, patient):
            await expect(page.get_by_test_id("call-state")).to_have_attribute(
                "data-state", "connected", timeout=15_000
            )
        gp_stats = await _media_flows(gp)
        patient_stats = await _media_flows(patient)
        assert gp_stats["framesDecoded"] > 0 and patient_stats["framesDecoded"] > 0
        await expect(patient.get_by_test_id("call-state")).to_have_attribute("data-media", "video")
        await expect(gp.get_by_test_id("call-state")).to_have_attribute("data-media", "video")
        await expect(patient.get_by_test_id("local-video")).to_be_visible()

        await patient.get_by_test_id("hangup").click()
        for page in (gp, patient):
            await expect(page.get_by_test_id("call-state")).to_have_attribute(
                "data-state", "ended", timeout=10_000
            )
    finally:
        await gp_ctx.close()
        await patient_ctx.close()


async def test_page_reload_keeps_the_session_and_the_place(
    browser: Browser, fresh_server: ServerProcess
) -> None:
    """The refresh cookie brings a reloaded page back without a new login, with its state."""
    ctx = await browser.new_context()
    try:
        page = await ctx.new_page()
        await _login(page, fresh_server.url, "/patient", "patient2@demo.test")
        await page.get_by_test_id("request-video").click()
        await expect(page.get_by_test_id("call-state")).to_have_attribute("data-state", "waiting")
        await page.reload()
        await expect(page.get_by_test_id("call-state")).to_have_attribute("data-state", "waiting")
        await expect(page.get_by_test_id("queue-position")).to_contain_text("1")
        await expect(page.get_by_test_id("login-email")).to_be_hidden()
    finally:
        await ctx.close()


async def test_french_first_and_english_available(
    browser: Browser, fresh_server: ServerProcess
) -> None:
    ctx = await browser.new_context()
    try:
        page = await ctx.new_page()
        await page.goto(f"{fresh_server.url}/patient")
        assert await page.evaluate("document.documentElement.lang") == "fr"
        await page.get_by_test_id("lang-en").click()
        assert await page.evaluate("document.documentElement.lang") == "en"
        await page.get_by_test_id("lang-fr").click()
        assert await page.evaluate("document.documentElement.lang") == "fr"
    finally:
        await ctx.close()
