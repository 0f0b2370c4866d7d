"""Open streams re-checked without gRPC: revoked keys end their sessions, tier changes end
them with TIER_CHANGED, outages end nothing, streams of one key cost one lookup."""

from __future__ import annotations

import asyncio
import dataclasses

import grpc

from mesh.errors import Unauthenticated, Unavailable
from mesh.tenancy.context import TenantContext
from mesh.tiers import Tier
from servers.bridge.fanout import Fanout
from servers.bridge.revalidation import StreamRevalidator
from servers.bridge.session import Session
from servers.bridge.usage_counter import UsageCounter
from tests.unit.bridge.helpers import grant, tenant


class Keys:
    """A fake key store: key -> tenant, or the refusal it raises."""

    def __init__(self) -> None:
        self.answers: dict[str, TenantContext | Exception] = {}
        self.lookups: list[str] = []

    async def authenticate(self, api_key: str) -> TenantContext:
        self.lookups.append(api_key)
        answer = self.answers[api_key]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _open(fanout: Fanout, session_id: str, who: TenantContext) -> Session:
    return fanout.open(session_id, who, grant(who.tier, "EURUSD")).session


def _fanout() -> Fanout:
    fanout = Fanout(UsageCounter())
    fanout.on_universe(["EURUSD"])
    return fanout


async def test_a_revoked_key_ends_only_its_own_streams() -> None:
    keys, fanout = Keys(), _fanout()
    alice, bob = tenant(company="a"), tenant(company="b")
    keys.answers = {"ka": alice, "kb": bob}
    checker = StreamRevalidator(keys.authenticate)
    a1, a2, b1 = _open(fanout, "a1", alice), _open(fanout, "a2", alice), _open(fanout, "b1", bob)
    with checker.watching(a1, "ka"), checker.watching(a2, "ka"), checker.watching(b1, "kb"):
        keys.answers["ka"] = Unauthenticated("API key revoked", reason="API_KEY_REVOKED")
        await checker.check({"a"})

    assert a1.closed and a2.closed and not b1.closed
    assert a1.error is not None and a1.error.reason == "API_KEY_REVOKED"
    assert keys.lookups == ["ka"]  # two streams of one key: one lookup, company b untouched


async def test_a_tier_change_ends_the_stream_naming_both_tiers() -> None:
    keys, fanout = Keys(), _fanout()
    before = tenant(Tier.ENTERPRISE, company="a")
    keys.answers = {"ka": dataclasses.replace(before, tier=Tier.FREE)}
    checker = StreamRevalidator(keys.authenticate)
    session = _open(fanout, "a1", before)
    with checker.watching(session, "ka"):
        await checker.check(None)

    assert session.closed and session.error is not None
    assert session.error.code is grpc.StatusCode.ABORTED
    assert session.error.reason == "TIER_CHANGED"
    assert session.error.metadata == {"from_tier": "enterprise", "to_tier": "free"}


async def test_an_unchanged_key_or_an_outage_ends_nothing() -> None:
    keys, fanout = Keys(), _fanout()
    alice = tenant(company="a")
    keys.answers = {"ka": alice}
    checker = StreamRevalidator(keys.authenticate)
    session = _open(fanout, "a1", alice)
    with checker.watching(session, "ka"):
        await checker.check(None)
        keys.answers["ka"] = Unavailable("Storage is down")
        await checker.check(None)
    assert not session.closed
    assert keys.lookups == ["ka", "ka"]


async def test_an_invalidation_wakes_the_check_before_the_sweep() -> None:
    keys, fanout = Keys(), _fanout()
    alice = tenant(company="a")
    keys.answers = {"ka": Unauthenticated("API key revoked", reason="API_KEY_REVOKED")}
    # A sweep an hour away: only the invalidation can end the stream within the test.
    checker = StreamRevalidator(keys.authenticate, sweep_interval_s=3600)
    session = _open(fanout, "a1", alice)
    runner = asyncio.create_task(checker.run())
    try:
        with checker.watching(session, "ka"):
            checker.on_invalidation("a")
            # The session's writer wakes when it closes: wait for exactly that.
            async with asyncio.timeout(5):
                assert await session.next_message() is None
    finally:
        runner.cancel()
    assert session.error is not None and session.error.reason == "API_KEY_REVOKED"


async def test_a_stream_without_its_own_key_is_not_watched() -> None:
    keys, fanout = Keys(), _fanout()
    checker = StreamRevalidator(keys.authenticate)
    session = _open(fanout, "a1", tenant(company="a"))
    with checker.watching(session, None):
        await checker.check(None)
    assert keys.lookups == [] and not session.closed


class Generation:
    """A fake shared generation; `reads_past(n)` waits until it was read n more times."""

    def __init__(self) -> None:
        self.value = b"1"
        self.reads = 0
        self._read = asyncio.Condition()

    async def __call__(self) -> bytes:
        async with self._read:
            self.reads += 1
            self._read.notify_all()
        return self.value

    async def reads_past(self, more: int) -> None:
        target = self.reads + more
        async with asyncio.timeout(5), self._read:
            await self._read.wait_for(lambda: self.reads >= target)


async def test_a_sweep_looks_keys_up_again_only_after_a_change_or_an_expiry() -> None:
    keys, fanout, generation, wall = Keys(), _fanout(), Generation(), [0]
    alice, bob = (
        tenant(company="a"),
        dataclasses.replace(tenant(company="b"), key_expires_at_us=500),
    )
    keys.answers = {"ka": alice, "kb": bob}
    checker = StreamRevalidator(
        keys.authenticate, sweep_interval_s=0.001, generation=generation, wall_us=lambda: wall[0]
    )
    a1, b1 = _open(fanout, "a1", alice), _open(fanout, "b1", bob)
    runner = asyncio.create_task(checker.run())
    try:
        with checker.watching(a1, "ka"), checker.watching(b1, "kb"):
            await generation.reads_past(5)  # the first sweep checks all, the next ones none
            assert sorted(keys.lookups) == ["ka", "kb"]
            wall[0] = 1_000  # bob's key expires: an expiry bumps no generation
            keys.answers["kb"] = Unauthenticated("API key expired", reason="API_KEY_EXPIRED")
            async with asyncio.timeout(5):
                assert await b1.next_message() is None
            assert sorted(keys.lookups) == ["ka", "kb", "kb"]
            generation.value = b"2"  # an invalidation somewhere: everyone again, once
            await generation.reads_past(5)
            assert sorted(keys.lookups) == ["ka", "ka", "kb", "kb"]
    finally:
        runner.cancel()
    assert not a1.closed and b1.error is not None and b1.error.reason == "API_KEY_EXPIRED"
