"""A registered instance process SIGKILLed mid-stream: its routed streams end UNAVAILABLE, it
leaves rotation within 2 s, and new calls through the Hub reach the surviving instance."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import sys
import textwrap
from pathlib import Path

import grpc
import pytest
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc

from .conftest import WAIT, HubMesh, eventually
from .fakes import Seen, create_fake

REPO = Path(__file__).resolve().parents[3]

FAKE_BRIDGE_PROCESS = textwrap.dedent(
    """
    import asyncio

    from mesh.config import load_config
    from mesh.server import serve
    from tests.integration.hub.fakes import Seen, create_fake

    async def main():
        server = await create_fake(load_config(), "bridge", Seen())
        print(server.instance_id, flush=True)
        await serve(server)

    asyncio.run(main())
    """
)


async def test_sigkill_mid_stream(hub_mesh: HubMesh, tmp_path: Path) -> None:
    survivor_seen = Seen()
    survivor = await hub_mesh.start_instance(
        functools.partial(create_fake, component="bridge", seen=survivor_seen)
    )
    config = hub_mesh.config
    assert config.mesh_secret and config.admin_key and config.redis_url
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKMESH_")}
    env |= {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        "TICKMESH_HUB_ADDRESS": hub_mesh.hub.address,
        "TICKMESH_BRIDGE_PORT": "0",
        "TICKMESH_STORAGE_PORT": str(config.storage_port),
        "TICKMESH_MESH_SECRET": config.mesh_secret,
        "TICKMESH_ADMIN_KEY": config.admin_key,
        "TICKMESH_REDIS_URL": config.redis_url,
        "TICKMESH_REDIS_PREFIX": config.redis_prefix,
        "TICKMESH_DATA_DIR": str(tmp_path / "doomed"),
        "TICKMESH_TLS_INSECURE": "true",
        # Meant for enterprise: the operator (routed as enterprise) is sent there first.
        "TICKMESH_INSTANCE_TIERS": "enterprise",
        "TICKMESH_LOG_FORMAT": "text",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", FAKE_BRIDGE_PROCESS, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        doomed = (await asyncio.wait_for(proc.stdout.readline(), 3 * WAIT)).decode().strip()
        await hub_mesh.wait_health(doomed, 1)  # SERVING
        stub = bridge_pb2_grpc.BridgeServiceStub(
            hub_mesh.channel(hub_mesh.hub.address, hub_mesh.operator_key)
        )
        stream = stub.Subscribe(bridge_pb2.SubscribeRequest(resume_from=0), timeout=3 * WAIT)
        assert (await asyncio.wait_for(stream.read(), WAIT)).skipped == 0
        assert not survivor_seen.started.is_set()  # the stream is on the doomed process

        proc.send_signal(signal.SIGKILL)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            while True:
                await asyncio.wait_for(stream.read(), WAIT)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE

        parts = hub_mesh.parts

        def out_of_rotation() -> bool:
            instance = parts.registry.get(doomed)
            return instance is None or not parts.resolver.healthy(instance)

        await eventually(out_of_rotation, "the killed instance to leave rotation", within=2.0)
        # A client reconnecting through the Hub reaches the survivor.
        again = stub.Subscribe(bridge_pb2.SubscribeRequest(resume_from=3), timeout=WAIT)
        assert [m.skipped async for m in again] == [0, 1, 2]
        assert survivor_seen.started.is_set()
        assert survivor.instance_id != doomed
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
