"""The front door holds while streams are open: a revoked key's stream ends, a downgraded
tenant's stream stops carrying what the new tier excludes, both within the 1 s that
storage.proto promises for revocation and tier changes.

Storage, Ingestion and the Bridge run as their own processes on one shared Redis (each
mesh its own key prefix), as `tickmesh up` runs them. Sign-up, the door for a company
without a key, is here too.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import timestamp_pb2
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from clients import subscriber
from clients.errors import TickmeshError
from mesh.client_interceptors import api_key_interceptors
from tests.e2e.processes import ServiceProcesses
from tests.support.backing import REDIS_URL

pytestmark = pytest.mark.e2e
PROMISE_S = 1.0
"""storage.proto: revocation and tier changes are honoured mesh-wide within 1 s."""
SIGNUPS_PER_HOUR = 3
FIRST_TICK_S = 60.0
"""Bound on waiting for the stream's first ticks (the Bridge reaching Ingestion)."""


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcesses]:
    processes = ServiceProcesses(
        tmp_path_factory.mktemp("front-door"),
        extra_env={
            "TICKMESH_REDIS_URL": REDIS_URL,
            "TICKMESH_REDIS_PREFIX": f"front-door-{secrets.token_hex(4)}:",
            "TICKMESH_STORAGE_SIGNUPS_PER_HOUR": str(SIGNUPS_PER_HOUR),
        },
    )
    try:
        for service in ("storage", "ingestion", "bridge"):
            processes.start(service)
        yield processes
    finally:
        processes.stop_all()


async def _company(mesh: ServiceProcesses, tier: int, name: str) -> Any:
    request = storage_pb2.CreateCompanyRequest(
        name=name, tier=tier, owner_email=f"owner@{name.lower()}.example.com", owner_name="Owner"
    )
    return await _storage_call(mesh.operator_key, mesh, "CreateCompany", request)


async def _storage_call(key: str, mesh: ServiceProcesses, method: str, request: object) -> Any:
    async with grpc.aio.insecure_channel(
        mesh.address("storage"), interceptors=api_key_interceptors(key)
    ) as channel:
        return await getattr(storage_pb2_grpc.StorageServiceStub(channel), method)(request)


async def test_a_revoked_keys_open_stream_ends_unauthenticated(mesh: ServiceProcesses) -> None:
    created = await _company(mesh, tenancy_pb2.TIER_ENTERPRISE, "Revoked")
    owner = created.owner_key.api_key
    # A second key of the company streams; its owner revokes it.
    request = storage_pb2.IssueApiKeyRequest(user_id=created.owner.user_id, label="streamer")
    key = await _storage_call(owner, mesh, "IssueApiKey", request)
    async with grpc.aio.insecure_channel(
        mesh.address("bridge"), interceptors=api_key_interceptors(key.api_key)
    ) as channel:
        call = bridge_pb2_grpc.BridgeServiceStub(channel).Subscribe(
            bridge_pb2.SubscribeRequest(symbols=["EURUSD", "USDCHF"])
        )
        async with asyncio.timeout(FIRST_TICK_S):
            async for message in call:
                if message.WhichOneof("payload") == "batch" and message.batch.ticks:
                    break

        await _storage_call(
            owner, mesh, "RevokeApiKey", storage_pb2.RevokeApiKeyRequest(key_id=key.key_id)
        )
        revoked_at = time.monotonic()
        after_revocation = 0
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            async with asyncio.timeout(PROMISE_S):
                async for _ in call:
                    after_revocation += 1
        took = time.monotonic() - revoked_at

    error = TickmeshError.from_rpc_error(ended.value)
    assert error.code is grpc.StatusCode.UNAUTHENTICATED, (error, took)
    assert error.reason == "API_KEY_REVOKED", error
    # Honoured on the very next call too (the cache was invalidated, not just this stream).
    with pytest.raises(TickmeshError) as refused:
        async for _ in subscriber.subscribe(mesh.address("bridge"), key.api_key, ["EURUSD"]):
            pass
    assert refused.value.code is grpc.StatusCode.UNAUTHENTICATED


async def test_a_downgraded_stream_stops_carrying_what_free_excludes(
    mesh: ServiceProcesses,
) -> None:
    created = await _company(mesh, tenancy_pb2.TIER_ENTERPRISE, "Downgraded")
    symbols = ["EURUSD", "USDCHF"]  # USDCHF is not in free
    events = subscriber.subscribe(
        mesh.address("bridge"), created.owner_key.api_key, symbols, best_effort=True
    )
    seen_enterprise: set[str] = set()
    async with asyncio.timeout(FIRST_TICK_S):
        async for event in events:
            if isinstance(event, subscriber.Ticks):
                for tick in event.batch.ticks:
                    if tick.broker_quotes:  # enterprise's broker comparison
                        seen_enterprise.add(tick.symbol)
                if seen_enterprise == set(symbols):
                    break

    await _storage_call(
        mesh.operator_key,
        mesh,
        "ChangeTier",
        storage_pb2.ChangeTierRequest(
            company_id=created.company.company_id, tier=tenancy_pb2.TIER_FREE, effect=1
        ),
    )
    changed_at = time.monotonic()
    reconnect: subscriber.Reconnecting | None = None
    async with asyncio.timeout(PROMISE_S):
        async for event in events:
            if isinstance(event, subscriber.Reconnecting):
                reconnect = event
                break
            if isinstance(event, subscriber.Ticks):
                # Until the stream ends it may still carry what was in flight.
                continue
    took = time.monotonic() - changed_at
    assert reconnect is not None
    assert reconnect.error.code is grpc.StatusCode.ABORTED, reconnect.error
    assert reconnect.error.reason == "TIER_CHANGED"
    assert reconnect.error.metadata == {"from_tier": "enterprise", "to_tier": "free"}, took

    # The SDK subscribes again at once: free's grant, free's fields, nothing else.
    after: list[subscriber.Ticks] = []
    async with asyncio.timeout(FIRST_TICK_S):
        async for event in events:
            if isinstance(event, subscriber.Ack):
                assert list(event.ack.symbols) == ["EURUSD"]
                assert event.ack.tier == tenancy_pb2.TIER_FREE
            elif isinstance(event, subscriber.Ticks) and event.batch.ticks:
                after.append(event)
                if sum(len(t.batch.ticks) for t in after) >= 2:
                    break
    await events.aclose()
    ticks = [tick for event in after for tick in event.batch.ticks]
    assert {tick.symbol for tick in ticks} == {"EURUSD"}
    for tick in ticks:
        assert not tick.liquidity_score and not tick.broker_quotes and not tick.spread_pips


async def test_a_peer_guessing_keys_is_refused_while_a_good_peer_is_not(
    mesh: ServiceProcesses,
) -> None:
    good = (await _company(mesh, tenancy_pb2.TIER_FREE, "Patient")).owner_key.api_key
    request = storage_pb2.GetSubscriptionRequest()
    # Each channel its own connection (a local subchannel pool): two peers, as two hosts.
    own_connection = [("grpc.use_local_subchannel_pool", 1)]
    async with (
        grpc.aio.insecure_channel(mesh.address("storage"), options=own_connection) as guessing,
        grpc.aio.insecure_channel(mesh.address("storage"), options=own_connection) as patient,
    ):
        guesser = storage_pb2_grpc.StorageServiceStub(guessing)
        codes: list[grpc.StatusCode] = []
        last: TickmeshError | None = None
        for attempt in range(20):
            bad = f"tmk_guess{attempt:04d}{secrets.token_hex(12)}"
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await guesser.GetSubscription(
                    request, metadata=[("authorization", f"Bearer {bad}")]
                )
            last = TickmeshError.from_rpc_error(refused.value)
            codes.append(last.code)
            # The peer next to it is served throughout.
            await storage_pb2_grpc.StorageServiceStub(patient).GetSubscription(
                request, metadata=[("authorization", f"Bearer {good}")]
            )

        assert codes[0] is grpc.StatusCode.UNAUTHENTICATED
        assert codes[-1] is grpc.StatusCode.RESOURCE_EXHAUSTED
        refusals = codes.index(grpc.StatusCode.RESOURCE_EXHAUSTED)
        assert set(codes[refusals:]) == {grpc.StatusCode.RESOURCE_EXHAUSTED}, codes
        assert last is not None and last.reason == "AUTH_FAILURES"
        assert last.retry_after_s is not None and last.retry_after_s > 0
        # Locked out means locked out: even the good key waits, on that connection.
        with pytest.raises(grpc.aio.AioRpcError) as locked:
            await guesser.GetSubscription(request, metadata=[("authorization", f"Bearer {good}")])
        assert locked.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_an_expiring_keys_stream_ends_when_it_expires(mesh: ServiceProcesses) -> None:
    created = await _company(mesh, tenancy_pb2.TIER_PRO, "Expiring")
    expires = timestamp_pb2.Timestamp()
    expires.FromSeconds(int(time.time()) + 3)
    request = storage_pb2.IssueApiKeyRequest(
        user_id=created.owner.user_id, label="short-lived", expires_at=expires
    )
    key = await _storage_call(created.owner_key.api_key, mesh, "IssueApiKey", request)
    assert key.expires_at == expires
    with pytest.raises(TickmeshError) as ended:
        async with asyncio.timeout(FIRST_TICK_S):
            async for _ in subscriber.subscribe(mesh.address("bridge"), key.api_key, ["EURUSD"]):
                pass
    assert ended.value.code is grpc.StatusCode.UNAUTHENTICATED
    assert ended.value.reason == "API_KEY_EXPIRED"
    # Ended by the Bridge's sweep a second or so after the expiry, not at the next resubscribe.
    assert time.time() - expires.seconds < 3 * PROMISE_S


async def _public_call(mesh: ServiceProcesses, method: str, request: object) -> Any:
    # A channel of its own: a peer that has never authenticated.
    async with grpc.aio.insecure_channel(mesh.address("storage")) as channel:
        return await getattr(storage_pb2_grpc.StorageServiceStub(channel), method)(request)


async def test_sign_up_verify_and_stream_free_data(mesh: ServiceProcesses) -> None:
    signed = await _public_call(
        mesh, "SignUp",
        storage_pb2.SignUpRequest(
            company_name="Self Serve FX", owner_email="ann@selfserve.example.com",
            owner_name="Ann",
        ),
    )  # fmt: skip
    # The verification e-mail is an event; the mailer (here the operator) reads it.
    listed = await _storage_call(
        mesh.operator_key, mesh, "ListEvents",
        storage_pb2.ListEventsRequest(company_id=signed.company_id),
    )  # fmt: skip
    [mail] = [e for e in listed.events if e.type == "signup.verification_requested"]
    token = json.loads(mail.data_json)["token"]

    verified = await _public_call(mesh, "VerifyEmail", storage_pb2.VerifyEmailRequest(token=token))
    assert verified.company_id == signed.company_id
    key = verified.owner_key.api_key
    with pytest.raises(grpc.aio.AioRpcError) as reused:
        await _public_call(mesh, "VerifyEmail", storage_pb2.VerifyEmailRequest(token=token))
    assert reused.value.code() is grpc.StatusCode.UNAUTHENTICATED

    async with asyncio.timeout(FIRST_TICK_S):
        async for event in subscriber.subscribe(mesh.address("bridge"), key, ["EURUSD"]):
            if isinstance(event, subscriber.Ack):
                assert event.ack.tier == tenancy_pb2.TIER_FREE
            if isinstance(event, subscriber.Ticks) and event.batch.ticks:
                assert {t.symbol for t in event.batch.ticks} == {"EURUSD"}
                break

    companies = await _storage_call(
        mesh.operator_key, mesh, "ListCompanies", storage_pb2.ListCompaniesRequest(page_size=1000)
    )
    assert signed.company_id in {c.company_id for c in companies.companies}
    trail = await _storage_call(
        mesh.operator_key, mesh, "ListAuditEvents",
        storage_pb2.ListAuditEventsRequest(company_id=signed.company_id),
    )  # fmt: skip
    actions = {event.action for event in trail.events}
    assert {"company.created", "signup.verified", "api_key.issued"} <= actions


async def test_sign_ups_from_one_address_are_limited_per_hour(mesh: ServiceProcesses) -> None:
    codes = []
    retry: TickmeshError | None = None
    for n in range(SIGNUPS_PER_HOUR + 1):
        request = storage_pb2.SignUpRequest(
            company_name=f"Bot {n}", owner_email=f"bot{n}@spam.example.com", owner_name="Bot"
        )
        try:
            await _public_call(mesh, "SignUp", request)
            codes.append(grpc.StatusCode.OK)
        except grpc.aio.AioRpcError as err:
            retry = TickmeshError.from_rpc_error(err)
            codes.append(err.code())
    # This module's other sign-up came from the same (loopback) address this hour.
    assert codes[-1] is grpc.StatusCode.RESOURCE_EXHAUSTED, codes
    assert retry is not None and retry.reason == "SIGNUP_LIMIT"
    assert retry.retry_after_s is not None and 0 < retry.retry_after_s <= 3600
