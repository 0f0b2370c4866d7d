"""mesh.healthcheck, the container health check: exit 0 only when the server is SERVING."""

from __future__ import annotations

import asyncio

import pytest

from mesh import healthcheck
from mesh.config import MeshConfig
from mesh.lifecycle import Lifecycle, Part
from mesh.server import build_server
from tests.waiting import eventually


async def run_check(*args: str) -> int:
    # The check is synchronous; off the loop, so the server under test keeps serving.
    return await asyncio.to_thread(healthcheck.main, list(args))


async def test_not_serving_until_ready_then_serving(capsys: pytest.CaptureFixture[str]) -> None:
    ready = asyncio.Event()

    async def readiness() -> None:
        await ready.wait()

    lifecycle = Lifecycle()
    lifecycle.add(Part("stores", start=readiness))
    server = await build_server(
        MeshConfig(tls_insecure=True),
        component="probe-test",
        port=0,
        bindings=[],
        lifecycle=lifecycle,
    )
    starting = asyncio.create_task(server.start())
    try:
        address = f"127.0.0.1:{server.port}"

        async def answers() -> bool:  # start() may not have bound the port yet
            return await asyncio.to_thread(healthcheck.check, address, 1.0) == "NOT_SERVING"

        await eventually(answers, "the health service to answer before readiness")
        assert await run_check(str(server.port)) == 1
        assert "NOT_SERVING" in capsys.readouterr().out
        ready.set()
        await starting
        assert await run_check(str(server.port)) == 0
        assert capsys.readouterr().out.strip().endswith("SERVING")
    finally:
        ready.set()
        await starting
        await server.stop()
    assert await run_check(str(server.port)) == 1  # stopped: unreachable


async def test_service_name_reads_the_configured_port(monkeypatch: pytest.MonkeyPatch) -> None:
    server = await build_server(
        MeshConfig(tls_insecure=True), component="probe-test", port=0, bindings=[]
    )
    await server.start()
    try:
        monkeypatch.setenv("TICKMESH_BILLING_PORT", str(server.port))
        assert await run_check("billing") == 0
        assert await run_check("billing", "127.0.0.1") == 0
    finally:
        await server.stop()


@pytest.mark.parametrize("args", [[], ["nonsense"], ["1", "2", "3"]])
def test_bad_usage_exits_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert healthcheck.main(args) == 2
    assert "usage" in capsys.readouterr().err


def test_bad_configuration_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKMESH_HUB_PORT", "not-a-port")
    assert healthcheck.main(["hub"]) == 2
