"""`teleconsult serve` runs on uvloop unless TELECONSULT_EVENT_LOOP=asyncio."""

from __future__ import annotations

import asyncio

import pytest

from signaling import cli


def _loop_module(monkeypatch: pytest.MonkeyPatch, choice: str | None) -> str:
    if choice is None:
        monkeypatch.delenv("TELECONSULT_EVENT_LOOP", raising=False)
    else:
        monkeypatch.setenv("TELECONSULT_EVENT_LOOP", choice)
    seen: list[str] = []

    async def main() -> None:
        seen.append(type(asyncio.get_running_loop()).__module__)

    cli._run(main())
    return seen[0]


def test_serve_runs_on_uvloop_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _loop_module(monkeypatch, None).startswith("uvloop")


def test_asyncio_loop_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _loop_module(monkeypatch, "asyncio").startswith("asyncio")
