"""SLA sampling in the Bridge: what is sampled, judged against which target, and its spool."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from tickmesh.common.v1 import market_pb2, tenancy_pb2
from tickmesh.storage.v1 import storage_pb2

from mesh.backoff import Backoff
from mesh.metering.spool import Spool
from mesh.tiers import Tier
from servers.bridge.fanout import Fanout
from servers.bridge.sla_sampler import SlaSampler, sla_sender
from servers.bridge.usage_counter import UsageCounter
from tests.unit.bridge.helpers import FakeClock, FakeTimers, grant, tenant, tick

WALL = 1_700_000_000_000_000


def _one_tick(ingest_us: int) -> bytes:
    return market_pb2.TickBatch(
        ticks=[market_pb2.Tick(symbol="EURUSD", ingest_time_us=ingest_us)]
    ).SerializeToString()


class _Session:
    def __init__(self, tier: Tier, session_id: str = "s1") -> None:
        self.session_id = session_id
        self.tenant = tenant(tier, company="0123456789ab")
        self.tier = tier


def test_held_samples_are_kept_apart_and_never_within_target() -> None:
    sampler = SlaSampler(clock=FakeClock(), wall_us=lambda: WALL)
    pro = _Session(Tier.PRO)
    sampler.offer(pro, _one_tick(WALL - 400_000), held=True)  # a throttle flush
    sampler.offer(pro, _one_tick(WALL - 5_000))  # a message sent at once: its own slot
    sampler.offer(pro, _one_tick(WALL - 300_000), held=True)  # same second: not sampled
    assert [(s.held, s.latency_us, s.within_target) for s in sampler.take()] == [
        (True, 400_000, False),
        (False, 5_000, True),
    ]


def test_samples_latency_once_per_second_per_session_against_the_tier_target() -> None:
    clock = FakeClock()
    sampler = SlaSampler(clock=clock, wall_us=lambda: WALL)
    enterprise, free = _Session(Tier.ENTERPRISE), _Session(Tier.FREE, "s2")
    sampler.offer(enterprise, _one_tick(WALL - 25_000))  # 25 ms: over enterprise's 10 ms
    sampler.offer(enterprise, _one_tick(WALL - 1_000))  # same second: not sampled
    sampler.offer(free, _one_tick(WALL - 25_000))  # within free's 1,000 ms
    clock.now += 1.0
    sampler.offer(enterprise, _one_tick(WALL - 2_000))
    samples = sampler.take()
    assert [(s.tier, s.latency_us, s.within_target) for s in samples] == [
        (tenancy_pb2.TIER_ENTERPRISE, 25_000, False),
        (tenancy_pb2.TIER_FREE, 25_000, True),
        (tenancy_pb2.TIER_ENTERPRISE, 2_000, True),
    ]
    assert {(s.company_id, s.service, s.time_us) for s in samples} == {
        ("0123456789ab", "bridge", WALL)
    }
    assert sampler.take() == []


def test_ticks_that_waited_for_the_throttle_are_sampled_apart_as_held() -> None:
    clock = FakeClock()
    sampled: list[tuple[int, bool]] = []

    class Recorder:
        def offer(self, session: object, last_tick: bytes, held: bool) -> None:
            sampled.append((market_pb2.TickBatch.FromString(last_tick).ticks[0].sequence, held))

    timers = FakeTimers()
    fanout = Fanout(UsageCounter(), clock=clock, schedule=timers, sla=Recorder())
    fanout.on_universe(["EURUSD"])
    session = fanout.open("s1", tenant(), grant(Tier.ENTERPRISE, "EURUSD")).session
    clock.now += 1
    fanout.on_batch([tick("EURUSD", 1)], 1, 1)  # goes out at once
    fanout.on_batch([tick("EURUSD", 2)], 2, 2)  # within the interval: held for the flush
    while (out := session.take_message()) is not None:
        session.delivered(out)
    assert sampled == [(1, False)]
    clock.now += 1
    assert timers.fire_all()  # the tier's flush sends the held tick
    while (out := session.take_message()) is not None:
        session.delivered(out)
    assert sampled == [(1, False), (2, True)]
    assert fanout.get("s1") is session


class _Storage:
    def __init__(self) -> None:
        self.requests: list[storage_pb2.RecordSlaRequest] = []
        self.fail: grpc.StatusCode | None = None

    async def __call__(
        self, request: storage_pb2.RecordSlaRequest
    ) -> storage_pb2.RecordSlaResponse:
        if self.fail is not None:
            raise grpc.aio.AioRpcError(self.fail, grpc.aio.Metadata(), grpc.aio.Metadata(), "nope")
        self.requests.append(request)
        return storage_pb2.RecordSlaResponse(accepted=len(request.samples))


async def test_samples_are_spooled_until_storage_takes_them(tmp_path: Path) -> None:
    sampler = SlaSampler(clock=FakeClock(), wall_us=lambda: WALL)
    storage = _Storage()
    sender = sla_sender(sampler, Spool(tmp_path, "sla"), storage, backoff=Backoff())
    sampler.offer(_Session(Tier.PRO), _one_tick(WALL - 5_000))
    await sender.flush()
    storage.fail = grpc.StatusCode.UNAVAILABLE
    with pytest.raises(grpc.aio.AioRpcError):
        await sender.deliver()
    assert len(sender.spool) == 1  # kept for the next attempt
    sender.spool.close()

    reopened = sla_sender(sampler, Spool(tmp_path, "sla"), storage)  # a restarted Bridge
    storage.fail = None
    await reopened.deliver()
    assert [len(r.samples) for r in storage.requests] == [1] and len(reopened.spool) == 0
    assert reopened.sent == 1


async def test_a_batch_storage_refuses_is_dead_lettered_not_retried(tmp_path: Path) -> None:
    sampler = SlaSampler(clock=FakeClock(), wall_us=lambda: WALL)
    storage = _Storage()
    sender = sla_sender(sampler, Spool(tmp_path, "sla"), storage)
    sampler.offer(_Session(Tier.PRO), _one_tick(WALL - 5_000))
    await sender.flush()
    storage.fail = grpc.StatusCode.INVALID_ARGUMENT
    await sender.deliver()
    assert len(sender.spool) == 0 and storage.requests == []
    sender.spool.close()
