"""Every tick a subscriber receives is metered once, per tenant, and reaches the usage sink."""

from __future__ import annotations

import asyncio

from mesh.tiers import MAJOR_PAIRS, Tier
from tests.integration.bridge.conftest import (
    Bridge,
    RecordedUsage,
    next_message,
    wait_until,
)
from tests.integration.bridge.fake_ingestion import WAIT


async def _receive_until(call: object, target_seq: int) -> int:
    """Ticks received until the stream is complete up to target_seq."""
    received, last_seq = 0, 0
    async with asyncio.timeout(WAIT):
        while last_seq < target_seq:
            message = await next_message(call)  # type: ignore[arg-type]
            if message.HasField("batch"):
                received += len(message.batch.ticks)
                last_seq = message.batch.last_seq
    return received


async def test_delivered_ticks_equal_metered_ticks_per_tenant(
    bridge: Bridge, recorded: RecordedUsage
) -> None:
    symbols = MAJOR_PAIRS[:12]
    enterprise = bridge.client(Tier.ENTERPRISE)
    pro = bridge.client(Tier.PRO)
    calls = [enterprise.subscribe(*symbols), pro.subscribe(*symbols[:4])]
    # Subscribed before anything is fed: a subscription opened after the last batch would
    # get it all in its ack's snapshot and no batch to wait for.
    acks = [await next_message(call) for call in calls]
    assert all(ack.HasField("ack") for ack in acks)
    for i in range(40):
        bridge.upstream.feed(*symbols[(i * 3) % 12 : (i * 3) % 12 + 3])
    await bridge.fed()
    target = bridge.upstream.next_seq - 1
    received = len(acks[0].ack.snapshot.ticks) + await _receive_until(calls[0], target)
    for call in calls:
        call.cancel()
    await wait_until(lambda: not bridge.parts.fanout.sessions_of(enterprise.company))
    await wait_until(lambda: not bridge.parts.fanout.sessions_of(pro.company))
    # Delivered is what the transport accepted: a throttled tick flushed after the client
    # stopped reading counts (it was sent) though the client never read it.
    period = bridge.parts.usage.current_period()
    delivered, _ = bridge.parts.usage.company_usage(enterprise.company, period)
    pro_delivered, _ = bridge.parts.usage.company_usage(pro.company, period)
    assert 0 < received <= delivered
    await wait_until(lambda: recorded.ticks_of(enterprise.company) == delivered)
    await wait_until(lambda: recorded.ticks_of(pro.company) == pro_delivered)
    assert pro_delivered > 0
