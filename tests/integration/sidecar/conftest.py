"""The Hub's test mesh (a real Hub and Storage, instances per test) and sidecars in front of it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest_asyncio

from mesh.sidecar.server import Sidecar, SidecarSettings
from tests.integration.hub.conftest import HubMesh, hub_mesh  # noqa: F401  (a fixture)

StartSidecar = Callable[[str], Awaitable[Sidecar]]


@pytest_asyncio.fixture
async def start_sidecar(hub_mesh: HubMesh, tmp_path: Path) -> AsyncIterator[StartSidecar]:  # noqa: F811
    """Starts a sidecar on a free loopback port presenting the given key; stops them all."""
    started: list[Sidecar] = []

    async def start(key: str) -> Sidecar:
        sidecar = Sidecar(
            SidecarSettings(
                listen="127.0.0.1:0", hub_address=hub_mesh.hub.address, key=key, grace_s=1.0
            )
        )
        await sidecar.start()
        started.append(sidecar)
        return sidecar

    try:
        yield start
    finally:
        for sidecar in started:
            await sidecar.stop()
