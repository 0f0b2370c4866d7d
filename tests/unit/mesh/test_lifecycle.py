"""Lifecycle: parts start in order, stop in reverse, and a failure stops what had started."""

from __future__ import annotations

import asyncio

import pytest

from mesh.lifecycle import Lifecycle, Part, background


def recording(log: list[str], name: str, *, fail_start: bool = False) -> Part:
    async def start() -> None:
        if fail_start:
            raise RuntimeError(f"{name} cannot start")
        log.append(f"start {name}")

    return Part(
        name,
        start=start,
        drain=lambda: log.append(f"drain {name}"),
        stop=lambda: log.append(f"stop {name}"),
    )


async def test_parts_start_in_order_and_stop_in_reverse() -> None:
    log: list[str] = []
    lifecycle = Lifecycle()
    lifecycle.add(Part("store", stop=lambda: log.append("stop store")))  # opened: running
    lifecycle.add(recording(log, "a"))
    lifecycle.add(recording(log, "b"))
    await lifecycle.start()
    lifecycle.drain()
    await lifecycle.stop()
    await lifecycle.stop()  # a second stop does nothing
    assert log == [
        "start a", "start b", "drain b", "drain a", "stop b", "stop a", "stop store",
    ]  # fmt: skip


async def test_a_part_that_fails_to_start_stops_the_ones_before_it() -> None:
    log: list[str] = []
    lifecycle = Lifecycle()
    lifecycle.add(Part("store", stop=lambda: log.append("stop store")))
    lifecycle.add(recording(log, "a"))
    lifecycle.add(recording(log, "b", fail_start=True))
    lifecycle.add(recording(log, "c"))
    with pytest.raises(RuntimeError, match="b cannot start"):
        await lifecycle.start()
    assert log == ["start a", "stop a", "stop store"]  # never b's or c's stop


async def test_a_failing_stop_does_not_keep_the_others_from_stopping(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: list[str] = []

    def broken() -> None:
        raise OSError("disk gone")

    lifecycle = Lifecycle()
    lifecycle.add(Part("first", stop=lambda: log.append("stop first")))
    lifecycle.add(Part("broken", stop=broken))
    await lifecycle.stop()
    assert log == ["stop first"]
    assert "stopping broken failed" in caplog.text


async def test_a_background_part_runs_until_stopped() -> None:
    running, cancelled = asyncio.Event(), asyncio.Event()

    async def run() -> None:
        running.set()
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    lifecycle = Lifecycle()
    lifecycle.add(background("sweeper", run))
    await lifecycle.start()
    await asyncio.wait_for(running.wait(), 5)
    await lifecycle.stop()
    assert cancelled.is_set()
