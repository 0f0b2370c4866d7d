"""Daily API-call quota through gRPC: exact under concurrency, with rich refusals."""

from __future__ import annotations

import asyncio

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from tickmesh.storage.v1 import storage_pb2

from tests.integration.storage_service.conftest import StorageMesh

CALLERS, ATTEMPTS, FREE_LIMIT = 50, 1_200, 1_000


async def test_fifty_concurrent_callers_get_exactly_the_limit(storage_mesh: StorageMesh) -> None:
    tenant = await storage_mesh.tenant()  # free: 1,000 calls a day
    stub = storage_mesh.storage_stub(tenant.api_key)
    attempts = iter(range(ATTEMPTS))
    ok: list[dict[str, str]] = []
    refused: list[grpc.aio.AioRpcError] = []

    async def caller() -> None:
        for _ in attempts:  # the callers share one bounded iterator
            call = stub.GetSubscription(storage_pb2.GetSubscriptionRequest())
            try:
                await call
            except grpc.aio.AioRpcError as err:
                refused.append(err)
            else:
                ok.append(dict(await call.trailing_metadata()))  # type: ignore[arg-type]

    await asyncio.gather(*(caller() for _ in range(CALLERS)))

    assert len(ok) == FREE_LIMIT
    assert len(refused) == ATTEMPTS - FREE_LIMIT
    assert sorted(int(t["ratelimit-remaining"]) for t in ok) == list(range(FREE_LIMIT))
    assert sum("ratelimit-near-limit" in t for t in ok) == FREE_LIMIT - 800 + 1
    err = refused[0]
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    trailing = dict(err.trailing_metadata())  # type: ignore[arg-type]
    assert trailing["ratelimit-limit"] == "1000" and trailing["ratelimit-remaining"] == "0"
    assert int(trailing["ratelimit-reset"]) > 0
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None
    failure = error_details_pb2.QuotaFailure()
    assert any(d.Unpack(failure) for d in status.details)
    assert failure.violations[0].subject == f"company:{tenant.company_id}"
