"""The garbage-collection lever: what survives young collections is frozen soon after (so a burst
of connections never piles up in the young generations), and nothing when nothing happened."""

from __future__ import annotations

import asyncio
import gc

import pytest

from signaling import tuning


async def test_survivors_of_young_collections_are_frozen_within_the_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tuning, "WARM_UP_SECONDS", 0.0)
    monkeypatch.setattr(tuning, "FREEZE_EVERY_SECONDS", 0.05)
    thresholds = gc.get_threshold()
    tuner = tuning.GcTuner()
    task = asyncio.create_task(tuner.run_forever())
    try:
        await asyncio.sleep(0.1)
        frozen = gc.get_freeze_count()
        await asyncio.sleep(0.2)  # nothing allocated: nothing to freeze
        assert gc.get_freeze_count() <= frozen + 1000
        kept = [[i] for i in range(20_000)]  # long-lived objects, through young collections
        gc.collect(0)
        await asyncio.sleep(0.2)
        assert gc.get_freeze_count() >= frozen + 20_000
        assert len(kept) == 20_000
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gc.unfreeze()
        gc.set_threshold(*thresholds)
