"""A Redis outage seen by a tenant: UNAVAILABLE with RetryInfo while cut, served once back,
one warning and no ERROR line."""

from __future__ import annotations

import logging
import uuid
from urllib.parse import urlsplit

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from mesh.tiers import Tier
from tests.integration.bridge.conftest import BridgeFactory
from tests.support.backing import REDIS_URL, delete_redis_prefix, require_redis
from tests.support.tcp_proxy import TcpProxy
from tests.waiting import eventually


@pytest.mark.redis
async def test_a_cut_redis_answers_unavailable_with_retry_info_then_serves_again(
    make_bridge: BridgeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    await require_redis()
    target = urlsplit(REDIS_URL)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    prefix = f"bridge-test:{uuid.uuid4().hex[:8]}:"
    try:
        bridge = await make_bridge(
            redis_url=f"redis://127.0.0.1:{proxy.port}{target.path}", redis_prefix=prefix
        )
        client = bridge.client(Tier.FREE)
        await client.usage()
        caplog.set_level(logging.INFO)

        await proxy.cut()
        for _ in range(3):  # every call of the outage, one warning for all of them
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await client.usage()
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            status = rpc_status.from_call(caught.value)
            assert status is not None
            retry = [d for d in status.details if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR)]
            assert len(retry) == 1

        await proxy.restore()

        async def served() -> bool:
            try:
                await client.usage()
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.UNAVAILABLE
                return False
            return True

        await eventually(served, "a call served after Redis is back")
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        warnings = [
            r.getMessage()
            for r in caplog.records
            if r.levelno == logging.WARNING and r.name.startswith("mesh.tenancy")
        ]
        assert warnings == ["quota store unavailable"]
        assert "reachable again" in caplog.text
        assert bridge.parts.quota.outage.outages == 1 and not bridge.parts.quota.outage.down
    finally:
        await proxy.close()
        await delete_redis_prefix(prefix)
