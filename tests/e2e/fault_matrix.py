"""The fault matrix: seven faults, each hitting a `tickmesh up` mesh under load, measured."""

from __future__ import annotations

import argparse
import asyncio
import bisect
import os
import secrets
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from tickmesh.billing.v1 import billing_pb2, billing_pb2_grpc
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from clients.subscriber import Ack, Gap, Heartbeat, Reconnecting, Ticks, subscribe
from mesh.backoff import Backoff
from mesh.channel_options import RECONNECT_OPTIONS
from mesh.client_interceptors import api_key_interceptors
from mesh.config import SERVICES
from mesh.launcher import health_of
from mesh.metering.vocabulary import is_server_errors_key
from mesh.tiers import Tier
from tests.e2e.conftest import RunningMesh, start_mesh
from tests.support.backing import POSTGRES_URL, REDIS_URL, delete_redis_prefix
from tests.support.tcp_proxy import LoopThread, TcpProxy

FAULTS = (
    "kill hub",
    "kill ingestion",
    "kill bridge",
    "kill storage",
    "kill billing",
    "cut postgres",
    "cut redis",
)
COMMAND = "python -m tests.e2e.fault_matrix --write"

# Deliberate durations, not waits for a condition: how long traffic flows before a
# fault and after recovery, and how long a store outage is held open.
WARM_S = 1.5
AFTER_S = 1.5
OUTAGE_S = 3.0
# Bounds of the waits for a condition (generous: the machine is shared).
RECOVER_WITHIN_S = 30.0
CLIENTS_BACK_WITHIN_S = 45.0
USAGE_SETTLE_WITHIN_S = 40.0
# Pass thresholds.
SERVING_WITHIN_S = 5.0  # issue 14: a SIGKILLed child is back SERVING within 5 s
USAGE_SETTLED_WITHIN_S = 5.0  # a flush (1 s) and a send; issue 14: "within a couple of seconds"
# A tick is owed to a subscriber once a message claims its sequence (last_seq >= it):
# the tier's throttle may hold it back an interval and flush up to half an interval
# late (README, The tick pipeline); this slack covers the event loops' lag on top.
DELIVERY_SLACK_S = 0.5
# A slow feed keeps symbols quiet between ticks, so a tick that a resume fails to
# deliver is not hidden by a newer one arriving at once (see `tick_losses`).
QUOTES_PER_SECOND = 300

TIERS = {
    "free": (tenancy_pb2.TIER_FREE, 1.0, ("EURUSD", "GBPUSD", "AUDUSD")),
    "pro": (tenancy_pb2.TIER_PRO, 0.1, ("USDCHF", "NZDUSD", "EURCAD", "CADCHF")),
    # Minor symbols: the synthetic feeds quote them a third as often as majors.
    "enterprise": (tenancy_pb2.TIER_ENTERPRISE, 0.01, ("XAUUSD", "USDZAR", "EURTRY", "USDSEK")),
}
CALLS_PER_CALLER = 2000
CALL_EVERY_S = 0.03
SUBSCRIBE_BACKOFF = Backoff(initial_s=0.2, max_s=2.0, jitter=0.4)


# -- what one fault cost ----------------------------------------------------------


@dataclass
class TickCheck:
    """Every tick Ingestion published on a subscriber's symbols while it was subscribed."""

    checked: int = 0
    announced: int = 0  # inside a gap notice the subscriber received
    lost: int = 0  # neither delivered (or superseded) in time nor announced
    examples: list[str] = field(default_factory=list)


@dataclass
class UsageCheck:
    """Usage Storage holds for the phase's companies against what their clients saw."""

    calls_ok: int = 0  # answered OK: the server metered each one
    calls_uncertain: int = 0  # failed: metered only if the server got that far
    calls_billed: int = 0
    ticks_received: int = 0  # every tick in every message the subscribers read
    ticks_delivered: int | None = None  # the Bridge's own count; None once it restarted
    ticks_billed: int = 0
    lost: int = 0
    double: int = 0
    routed_twice: int = 0  # of `double`: calls metered by the Hub as well as the instance
    settled_after_s: float | None = None  # None: never matched within the bound
    details: list[str] = field(default_factory=list)


@dataclass
class Row:
    """One fault's measurements."""

    fault: str
    serving_after_s: float | None = None
    not_serving_during: list[str] = field(default_factory=list)
    clients_back_after_s: float | None = None
    ticks: TickCheck = field(default_factory=TickCheck)
    usage: UsageCheck = field(default_factory=UsageCheck)
    reconcile_balanced: bool | None = None
    reconcile_detail: str = ""
    cross_tenant: int = 0
    answers: int = 0
    evidence: list[str] = field(default_factory=list)

    def failures(self) -> list[str]:
        """Why this row fails; empty when it passes."""
        out = []
        if self.serving_after_s is None:
            out.append(f"not every service SERVING within {RECOVER_WITHIN_S:g} s")
        elif self.serving_after_s > SERVING_WITHIN_S:
            out.append(f"SERVING again only after {self.serving_after_s:.1f} s")
        if self.clients_back_after_s is None:
            out.append(f"a client got nothing for {CLIENTS_BACK_WITHIN_S:g} s after recovery")
        if self.ticks.lost:
            out.append(f"{self.ticks.lost} ticks silently lost: {self.ticks.examples[:2]}")
        usage = self.usage
        if usage.lost or usage.double:
            routed = (
                f" ({usage.routed_twice} of them calls routed through the Hub, metered by "
                "the Hub and again by the service)"
                if usage.routed_twice
                else ""
            )
            out.append(f"usage lost {usage.lost}, double-counted {usage.double}{routed}")
        if usage.settled_after_s is None:
            out.append(f"usage never matched within {USAGE_SETTLE_WITHIN_S:g} s")
        elif usage.settled_after_s > USAGE_SETTLED_WITHIN_S:
            out.append(f"usage matched only {usage.settled_after_s:.1f} s after traffic stopped")
        if not self.reconcile_balanced:
            out.append(f"reconcile not balanced: {self.reconcile_detail}")
        if self.cross_tenant:
            out.append(f"{self.cross_tenant} cross-tenant answers")
        if not self.answers:
            out.append("no API call was answered")
        return out


# -- load -------------------------------------------------------------------------


@dataclass
class Tenant:
    label: str
    tier: str
    company_id: str
    key: str
    addresses: dict[str, str]  # service -> where this tenant calls it (itself, or the Hub)

    @property
    def via_hub(self) -> bool:
        return self.addresses["bridge"] == self.addresses["hub"]


class RawTickCounter(grpc.aio.UnaryStreamClientInterceptor):
    """Counts every tick in every Subscribe message read, before the SDK drops a
    catch-up's repeats: the Bridge meters (and bills) those too."""

    def __init__(self) -> None:
        self.ticks = 0
        self.largest = 0  # ticks in the largest message

    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> AsyncIterator[bridge_pb2.SubscribeResponse]:
        call = await continuation(details, request)
        return self._count(call)

    async def _count(self, call: Any) -> AsyncIterator[bridge_pb2.SubscribeResponse]:
        async for message in call:
            kind = message.WhichOneof("payload")
            n = (
                len(message.ack.snapshot.ticks)
                if kind == "ack"
                else len(message.batch.ticks)
                if kind == "batch"
                else 0
            )
            self.ticks += n
            self.largest = max(self.largest, n)
            yield message


@dataclass
class SubscriberLog:
    """What one subscriber saw, with the monotonic time it saw it."""

    tenant: Tenant
    interval_s: float
    symbols: tuple[str, ...]
    counter: RawTickCounter = field(default_factory=RawTickCounter)
    first_seq: int | None = None  # live data of the first stream started here
    claims_seq: list[int] = field(default_factory=list)  # running max of last_seq
    claims_t: list[float] = field(default_factory=list)
    breaks: list[float] = field(default_factory=list)  # when a stream broke
    acked: list[float] = field(default_factory=list)  # when a stream was acknowledged
    ticks: dict[str, tuple[list[int], list[float]]] = field(default_factory=dict)
    gaps: list[tuple[int, int, str]] = field(default_factory=list)
    acks: int = 0
    streaming: bool = False  # inside an acknowledged stream
    reconnects: list[str] = field(default_factory=list)
    last_batch_t: float = 0.0
    ended_t: float = float("inf")  # when the subscription ended
    error: str | None = None

    def claim(self, last_seq: int, now: float) -> None:
        top = max(last_seq, self.claims_seq[-1] if self.claims_seq else 0)
        self.claims_seq.append(top)
        self.claims_t.append(now)

    def got(self, symbol: str, seq: int, now: float) -> None:
        seqs, times = self.ticks.setdefault(symbol, ([], []))
        if not seqs or seq > seqs[-1]:
            seqs.append(seq)
            times.append(now)


@dataclass
class CallerLog:
    tenant: Tenant
    ok: Counter[str] = field(default_factory=Counter)  # "service/Method" -> answered OK
    failed: Counter[str] = field(default_factory=Counter)
    cross_tenant: list[str] = field(default_factory=list)
    last_ok_t: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)


async def run_subscriber(log: SubscriberLog, stop: asyncio.Event, until: float) -> None:
    """Subscribe through the SDK until `stop` (or `until`), recording every event."""
    tenant = log.tenant
    target = tenant.addresses["bridge"]
    channel = grpc.aio.insecure_channel(
        target,
        options=RECONNECT_OPTIONS,
        interceptors=[log.counter, *api_key_interceptors(tenant.key)],
    )
    events = subscribe(target, tenant.key, log.symbols, channel=channel, backoff=SUBSCRIBE_BACKOFF)
    try:
        async with asyncio.timeout(max(0.0, until - time.monotonic())):
            async for event in events:
                now = time.monotonic()
                if isinstance(event, Ack):
                    log.acks += 1
                    log.acked.append(now)
                    log.streaming = True
                    if log.first_seq is None:
                        log.first_seq = event.ack.start_seq
                    for tick in event.ack.snapshot.ticks:
                        log.got(tick.symbol, tick.sequence, now)
                elif isinstance(event, Ticks):
                    for tick in event.batch.ticks:
                        log.got(tick.symbol, tick.sequence, now)
                    log.claim(event.batch.last_seq, now)
                    log.last_batch_t = now
                elif isinstance(event, Heartbeat):
                    log.claim(event.heartbeat.last_seq, now)
                elif isinstance(event, Gap):
                    gap = event.notice
                    log.gaps.append((gap.from_seq, gap.to_seq, gap.reason))
                elif isinstance(event, Reconnecting):
                    log.streaming = False
                    log.reconnects.append(str(event.error))
                    log.breaks.append(now)
                if stop.is_set():
                    break
    except TimeoutError:
        log.error = "still subscribed at the phase's time limit"
    except Exception as exc:  # recorded: the row reports it
        log.error = f"{type(exc).__name__}: {exc}"
    finally:
        log.ended_t = time.monotonic()
        await events.aclose()
        await channel.close()


async def run_caller(log: CallerLog, stop: asyncio.Event, until: float) -> None:
    """Unary calls on three services with one tenant's key; every answer must name it."""
    tenant = log.tenant
    channels = {
        address: grpc.aio.insecure_channel(
            address, options=RECONNECT_OPTIONS, interceptors=api_key_interceptors(tenant.key)
        )
        for address in set(tenant.addresses.values())
    }
    storage = storage_pb2_grpc.StorageServiceStub(channels[tenant.addresses["storage"]])
    billing = billing_pb2_grpc.BillingServiceStub(channels[tenant.addresses["billing"]])
    bridge = bridge_pb2_grpc.BridgeServiceStub(channels[tenant.addresses["bridge"]])

    async def get_subscription() -> str:
        reply = await storage.GetSubscription(storage_pb2.GetSubscriptionRequest(), timeout=2)
        return str(reply.subscription.company_id)

    async def preview_invoice() -> str:
        reply = await billing.PreviewInvoice(billing_pb2.PreviewInvoiceRequest(), timeout=2)
        return str(reply.invoice.company_id)

    async def get_usage() -> str:
        reply = await bridge.GetUsage(bridge_pb2.GetUsageRequest(), timeout=2)
        return str(reply.company_id)

    calls: list[tuple[str, Callable[[], Awaitable[str]]]] = [
        ("storage/GetSubscription", get_subscription),
        ("billing/PreviewInvoice", preview_invoice),
        ("bridge/GetUsage", get_usage),
    ]
    try:
        for n in range(CALLS_PER_CALLER):
            if stop.is_set() or time.monotonic() > until:
                break
            name, call = calls[n % len(calls)]
            try:
                company = await call()
            except grpc.aio.AioRpcError as err:
                log.failed[name] += 1
                log.errors[f"{name} {err.code().name}"] += 1
            else:
                log.ok[name] += 1
                log.last_ok_t = time.monotonic()
                if company != tenant.company_id:
                    log.cross_tenant.append(f"{name} answered {company!r}")
            await asyncio.sleep(CALL_EVERY_S)  # pacing: a steady trickle, not a flood
    finally:
        for channel in channels.values():
            await channel.close()


class Recorder:
    """Every tick Ingestion publishes on the watched symbols, read with the operator key
    straight from Ingestion (resuming across its restarts): the reference."""

    def __init__(
        self, address: str, key: str, symbols: Iterable[str], view_bits: Mapping[str, int]
    ) -> None:
        self.address = address
        self.key = key
        self.symbols = sorted(set(symbols))
        self.view_bits = view_bits
        """symbol -> the bit of the tier whose view of it is watched"""
        self.seqs: dict[str, list[int]] = {s: [] for s in self.symbols}
        self.gaps: list[tuple[int, int, str]] = []
        self.last_seq = 0
        self.reconnects = 0

    async def run(self, stop: asyncio.Event, until: float) -> None:
        channel = grpc.aio.insecure_channel(
            self.address, options=RECONNECT_OPTIONS, interceptors=api_key_interceptors(self.key)
        )
        stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
        try:
            while not stop.is_set() and time.monotonic() < until:
                request = ingestion_pb2.StreamTicksRequest(
                    from_seq=self.last_seq, symbols=self.symbols
                )
                call = stub.StreamTicks(request)
                try:
                    async with asyncio.timeout(max(0.0, until - time.monotonic())):
                        async for message in call:
                            self._take(message)
                            if stop.is_set():
                                break
                except (grpc.aio.AioRpcError, TimeoutError):
                    pass
                finally:
                    call.cancel()
                if not stop.is_set():
                    self.reconnects += 1
                    await asyncio.sleep(0.1)  # Ingestion is restarting: retry shortly
        finally:
            await channel.close()

    def _take(self, message: ingestion_pb2.StreamTicksResponse) -> None:
        kind = message.WhichOneof("payload")
        if kind == "batch":
            for tick in message.batch.ticks:
                owed = not tick.views or tick.views & self.view_bits[tick.symbol]
                if tick.sequence > self.last_seq and owed:
                    self.seqs[tick.symbol].append(tick.sequence)
            self.last_seq = max(self.last_seq, message.batch.last_seq)
        elif kind == "gap":
            self.gaps.append((message.gap.from_seq, message.gap.to_seq, message.gap.reason))
            self.last_seq = max(self.last_seq, message.gap.to_seq)


# -- the checks -------------------------------------------------------------------


def tick_losses(log: SubscriberLog, reference: Recorder) -> TickCheck:
    """Ticks of the subscriber's symbols that it should have and neither got nor was told
    it lost.

    The Bridge conflates (the tier's throttle, a slow reader, a resume's catch-up), so a
    subscriber is owed, for each tick Ingestion published, that tick or a newer one of
    its symbol: by the time a message claims the tick's sequence (last_seq at or past
    it) plus one tier interval (the throttle's hold) plus DELIVERY_SLACK_S. A resumed
    stream's catch-up is held to the same rule, so a catch-up that leaves a symbol out
    shows as a loss unless that symbol ticks again within that time; the slow feed
    keeps that rare. A tick inside a gap notice the subscriber received is announced.
    Ticks after the subscriber's last claim are not judged.
    """
    check = TickCheck()
    if log.first_seq is None or not log.claims_seq:
        return check
    last_claim = log.claims_seq[-1]
    owed_after = 1.5 * log.interval_s + DELIVERY_SLACK_S
    for symbol in log.symbols:
        got_seqs, got_times = log.ticks.get(symbol, ([], []))
        for seq in reference.seqs.get(symbol, []):
            if seq < log.first_seq or seq > last_claim:
                continue
            check.checked += 1
            if any(lo <= seq <= hi for lo, hi, _ in log.gaps):
                check.announced += 1
                continue
            claimed_at = log.claims_t[bisect.bisect_left(log.claims_seq, seq)]
            due = _due(log, claimed_at + owed_after, owed_after)
            at = bisect.bisect_left(got_seqs, seq)
            got_at = got_times[at] if at < len(got_seqs) else None
            if due > log.ended_t and (got_at is None or got_at > log.ended_t):
                check.checked -= 1  # still owed when the subscription ended: not judged
                continue
            if got_at is None or got_at > due:
                check.lost += 1
                if len(check.examples) < 5:
                    late = "never" if got_at is None else f"{got_at - due:.2f} s late"
                    check.examples.append(f"{log.tenant.label} {symbol} #{seq}: {late}")
    return check


def _due(log: SubscriberLog, due: float, owed_after: float) -> float:
    """When a tick owed by `due` must have arrived, given that a stream which breaks
    before then hands the debt to the resumed stream's catch-up."""
    while (cut := bisect.bisect_left(log.breaks, due)) > 0 and log.breaks[cut - 1] > (
        due - owed_after
    ):
        acked = bisect.bisect_right(log.acked, log.breaks[cut - 1])
        if acked == len(log.acked):
            return float("inf")  # never resumed: judged by the claims it never made
        first_claim = bisect.bisect_left(log.claims_t, log.acked[acked])
        if first_claim == len(log.claims_t):
            return float("inf")
        due = log.claims_t[first_claim] + owed_after
    return due


async def wait_for(
    condition: Callable[[], Awaitable[bool]], within: float, every: float = 0.05
) -> float | None:
    """Seconds until `condition` held, polled every `every`; None when it never did."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if await condition():
            return time.monotonic() - started
        await asyncio.sleep(every)  # nothing to await: the state is in other processes
    return None


# -- the mesh and its stores --------------------------------------------------------


class Harness:
    """One mesh behind two proxies, the reference recorder, and the phases run on it."""

    def __init__(self, mesh: RunningMesh, proxies: dict[str, TcpProxy], thread: LoopThread):
        self.mesh = mesh
        self.proxies = proxies
        self.thread = thread
        self.operator_key = (mesh.data_dir / "operator.key").read_text().strip()
        self.period = datetime.now(UTC).strftime("%Y-%m")
        self._channels: list[grpc.aio.Channel] = []
        self.storage = storage_pb2_grpc.StorageServiceStub(self._operator("storage"))
        self.billing = billing_pb2_grpc.BillingServiceStub(self._operator("billing"))
        self.bridge = bridge_pb2_grpc.BridgeServiceStub(self._operator("bridge"))

    def _operator(self, service: str) -> grpc.aio.Channel:
        channel = grpc.aio.insecure_channel(
            self.mesh.address(service),
            options=RECONNECT_OPTIONS,
            interceptors=api_key_interceptors(self.operator_key),
        )
        self._channels.append(channel)
        return channel

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()

    async def all_serving(self) -> bool:
        states = await asyncio.gather(*(health_of(self.mesh.address(s), 0.5) for s in SERVICES))
        return all(state == "SERVING" for state in states)

    async def not_serving(self) -> list[str]:
        states = await asyncio.gather(*(health_of(self.mesh.address(s), 0.5) for s in SERVICES))
        return [f"{s} {st}" for s, st in zip(SERVICES, states, strict=True) if st != "SERVING"]

    async def tenants(self, phase: int) -> list[Tenant]:
        """Two fresh companies per tier, so each phase's usage is its own."""
        out = []
        for tier, (value, _, _) in TIERS.items():
            for side, via in (("a", "bridge"), ("b", "hub")):
                created = await self.storage.CreateCompany(
                    storage_pb2.CreateCompanyRequest(
                        name=f"Fault {phase} {tier} {side}",
                        tier=value,
                        owner_email=f"o{secrets.token_hex(4)}@{tier}.example.com",
                        owner_name="Owner",
                    ),
                    timeout=10,
                )
                addresses = {s: self.mesh.address(via if via == "hub" else s) for s in SERVICES}
                out.append(
                    Tenant(
                        f"{tier}-{side}", tier, created.company.company_id,
                        created.owner_key.api_key, addresses,
                    )
                )  # fmt: skip
        return out

    async def inject(self, fault: str, row: Row) -> float:
        """Cause `fault`; returns the monotonic time it ended (the kill, the restore)."""
        verb, target = fault.split()
        if verb == "kill":
            killed = self.mesh.state()["services"][target]["pid"]
            os.kill(killed, signal.SIGKILL)
            ended = time.monotonic()

            async def replaced() -> bool:
                return bool(self.mesh.state()["services"][target]["pid"] != killed)

            await wait_for(replaced, RECOVER_WITHIN_S)
            return ended
        proxy = self.proxies[target]
        await asyncio.to_thread(self.thread.run, proxy.cut())
        cut_at = time.monotonic()
        seen: set[str] = set()
        # The outage is held open OUTAGE_S on purpose; health is sampled meanwhile.
        while time.monotonic() - cut_at < OUTAGE_S:
            seen.update(await self.not_serving())
            await asyncio.sleep(0.25)
        row.not_serving_during = sorted(seen)
        await asyncio.to_thread(self.thread.run, proxy.restore())
        return time.monotonic()

    async def phase(self, number: int, fault: str) -> Row:
        row = Row(fault)
        log_from = len(self.mesh.output)
        tenants = await self.tenants(number)
        stop = asyncio.Event()
        until = time.monotonic() + 150  # every load loop ends by itself at the latest here
        subs = [SubscriberLog(t, TIERS[t.tier][1], TIERS[t.tier][2]) for t in tenants]
        callers = [CallerLog(t) for t in tenants if t.label in ("pro-a", "enterprise-b")]
        recorder = Recorder(
            self.mesh.address("ingestion"),
            self.operator_key,
            (s for tier in TIERS.values() for s in tier[2]),
            # Each tier's symbols are judged by that tier's view (Tick.views).
            {s: Tier(name).view_bit for name, tier in TIERS.items() for s in tier[2]},
        )
        tasks = [asyncio.create_task(recorder.run(stop, until))]
        await wait_for(lambda: _true(recorder.last_seq > 0), 10)
        tasks += [asyncio.create_task(run_subscriber(s, stop, until)) for s in subs]
        tasks += [asyncio.create_task(run_caller(c, stop, until)) for c in callers]
        try:
            if await wait_for(lambda: _true(all(s.last_batch_t for s in subs)), 20) is None:
                row.evidence.append("not every subscriber got ticks before the fault")
            await asyncio.sleep(WARM_S)  # traffic flows before the fault, by design
            ended = await self.inject(fault, row)
            row.serving_after_s = await wait_for(self.all_serving, RECOVER_WITHIN_S)
            recovered = time.monotonic()

            def clients_back() -> bool:
                return all(s.last_batch_t > recovered for s in subs) and all(
                    c.last_ok_t > recovered for c in callers
                )

            back = await wait_for(lambda: _true(clients_back()), CLIENTS_BACK_WITHIN_S)
            if back is not None:
                row.clients_back_after_s = recovered + back - ended
            await asyncio.sleep(AFTER_S)  # traffic flows after recovery, by design
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
        stopped = time.monotonic()
        row.answers = sum(sum(c.ok.values()) for c in callers)
        row.cross_tenant = sum(len(c.cross_tenant) for c in callers)
        for s in subs:
            t = tick_losses(s, recorder)
            row.ticks.checked += t.checked
            row.ticks.announced += t.announced
            row.ticks.lost += t.lost
            row.ticks.examples += t.examples
            if s.error:
                row.evidence.append(f"{s.tenant.label}: {s.error}")
        await self.settle_usage(row, tenants, subs, callers, stopped, bridge_restarted=(
            fault == "kill bridge"))  # fmt: skip
        await self.reconcile(row, tenants)
        row.evidence += _notable(self.mesh.output[log_from:])
        for c in callers:
            if c.errors:
                row.evidence.append(f"{c.tenant.label} call errors: {dict(c.errors)}")
        for s in subs:
            if s.reconnects:
                why = Counter(r[:100] for r in s.reconnects)
                row.evidence.append(f"{s.tenant.label}: {len(s.reconnects)} reconnects {dict(why)}")
        return row

    async def settle_usage(
        self,
        row: Row,
        tenants: list[Tenant],
        subs: list[SubscriberLog],
        callers: list[CallerLog],
        stopped: float,
        *,
        bridge_restarted: bool,
    ) -> None:
        """Wait (bounded) until Storage holds what the clients saw, then compare.

        Calls: answered OK were metered (lost if not billed); failed ones may have been.
        Ticks: clients read at most what the Bridge metered, so billed below received is
        lost; billed above the Bridge's own count is double (unknown once it restarted).
        """
        by_company = {t.company_id: t for t in tenants}
        subs_of = {s.tenant.company_id: s for s in subs}
        caller_of = {c.tenant.company_id: c for c in callers}

        async def measure() -> UsageCheck:
            usage = UsageCheck()
            for company in by_company:
                reply = await self.storage.QueryUsage(
                    storage_pb2.QueryUsageRequest(
                        company_id=company, billing_period=self.period, group_by="endpoint"
                    ),
                    timeout=10,
                )
                billed = {r.key: r.data_points for r in reply.rows}
                received = subs_of[company].counter.ticks
                ticks = billed.pop("bridge/ticks", 0)
                usage.ticks_received += received
                usage.ticks_billed += ticks
                if bridge_restarted:
                    # The Bridge's count died with it: only what clients hold is sure.
                    usage.lost += max(0, received - ticks)
                else:
                    delivered = await self._bridge_delivered(company)
                    usage.ticks_delivered = (usage.ticks_delivered or 0) + delivered
                    usage.lost += max(0, delivered - ticks)
                    usage.double += max(0, ticks - delivered)
                    if received > delivered:
                        usage.details.append(
                            f"{by_company[company].label}: received {received} > "
                            f"delivered {delivered}"
                        )
                caller = caller_of.get(company)
                sub = subs_of[company]
                ok = Counter(caller.ok if caller else {})
                failed = Counter(caller.failed if caller else {})
                # Server errors are metered beside the calls they ended, not as calls: a
                # service cannot have more of them than its calls the client saw fail.
                for key in [k for k in billed if is_server_errors_key(k)]:
                    service = key.split("/", 1)[0]
                    errors = billed.pop(key)
                    could = sum(n for k, n in failed.items() if k.startswith(f"{service}/"))
                    if errors > could:
                        usage.double += errors - could
                        usage.details.append(
                            f"{by_company[company].label} {key}: {errors} > {could} failed"
                        )
                # Each Subscribe stream is metered when it ends: the last one ended
                # cleanly here; the broken ones may or may not have reached the meter.
                ok["bridge/Subscribe"] += 1 if sub.streaming else 0
                failed["bridge/Subscribe"] += len(sub.reconnects)
                for key in set(ok) | set(failed) | set(billed):
                    got_calls, sure, maybe = billed.get(key, 0), ok[key], failed[key]
                    usage.calls_ok += sure
                    usage.calls_uncertain += maybe
                    usage.calls_billed += got_calls
                    if got_calls < sure or got_calls > sure + maybe or key.startswith("hub/"):
                        usage.details.append(
                            f"{by_company[company].label} {key}: ok {sure}, failed {maybe}, "
                            f"billed {got_calls}"
                        )
                    usage.lost += max(0, sure - got_calls)
                    usage.double += max(0, got_calls - sure - maybe)
                    if key.startswith("hub/"):
                        usage.routed_twice += got_calls
            return usage

        latest: list[UsageCheck] = []
        same = 0

        async def matches_or_only_over() -> bool:
            nonlocal same
            usage = await measure()
            figures = (usage.calls_billed, usage.ticks_billed)
            was = (latest[0].calls_billed, latest[0].ticks_billed) if latest else None
            same = same + 1 if figures == was else 0
            latest[:] = [usage]
            # Missing usage may still come (a resend); an excess never goes away, so
            # once nothing is missing and the figures hold still, waiting tells nothing.
            return not usage.lost and (not usage.double or same >= 4)

        await wait_for(matches_or_only_over, USAGE_SETTLE_WITHIN_S, every=0.5)
        row.usage = latest[0]
        if not row.usage.lost and not row.usage.double:
            row.usage.settled_after_s = time.monotonic() - stopped

    async def _bridge_delivered(self, company: str) -> int:
        reply = await self.bridge.GetUsage(
            bridge_pb2.GetUsageRequest(company_id=company, billing_period=self.period),
            timeout=5,
        )
        return int(reply.ticks_delivered)

    async def reconcile(self, row: Row, tenants: list[Tenant]) -> None:
        """Billing.Reconcile (what `tickmesh reconcile` calls), judged on this phase's
        companies only, so one fault's imbalance is not charged to the next."""
        ours = {t.company_id: t.label for t in tenants}
        try:
            reply = await self.billing.Reconcile(
                billing_pb2.ReconcileRequest(billing_period=self.period), timeout=60
            )
        except grpc.aio.AioRpcError as err:
            row.reconcile_balanced = False
            row.reconcile_detail = f"{err.code().name}: {err.details()}"
            return
        entries = {e.company_id: e for e in reply.entries if e.company_id in ours}
        off = [
            f"{ours[c]} delivered {e.delivered} billed {e.billed}"
            for c, e in entries.items()
            if e.difference
        ]
        row.reconcile_balanced = not off and len(entries) == len(ours)
        missing = len(ours) - len(entries)
        row.reconcile_detail = "; ".join(off) + (
            f"; {missing} companies missing" if missing else ""
        )


async def _true(value: bool) -> bool:
    return value


NOTABLE = ("restarting it", "not delivered", "gap", "Traceback", "ERROR", "WARNING", "crash")


def _notable(lines: list[str], most: int = 8) -> list[str]:
    """The first few log lines of a phase that say something went wrong, for the report."""
    hits = [line.strip()[:200] for line in lines if any(word in line for word in NOTABLE)]
    if len(hits) > most:
        hits = [*hits[:most], f"... {len(hits) - most} more such lines"]
    return hits


async def run_matrix(work_dir: Path, faults: Iterable[str] = FAULTS) -> list[Row]:
    """Start the mesh behind the proxies, run each fault in turn, stop everything."""
    thread = LoopThread()
    proxies = {
        "postgres": TcpProxy("127.0.0.1", 5432),
        "redis": TcpProxy("127.0.0.1", 6379),
    }
    tag = secrets.token_hex(4)
    schema, prefix = f"tmfault_{tag}", f"tmfault:{tag}:"
    for proxy in proxies.values():
        thread.run(proxy.start())
    postgres = POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://", 1).replace(
        "127.0.0.1:5432", f"127.0.0.1:{proxies['postgres'].port}"
    )
    redis = REDIS_URL.replace("127.0.0.1:6379", f"127.0.0.1:{proxies['redis'].port}")
    env = {
        "TICKMESH_POSTGRES_URL": postgres,
        "TICKMESH_POSTGRES_SCHEMA": schema,
        "TICKMESH_REDIS_URL": redis,
        "TICKMESH_REDIS_PREFIX": prefix,
        "TICKMESH_INGESTION_QUOTES_PER_SECOND": str(QUOTES_PER_SECOND),
    }
    mesh = await asyncio.to_thread(start_mesh, work_dir / "data", env)
    harness = Harness(mesh, proxies, thread)
    rows = []
    try:
        for number, fault in enumerate(faults, 1):
            rows.append(await harness.phase(number, fault))
    finally:
        await harness.close()
        if mesh.process.poll() is None:
            await asyncio.to_thread(mesh.stop, 30.0)
        mesh.close()
        for proxy in proxies.values():
            thread.run(proxy.close())
        thread.close()
        await _drop_stores(work_dir, schema, prefix)
    return rows


async def _drop_stores(work_dir: Path, schema: str, prefix: str) -> None:
    """Remove the run's PostgreSQL schemas and Redis keys (reached directly, not proxied)."""
    from servers.storage.relational.engine import open_store
    from servers.storage.relational.provision import destroy_store

    url = POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://", 1)
    store = await open_store(url, work_dir, shared_schema=schema, run_migrations=False)
    await destroy_store(store)
    await delete_redis_prefix(prefix)


# -- the report -------------------------------------------------------------------


def _s(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f}"


def format_table(rows: list[Row]) -> str:
    lines = [
        "| fault | SERVING again (s) | clients back (s) | ticks checked / announced / lost "
        "| calls ok / billed | ticks received / billed | usage lost / double "
        "| usage matched (s) | reconcile | cross-tenant | result |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        u = r.usage
        lines.append(
            f"| {r.fault} | {_s(r.serving_after_s)} | {_s(r.clients_back_after_s)} "
            f"| {r.ticks.checked:,} / {r.ticks.announced:,} / {r.ticks.lost:,} "
            f"| {u.calls_ok:,} / {u.calls_billed:,} | {u.ticks_received:,} / {u.ticks_billed:,} "
            f"| {u.lost:,} / {u.double:,} | {_s(u.settled_after_s)} "
            f"| {'balanced' if r.reconcile_balanced else 'NOT balanced'} "
            f"| {r.cross_tenant} of {r.answers:,} | {'pass' if not r.failures() else 'FAIL'} |"
        )
    return "\n".join(lines)


def format_report(rows: list[Row], took_s: float | None = None) -> str:
    out = [format_table(rows), ""]
    for r in rows:
        failures = r.failures()
        if failures:
            out.append(f"- **{r.fault}** fails: " + "; ".join(failures))
        if r.not_serving_during:
            out.append(f"  - during the outage: {', '.join(r.not_serving_during)}")
        out += [f"  - usage: {d}" for d in r.usage.details[:12]]
    if took_s is not None:
        out.append(f"\nWhole run {took_s:.0f} s.")
    return "\n".join(out)


def write_results(report: str, path: Path = Path("bench/RESULTS.md")) -> None:
    """Replace the fault matrix section of RESULTS.md (or add it at the end)."""
    heading = "## Fault matrix (issue 14)"
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    section = (
        f"{heading}\n\n`{COMMAND}`, {day}, on the CI machine (2 cores shared). One "
        f"`tickmesh up` with PostgreSQL and Redis behind TCP proxies; per fault, fresh "
        f"companies (two per tier: subscribers through the SDK, one to the Bridge and one "
        f"through the Hub; API callers of two companies), {WARM_S:g} s of traffic, the fault "
        f"(kill -9, or a {OUTAGE_S:g} s outage cut at the proxy), recovery, {AFTER_S:g} s more "
        f"traffic. Ticks are judged against what Ingestion published ({QUOTES_PER_SECOND} "
        f"quotes/s); usage against Storage.QueryUsage; reconcile is Billing.Reconcile on the "
        f"fault's companies. The harness is `tests/e2e/fault_matrix.py`.\n\n{report}\n"
    )
    text = path.read_text()
    start = text.find(heading)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(heading))
        text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="record the table in RESULTS.md")
    parser.add_argument("faults", nargs="*", default=list(FAULTS), help="faults to run")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tickmesh-faults-") as tmp:
        rows = asyncio.run(run_matrix(Path(tmp), args.faults))
    report = format_report(rows, time.monotonic() - started)
    print(report)
    for r in rows:
        for line in r.evidence:
            print(f"[{r.fault}] {line}", file=sys.stderr)
    if args.write:
        write_results(report)
    return 0 if all(not r.failures() for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
