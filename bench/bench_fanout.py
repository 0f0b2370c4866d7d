"""Benchmark: Bridge fan-out to 100 / 1,000 / 5,000 subscribers against a bare grpc.aio fan-out.

Usage: .venv/bin/python bench/bench_fanout.py [--subscribers 100 1000 5000] [--window 20]
           [--warmup 5] [--rate 20] [--symbols 40] [--client-procs 2] [--profile DIR]
           [--bridges N|POOLS] [--bridge-nice N] [--competing-load CORES]
           [--workload mix|enterprise] [--peer nats [--no-bridge]]

Topology, all on loopback, every part in its own process so CPU is measured per process:
  - a real Ingestion server (`python -m servers.ingestion`, synthetic feeds off), fed by
    this script through PublishTicks (operator key): `--symbols` symbols (the 28 majors
    first, then non-majors), each updated `--rate` times a second, one quote per update
    from one broker, sent every `--publish-ms`; every quote moves the price, so ticks/s =
    quotes/s;
  - a real Bridge (bench/fanout_servers.py bridge: the Bridge's SPEC with the mesh's auth,
    quota and stream leases on `--redis`, the local Redis by default as deployed; only
    the key lookup is a bench stub);
  - subscriber clients in `--client-procs` processes, many streams per channel on several
    channels each (local subchannel pools, so each channel is its own connection);
    80 % free (its 5 symbols), 18 % pro (10 majors), 2 % enterprise (12 majors + 8
    non-majors); every subscriber is its own company (free allows one stream each);
  - then, in the same run, the baseline: bench/fanout_servers.py bare, a bare grpc.aio
    fan-out serving the same path to the same client harness, with the per-tier message
    rate per stream and ticks per message the Bridge delivered (tier-projected ticks).

Per run, after a warm-up, over a fixed window: delivered ticks/s and messages/s (summed
over clients), server process CPU (user+sys, psutil) per delivered message and per tick,
server RSS before subscribing and at the end of the window (memory per subscriber),
per-tier p50/p99 latency from Tick.ingest_time_us to client receipt (one machine, one
clock), skipped counts, the Bridge's garbage-collector time (gc.callbacks in the
launcher), server log lines by kind. A stream refused before its ack (CANCELLED,
UNAVAILABLE, RESOURCE_EXHAUSTED) is retried up to 5 times with backoff and counted.
Each run waits (at most --quiet-wait s) for processes foreign to the benchmark to go
quiet, and reports the load they added. The cores are shared by every process (clients
included), so a saturated run measures the machine, not the server alone.

--profile DIR runs py-spy (--py-spy PATH; `pip install py-spy`) on the Bridge over each
window and prints where its samples go; --native adds C frames (it pauses the process,
so that run's CPU figures are not comparable). --bridge-gc-threshold G0,G1,G2 is an
experiment: the launcher calls gc.set_threshold in the Bridge process before it starts;
--bridge-switch-interval S likewise calls sys.setswitchinterval (the GIL hand-off);
--pin puts the measured server alone on the last core and every other process
on the rest.

Issue 22's variants, each a flag (without them a run is as before, plus a summary table):
  --bridges SPEC: several Bridge processes, each on its own port: a count (`2`, each
    serving every tier, subscribers round-robin) or tier pools (`enterprise+pro,free*2`:
    each started with TICKMESH_INSTANCE_POOL, each subscriber sent to a Bridge of its
    tier's pool, round-robin within it); reported per process (CPU, messages/s, us/msg,
    subscribers) and as subscribers per core of Bridge CPU. Pools run at the niceness of
    their richest tier, as under `tickmesh up` (mesh.tier_pools.Pool.niceness):
    --bridge-nice N for free-only pools, 0 for pro, --enterprise-nice N for enterprise
    pools and Ingestion. --profile follows the first Bridge; --pin puts every Bridge on
    the last core.
  --competing-load CORES: a process of this benchmark busy that share of a core in every
    measured run (bench/competing_load.py: a duty-cycle busy loop with its own deadline),
    its measured CPU shown beside the foreign load.
  --workload enterprise: every subscriber enterprise, all on the same 10 majors.
  --clients-by-tier: enterprise and pro subscribers in client processes of their own
    (free over --client-procs), as different customers run different clients; with
    several Bridges, each one's own upstream read delay, loop lag and stall CPU follow
    its CPU line.
  --peer nats: the same feed (bench/fanout_feed.py) through NATS core to nats-py
    subscribers in the client processes, with the same tier mix, the publisher applying
    each tier's interval with the Bridge's Throttle (bench/nats_peer.py); --no-bridge
    runs the peer alone.

The Bridge and Ingestion run with a probe (fanout_servers.Probe) that splits the latency
before the Bridge's send, per upstream batch: ingest -> Ingestion's publish stamp (its
batching), -> the moment Ingestion's stream yields it, the write in Ingestion,
publish -> the Bridge's read, each process's event-loop lag (a 5 ms sleep's lateness),
and how long the Bridge's writes to subscribers take to complete, per tier.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import math
import multiprocessing as mp
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# competing_load, fanout_*, nats_peer: the script's own directory (bench/), on sys.path.
import competing_load
import grpc
import nats_peer
import psutil
from fanout_feed import Pacer, QuoteMaker
from fanout_servers import BINS_PER_E
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats_peer import NatsServer
from tickmesh.bridge.v1 import bridge_pb2
from tickmesh.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc

from mesh.certs import CertsDir
from mesh.tier_pools import Pool, PoolSpecError, parse_pools
from mesh.tiers import FREE_SYMBOLS, MAJOR_PAIRS, Tier
from servers.ingestion.symbols import UNIVERSE

REPO = Path(__file__).resolve().parent.parent
HELPER = Path(__file__).resolve().parent / "fanout_servers.py"
NATS_PEER = Path(__file__).resolve().parent / "nats_peer.py"
SUBSCRIBE_PATH = "/tickmesh.bridge.v1.BridgeService/Subscribe"
TIERS = (Tier.FREE, Tier.PRO, Tier.ENTERPRISE)
TARGET_P99_MS = {Tier.FREE: 1000.0, Tier.PRO: 100.0, Tier.ENTERPRISE: 10.0}
CORES = psutil.cpu_count() or 1
RETRIES = 5
RETRYABLE = {
    "CANCELLED",
    "UNAVAILABLE",
    "RESOURCE_EXHAUSTED",
}  # latency histogram: ~1 % wide logarithmic bins


# -- workload -------------------------------------------------------------------------


def published_symbols(count: int) -> list[str]:
    """The 28 majors, then non-majors, `count` in all."""
    others = [s for s, spec in UNIVERSE.items() if not spec.major]
    return [*MAJOR_PAIRS, *others][:count]


def tier_counts(n: int, workload: str = "mix") -> dict[Tier, int]:
    if workload == "enterprise":
        return {Tier.ENTERPRISE: n}
    enterprise = round(n * 0.02)
    pro = round(n * 0.18)
    return {Tier.FREE: n - pro - enterprise, Tier.PRO: pro, Tier.ENTERPRISE: enterprise}


def subscriber_specs(
    n: int, symbols: list[str], run: str, workload: str = "mix"
) -> list[tuple[str, str, list[str]]]:
    """(company, tier, symbols) per subscriber; pro and enterprise sets rotate. The
    enterprise workload: every subscriber enterprise, all on the same 10 majors (a buyer
    of many enterprise streams)."""
    majors = [s for s in symbols if s in MAJOR_PAIRS]
    others = [s for s in symbols if s not in MAJOR_PAIRS]
    specs = []
    index = 0
    for tier, count in tier_counts(n, workload).items():
        for k in range(count):
            if workload == "enterprise":
                chosen = majors[:10]
            elif tier is Tier.FREE:
                chosen = list(FREE_SYMBOLS)
            elif tier is Tier.PRO:
                chosen = [majors[(3 * k + j) % len(majors)] for j in range(10)]
            else:
                chosen = [majors[(5 * k + j) % len(majors)] for j in range(12)]
                chosen += [others[(3 * k + j) % len(others)] for j in range(min(8, len(others)))]
            specs.append((f"{run}{index:05d}", tier.value, chosen))
            index += 1
    random.Random(7).shuffle(specs)  # tiers interleaved over processes and channels
    return specs


def parse_bridges(spec: str) -> list[Pool]:
    """`2` (two Bridges, each every tier) or `enterprise+pro,free*2` (tier pools), as
    `tickmesh up --bridges` reads it (mesh.tier_pools)."""
    try:
        return list(parse_pools(spec))
    except PoolSpecError as exc:
        raise argparse.ArgumentTypeError(f"--bridges: {exc}") from None


def bridge_plans(pools: list[Pool], nice: int, enterprise_nice: int = 0) -> list[ServerPlan]:
    """A Bridge process per pool member, each on its own port, at its pool's niceness
    (free-only `nice`, pro 0, enterprise `enterprise_nice`)."""
    plans = []
    single = len(pools) == 1 and pools[0].processes == 1 and not pools[0].pooled
    for pool in pools:
        for k in range(pool.processes):
            port = free_port()
            ranked = sorted(pool.tiers, key=lambda t: t.rank, reverse=True)
            env = {"TICKMESH_INSTANCE_POOL": ",".join(t.value for t in ranked)}
            niced = pool.niceness(nice, enterprise_nice)
            plans.append(
                ServerPlan(
                    "bridge" if single else f"bridge[{pool.name}]#{k + 1}",
                    [sys.executable, str(HELPER), "bridge", "--port", str(port)],
                    port, pool.tiers or frozenset(TIERS), env if pool.pooled else {}, niced,
                )
            )  # fmt: skip
    return plans


# -- the publisher (PublishTicks into Ingestion) --------------------------------------


async def publish(
    address: str, admin_key: str, symbols: list[str], rate: float, step_s: float,
    stop: asyncio.Event, counts: dict[str, int],
) -> None:  # fmt: skip
    """Feed Ingestion at `rate` updates per symbol per second until `stop`."""
    quote = QuoteMaker(symbols).quote
    loop = asyncio.get_running_loop()

    async def requests() -> Any:
        start = loop.time()
        pacer = Pacer(symbols, rate, start)
        tick_at = start
        while not stop.is_set():
            quotes = [quote(s, i) for i, s in pacer.take(loop.time())]
            if quotes:
                counts["quotes"] += len(quotes)
                yield ingestion_pb2.PublishTicksRequest(quotes=quotes)
            tick_at += step_s
            await asyncio.sleep(max(0.0, tick_at - loop.time()))

    channel = mesh_channel(address)
    stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
    metadata = (("authorization", f"Bearer {admin_key}"),)
    try:
        reply = await stub.PublishTicks(requests(), metadata=metadata)
        counts["rejected"] += reply.rejected
        if reply.rejections:
            print(f"  publisher: first rejection: {reply.rejections[0].reason}", file=sys.stderr)
    finally:
        await channel.close()


# -- the client harness (runs in its own processes) -----------------------------------


@dataclass
class TierStats:
    messages: int = 0
    data_messages: int = 0
    ticks: int = 0
    bytes: int = 0
    skipped: int = 0
    heartbeats: int = 0
    gaps: int = 0
    streams: int = 0  # streams of the tier that were acked (open)
    latency: collections.Counter[int] = field(default_factory=collections.Counter)
    # Ingest -> the server's send stamp (TickBatch.send_time_us): the part before the
    # write; the rest of `latency` is the write, the wire and the client.
    to_send: collections.Counter[int] = field(default_factory=collections.Counter)
    # From the tick's release (Tick.released_time_us: when the tier's throttle let a held
    # update go; its ingest time when it was not held) to receipt: the pipeline without
    # the hold the tier's interval imposes by design.
    released: collections.Counter[int] = field(default_factory=collections.Counter)
    held: int = 0  # ticks that carried a release time

    def merge(self, other: TierStats) -> None:
        for name in ("messages", "data_messages", "ticks", "bytes", "skipped", "heartbeats",
                     "gaps", "streams", "held"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.latency.update(other.latency)
        self.to_send.update(other.to_send)
        self.released.update(other.released)


Routed = tuple[str, str, list[str], str]
"""(company, tier, symbols, the address of the server it subscribes to)."""


def client_process(specs: list[Routed], per_channel: int, commands: Any, results: Any) -> None:
    """Runs in its own process: one Subscribe stream per spec, reporting to `results`."""
    asyncio.run(_clients(specs, per_channel, commands, results))


async def _clients(specs: list[Routed], per_channel: int, commands: Any, results: Any) -> None:
    options = [("grpc.use_local_subchannel_pool", 1)]  # a connection per channel
    channels = []
    methods: dict[str, list[Any]] = {}  # per server, its channels' Subscribe
    place = []  # per spec: its server, its position among that server's specs
    by_server = collections.Counter(spec[3] for spec in specs)
    for target, count in by_server.items():
        ours = [
            mesh_channel(target, options) for _ in range(max(1, math.ceil(count / per_channel)))
        ]
        channels += ours
        methods[target] = [
            ch.unary_stream(SUBSCRIBE_PATH, bridge_pb2.SubscribeRequest.SerializeToString, None)
            for ch in ours
        ]
    seen = collections.Counter[str]()
    for spec in specs:
        place.append((spec[3], seen[spec[3]]))
        seen[spec[3]] += 1
    delivered = collections.Counter[str]()  # messages in the window, per server
    stats = {tier.value: TierStats() for tier in TIERS}
    errors: collections.Counter[str] = collections.Counter()
    window = [math.inf, math.inf]  # receive-time window, unix microseconds
    acked = failed = 0
    done = False  # set when this process cancels its streams
    retried: collections.Counter[str] = collections.Counter()
    settled = asyncio.Event()
    calls = []
    parse = bridge_pb2.SubscribeResponse.FromString
    log = math.log

    def settle(*, opened: bool) -> None:
        nonlocal acked, failed
        acked += opened
        failed += not opened
        if acked + failed == len(specs):
            settled.set()

    async def one(i: int, company: str, tier: str, symbols: list[str]) -> None:
        request = bridge_pb2.SubscribeRequest(symbols=symbols)
        metadata = (("authorization", f"Bearer bench.{company}.u.{tier}"),)
        target, j = place[i]
        ours = methods[target]
        for attempt in range(RETRIES + 1):
            call = ours[j % len(ours)](request, metadata=metadata)
            calls.append(call)
            code = await stream(call, stats[tier], target)
            if code is None:
                return
            if code in RETRYABLE and attempt < RETRIES:
                # Refused before the ack (e.g. grpc's pending-call backlog during a fast
                # ramp): a real client reconnects, so do we, and count it.
                retried[code] += 1
                await asyncio.sleep(0.5 * (attempt + 1) * (1 + random.random()))
                continue
            errors[code] += 1
            settle(opened=False)
            return

    async def stream(call: Any, st: TierStats, target: str) -> str | None:
        """Read one stream to its end; None once it was acked, else why it failed first."""
        first = True
        try:
            async for raw in call:
                if first:
                    first = False
                    settle(opened=True)
                    st.streams += 1
                    continue
                now = time.time_ns() // 1000
                if not window[0] <= now < window[1]:
                    continue
                message = parse(raw)
                delivered[target] += 1
                st.messages += 1
                st.bytes += len(raw)
                st.skipped += message.skipped
                kind = message.WhichOneof("payload")
                if kind == "batch":
                    st.data_messages += 1
                    ticks = message.batch.ticks
                    st.ticks += len(ticks)
                    latency, to_send, released = st.latency, st.to_send, st.released
                    sent = message.batch.send_time_us
                    for tick in ticks:
                        latency[int(log(max(now - tick.ingest_time_us, 1)) * BINS_PER_E)] += 1
                        to_send[int(log(max(sent - tick.ingest_time_us, 1)) * BINS_PER_E)] += 1
                        if tick.released_time_us:
                            st.held += 1
                        start = tick.released_time_us or tick.ingest_time_us
                        released[int(log(max(now - start, 1)) * BINS_PER_E)] += 1
                elif kind == "heartbeat":
                    st.heartbeats += 1
                elif kind == "gap":
                    st.gaps += 1
        except grpc.aio.AioRpcError as err:
            if first:
                return str(err.code().name)
            if err.code() != grpc.StatusCode.CANCELLED or not done:
                errors[err.code().name] += 1  # an open stream failed
            return None
        except asyncio.CancelledError:
            return None if not first else "CANCELLED"
        except Exception as exc:  # a harness bug must show, not hide as an open stream
            errors[type(exc).__name__] += 1
            return None if not first else type(exc).__name__
        if first:
            return "ENDED_BEFORE_ACK"
        if not done:
            errors["ENDED"] += 1  # an open stream ended by itself
        return None

    tasks = []
    for i, (company, tier, symbols, _) in enumerate(specs):
        tasks.append(asyncio.create_task(one(i, company, tier, symbols)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # a ramp (1,000 streams/s per process), not a herd
    try:
        async with asyncio.timeout(180):
            await settled.wait()
    except TimeoutError:
        pass

    def report() -> dict[str, int]:
        return {**errors, **{f"retried {code}": n for code, n in retried.items()}}

    results.put(("ready", os.getpid(), acked, report()))
    command = await asyncio.to_thread(commands.get)
    if command is not None:
        window[0], window[1] = command
        await asyncio.sleep(max(0.0, window[1] / 1e6 - time.time()) + 0.05)
    done = True
    for call in calls:
        call.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for ch in channels:
        await ch.close()
    results.put(
        ("done", os.getpid(), {k: vars(v) for k, v in stats.items()}, report(), dict(delivered))
    )


# -- processes ------------------------------------------------------------------------


def revision() -> str:
    """The commit measured, and whether the server code differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "servers", "mesh"],
            cwd=REPO, capture_output=True, text=True,
        ).stdout.split("\n")  # fmt: skip
    except OSError:
        return "unknown"
    changed = [line[3:] for line in dirty if line.strip()]
    return head + (f" + uncommitted changes in {', '.join(changed)}" if changed else "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mesh_channel(target: str, options: Sequence[tuple[str, Any]] = ()) -> grpc.aio.Channel:
    """A channel to a bench server: TLS trusting BENCH_CA when set (--tls), else plaintext.
    An environment variable, so the client processes see it too."""
    ca = os.environ.get("BENCH_CA")
    if not ca:
        return grpc.aio.insecure_channel(target, options=options)
    credentials = grpc.ssl_channel_credentials(Path(ca).read_bytes())
    return grpc.aio.secure_channel(target, credentials, options=options)


def cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def pin_all_threads(pid: int, cores: list[int]) -> None:
    """Move every thread of `pid` (grpc's included) to `cores`; later threads inherit it."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(tid), cores)


def rss_mb(proc: psutil.Process) -> float:
    return proc.memory_info().rss / 2**20


async def wait_serving(address: str, within: float = 30.0) -> None:
    """Until the server's health service answers SERVING."""
    deadline = time.monotonic() + within
    async with mesh_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{address} did not become SERVING")
            await asyncio.sleep(0.2)


async def wait_port(port: int, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def spawn(
    cmd: list[str], env: dict[str, str], stderr: Any = None, stdout: Any = None
) -> subprocess.Popen[bytes]:
    """A server process (started at once; the caller waits for it to serve)."""
    return subprocess.Popen(cmd, env=env, cwd=REPO, stderr=stderr, stdout=stdout)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- one measured run -----------------------------------------------------------------


@dataclass
class RunResult:
    kind: str
    n: int
    opened: int
    errors: dict[str, int]
    window: float
    cpu_s: float  # server process CPU over the window
    client_cpu_s: float
    machine_busy: float  # share of all cores busy over the window
    rss_before: float
    rss_after: float
    tiers: dict[str, TierStats]
    profile: str = ""
    feed: list[float] = field(default_factory=list)  # quotes/s, Ingestion, this script
    others: float = 0.0  # cores busy with processes not of this benchmark, in the window
    background: float = 0.0  # the same, just before the run
    gc: list[float] = field(default_factory=list)  # GC seconds by generation, in the window
    hist: dict[str, collections.Counter[int]] = field(default_factory=dict)  # probes, window
    steal: float = 0.0  # cores' worth of time the hypervisor ran something else
    written: int = 0  # messages the server says it wrote in the window (baseline only)
    servers: list[ServerShare] = field(default_factory=list)  # per process, when several
    load_cpu_s: float = 0.0  # the competing load's CPU over the window (--competing-load)

    @property
    def messages(self) -> int:
        return sum(t.messages for t in self.tiers.values())

    @property
    def ticks(self) -> int:
        return sum(t.ticks for t in self.tiers.values())

    def us_per_message(self) -> float:
        return self.cpu_s * 1e6 / max(self.messages, 1)

    def us_per_tick(self) -> float:
        return self.cpu_s * 1e6 / max(self.ticks, 1)


def hop_split(run: RunResult) -> str:
    """The latency before the Bridge's send, part by part, and the server's loop lag and
    write completions (p50/p99/max, ms; the bare has only the last two)."""
    server = "Bridge" if run.kind == "bridge" else run.kind
    parts = [
        ("ingest -> Ingestion publish", "ingest_to_publish"),
        ("-> Ingestion yield", "ingestion publish_to_yield"),
        ("Ingestion write", "ingestion write"),
        ("publish -> Bridge read", "publish_to_read"),
        ("loop lag: Bridge", "loop_lag"),
        ("its CPU in stalls >=5 ms", "stall_cpu"),
        ("Bridge write: free", "write free"),
        ("pro", "write pro"),
        ("enterprise", "write enterprise"),
        ("Ingestion", "ingestion loop_lag"),
    ]
    shown = []
    for label, name in parts:
        hist = run.hist.get(name)
        if hist:
            top = math.exp((max(hist) + 0.5) / BINS_PER_E) / 1000
            label = label.replace("Bridge", server)
            shown.append(
                f"{label} {percentile(hist, 0.5):.1f}/{percentile(hist, 0.99):.1f}/{top:.0f}"
            )
    return (f"    {run.kind} probe, p50/p99/max ms: {', '.join(shown)}; "
            f"steal {run.steal:.0%} of a core")  # fmt: skip


def own_split(hist: dict[str, collections.Counter[int]]) -> str:
    """One Bridge's own upstream read delay and loop lag, p50/p99 ms (the run's probe line
    merges every Bridge's, so a niced free pool's would hide the enterprise pool's)."""
    shown = []
    for label, name in (("read", "publish_to_read"), ("lag", "loop_lag"), ("stalls", "stall_cpu")):
        if h := hist.get(name):
            shown.append(f"{label} {percentile(h, 0.5):.1f}/{percentile(h, 0.99):.1f}")
    return ", ".join(shown)


def percentile(hist: collections.Counter[int], q: float) -> float:
    """The q-quantile of a latency histogram, in milliseconds."""
    total = sum(hist.values())
    if not total:
        return math.nan
    rank, seen = q * total, 0
    for b in sorted(hist):
        seen += hist[b]
        if seen >= rank:
            return math.exp((b + 0.5) / BINS_PER_E) / 1000
    return math.nan


@dataclass
class ServerPlan:
    """One server process of a measured variant."""

    label: str
    cmd: list[str]
    port: int
    tiers: frozenset[Tier]  # the tiers its subscribers have
    env: dict[str, str] = field(default_factory=dict)
    nice: int = 0  # the process's niceness (fanout_servers applies BENCH_NICE first thing)


@dataclass
class ServerShare:
    """One server process's part of a run (several Bridges, or the NATS peer's parts)."""

    label: str
    subscribers: int
    cpu_s: float
    messages: int = 0
    split: str = ""  # its own probe figures (a Bridge of several)


@dataclass
class Drive:
    """What the clients and the CPU counters saw over one window."""

    opened: int
    errors: dict[str, int]
    tiers: dict[str, TierStats]
    delivered: collections.Counter[str]  # messages per server address
    cpu: list[float]  # per server process, seconds
    client_cpu_s: float
    busy: float
    feed: list[float]
    others: float
    load_cpu_s: float
    steal: float


def run_bound_s(args: argparse.Namespace) -> float:
    """The longest one measured run can take (its server start, ramp, warm-up, window and
    the clients' reports): what bounds the competing load and the NATS publisher."""
    return 30 + 1 + 240 + args.warmup + 1.2 + args.window + 120 + args.quiet_wait


def client_shares(subscribers: list[Any], procs: int, by_tier: bool) -> list[list[Any]]:
    """The subscribers (tier second in each tuple) of each client process: round-robin
    over `procs`; or, `by_tier`, enterprise and pro in a process each of their own and
    free over `procs`, as different customers run different clients, so a paying
    tier's reads never wait behind 800 free streams parsed in the same process."""
    if not by_tier:
        return [subscribers[i::procs] for i in range(procs)]
    free = [s for s in subscribers if s[1] == "free"]
    shares = [free[i::procs] for i in range(procs)]
    for tier in ("pro", "enterprise"):
        paying = [s for s in subscribers if s[1] == tier]
        split = 1 if len(paying) <= 200 else procs  # the all-enterprise workload: spread
        shares += [paying[i::split] for i in range(split)]
    return [share for share in shares if share]


def route(specs: list[tuple[str, str, list[str]]], plans: list[ServerPlan]) -> list[Routed]:
    """Each subscriber to a server of its tier, round-robin among those (a tier pool)."""
    pools = {t: [p for p in plans if Tier.parse(t) in p.tiers] for t in {s[1] for s in specs}}
    turn = collections.Counter[str]()
    out = []
    for company, tier, symbols in specs:
        pool = pools[tier]
        if not pool:
            raise SystemExit(f"no Bridge serves the {tier} tier")
        plan = pool[turn[tier] % len(pool)]
        turn[tier] += 1
        out.append((company, tier, symbols, f"127.0.0.1:{plan.port}"))
    return out


async def drive(
    kind: str, start_client: Any, shares: list[Any], sprocs: list[psutil.Process],
    args: argparse.Namespace, probe: Any, load: list[subprocess.Popen[bytes]],
    on_start: Any = None, on_end: Any = None,
) -> Drive:  # fmt: skip
    """Start a client process per share (`start_client(share, commands, results)` gives
    the Process), wait for their streams, warm up, and measure one window."""
    ctx = mp.get_context("spawn")
    clients: list[Any] = []
    total = sum(len(share) for share in shares)
    try:
        results = ctx.Queue()
        commands = [ctx.Queue() for _ in shares]
        for share, queue in zip(shares, commands, strict=True):
            p = start_client(ctx, share, queue, results)
            p.start()
            clients.append(p)
        opened, errors = 0, collections.Counter[str]()
        t_ramp = time.monotonic()
        for _ in clients:
            _, _, acked, errs = await asyncio.to_thread(results.get, True, 240)
            opened += acked
            errors.update(errs)
        ramp = time.monotonic() - t_ramp
        print(f"  {kind}: {opened}/{total} streams open after {ramp:.1f} s"
              + (f", errors {dict(errors)}" if errors else ""), flush=True)  # fmt: skip
        await asyncio.sleep(args.warmup)
        cprocs = [psutil.Process(p.pid) for p in clients]
        lprocs = [psutil.Process(p.pid) for p in load]
        start = time.time() + 0.5
        end = start + args.window
        for queue in commands:
            queue.put((int(start * 1e6), int(end * 1e6)))
        await asyncio.sleep(start - time.time())
        if on_start is not None:
            on_start()
        cpu0, ccpu0, lcpu0, sys0, feed0 = (
            [cpu_s(p) for p in sprocs], sum(map(cpu_s, cprocs)), sum(map(cpu_s, lprocs)),
            psutil.cpu_times(), probe(),
        )  # fmt: skip
        await asyncio.sleep(end - time.time())
        cpu1, ccpu1, lcpu1, sys1, feed1 = (
            [cpu_s(p) for p in sprocs], sum(map(cpu_s, cprocs)), sum(map(cpu_s, lprocs)),
            psutil.cpu_times(), probe(),
        )  # fmt: skip
        if on_end is not None:
            on_end()
        busy = _busy(sys0, sys1)
        feed = [(b - a) / args.window for a, b in zip(feed0, feed1, strict=True)]
        cpu = [b - a for a, b in zip(cpu0, cpu1, strict=True)]
        mine = (sum(cpu) + ccpu1 - ccpu0) / args.window + feed[1] + feed[2]
        load_cpu = lcpu1 - lcpu0
        others = busy * CORES - mine - load_cpu / args.window
        tiers = {tier.value: TierStats() for tier in TIERS}
        errors = collections.Counter[str]()  # the clients report them cumulatively
        delivered = collections.Counter[str]()
        for _ in clients:
            _, _, stats, errs, per_server = await asyncio.to_thread(results.get, True, 120)
            for name, st in stats.items():
                tiers[name].merge(TierStats(**st))
            errors.update(errs)
            delivered.update(per_server)
        return Drive(
            opened, dict(errors), tiers, delivered, cpu, ccpu1 - ccpu0, busy, feed, others,
            load_cpu, (sys1.steal - sys0.steal) / args.window if hasattr(sys1, "steal") else 0.0,
        )  # fmt: skip
    finally:
        for p in clients:
            await asyncio.to_thread(p.join, 10)
            if p.is_alive():
                p.kill()


async def measure(
    kind: str, plans: list[ServerPlan], env: dict[str, str],
    specs: list[tuple[str, str, list[str]]], args: argparse.Namespace, probe: Any,
) -> RunResult:  # fmt: skip
    background = await wait_quiet(args, probe)
    # The competing load starts once the machine is quiet (else the wait would never end).
    load = competing_load.start(args.competing_load, run_bound_s(args) + 30)
    data = Path(env["TICKMESH_DATA_DIR"])
    names = [
        f"{kind}-{len(specs)}" + (f"-{i}" if len(plans) > 1 else "") for i in range(len(plans))
    ]
    logs = [data / f"{name}.log" for name in names]
    probes = [data / f"{name}.probe.json" for name in names]
    count_path = data / f"{names[0]}.count.json"
    servers: list[subprocess.Popen[bytes]] = []
    try:
        for plan, name, log_path, probe_path in zip(plans, names, logs, probes, strict=True):
            penv = {**env, **plan.env, "BENCH_PROBE_FILE": str(probe_path),
                    "BENCH_COUNT_FILE": str(data / f"{name}.count.json")}  # fmt: skip
            if args.bridge_gc_threshold:
                penv["BENCH_GC_THRESHOLD"] = args.bridge_gc_threshold
            if args.bridge_switch_interval:
                penv["BENCH_SWITCH_INTERVAL"] = str(args.bridge_switch_interval)
            if plan.nice:
                # The launcher calls os.nice before anything else, so every thread (grpc's
                # included) inherits it; not a preexec_fn: forking this process, which has
                # grpc threads of its own, is unsafe.
                penv["BENCH_NICE"] = str(plan.nice)
            with log_path.open("wb") as log_file:
                servers.append(spawn(plan.cmd, penv, stderr=log_file))
        for plan in plans:
            if kind == "bridge":
                await wait_serving(f"127.0.0.1:{plan.port}")
            else:
                await wait_port(plan.port)
        sprocs = [psutil.Process(server.pid) for server in servers]
        if args.pin:
            for server in servers:
                pin_all_threads(server.pid, [CORES - 1])
        await asyncio.sleep(1.0)  # the upstream flows; the baseline is idle
        rss_before = sum(map(rss_mb, sprocs))
        routed = route(specs, plans)
        shares = client_shares(routed, args.client_procs, args.clients_by_tier)

        def start_client(ctx: Any, share: list[Routed], queue: Any, results: Any) -> Any:
            return ctx.Process(target=client_process, daemon=True,
                               args=(share, args.streams_per_channel, queue, results))  # fmt: skip

        readings: dict[str, Any] = {}

        def on_start() -> None:
            readings["probe0"] = [read_probes(p, args.ingestion_probe) for p in probes]
            readings["written0"] = read_written(count_path)
            if args.profile and kind == "bridge":
                readings["profiler"] = start_profiler(servers[0].pid, args)

        def on_end() -> None:
            readings["rss_after"] = sum(map(rss_mb, sprocs))

        seen = await drive(kind, start_client, shares, sprocs, args, probe, load, on_start, on_end)
        await asyncio.sleep(0.6)  # the next probe files
        probe1 = [read_probes(p, args.ingestion_probe) for p in probes]
        gc = [0.0] * 6
        hist: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
        splits = []
        for before, after in zip(readings["probe0"], probe1, strict=True):
            gc = [a + b for a, b in zip(gc, after.gc_minus(before), strict=True)]
            own = after.hist_minus(before)
            for name, h in own.items():
                if not name.startswith("ingestion ") or not hist.get(name):
                    hist[name].update(h)  # Ingestion's own: once, not once per Bridge
            splits.append(own_split(own))
        profiler = readings.get("profiler")
        profile = finish_profiler(profiler) if profiler else ""
        addresses = [f"127.0.0.1:{plan.port}" for plan in plans]
        assigned = collections.Counter(spec[3] for spec in routed)
        parts = [
            ServerShare(plan.label, assigned[a], c, seen.delivered[a], split)
            for plan, a, c, split in zip(plans, addresses, seen.cpu, splits, strict=True)
        ]
        return RunResult(
            kind, len(specs), seen.opened, seen.errors, args.window, sum(seen.cpu),
            seen.client_cpu_s, seen.busy, rss_before, readings["rss_after"], seen.tiers,
            profile, feed=seen.feed, others=seen.others, background=background, gc=gc,
            hist=dict(hist), steal=seen.steal,
            written=read_written(count_path) - readings["written0"],
            servers=parts, load_cpu_s=seen.load_cpu_s,
        )  # fmt: skip
    finally:
        competing_load.stop(load)
        for server in servers:
            await asyncio.to_thread(stop_process, server)  # the publisher keeps its pace
        for name, log_path in zip(names, logs, strict=True):
            if log_path.exists():
                for line in summarize_log(log_path):
                    label = kind if len(plans) == 1 else name
                    print(f"  {label} log: {line}", flush=True)


async def measure_nats(
    server: NatsServer, specs: list[tuple[str, str, list[str]]], symbols: list[str],
    args: argparse.Namespace, probe: Any,
) -> RunResult:  # fmt: skip
    """The NATS peer over one window: its own publisher process, NATS core, nats-py
    subscribers in the client processes. Ingestion and its PublishTicks feed go on
    meanwhile, as in the bare run (pausing them would make Ingestion fail its brokers
    over as stale, and change the next Bridge run)."""
    background = await wait_quiet(args, probe)
    load = competing_load.start(args.competing_load, run_bound_s(args) + 30)
    prefix = f"bench{secrets.token_hex(4)}"  # no other run's subjects on a shared server
    tiers = sorted({s[1] for s in specs}, key=lambda t: [x.value for x in TIERS].index(t))
    publisher = spawn(
        [sys.executable, str(NATS_PEER), "publish", "--url", server.url, "--prefix", prefix,
         "--symbols", ",".join(symbols), "--rate", str(args.rate),
         "--step-ms", str(args.publish_ms), "--tiers", ",".join(tiers),
         "--deadline-s", str(run_bound_s(args) + 30)],
        dict(os.environ), stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        # Its RSS "before subscribing" once it is connected and publishing.
        assert publisher.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(publisher.stdout.readline), 30)
        if not line.startswith(b"publishing"):
            raise RuntimeError("the NATS publisher did not start")
        sprocs = [psutil.Process(publisher.pid)]
        labels = ["publisher"]
        if server.pid is not None:
            sprocs.insert(0, psutil.Process(server.pid))
            labels.insert(0, "nats-server" + (" (shared)" if server.shared else ""))
        rss_before = sum(map(rss_mb, sprocs))
        shares = client_shares(specs, args.client_procs, args.clients_by_tier)

        def start_client(ctx: Any, share: Any, queue: Any, results: Any) -> Any:
            return ctx.Process(target=nats_peer.client_process, daemon=True,
                               args=(server.url, prefix, share, args.streams_per_channel,
                                     queue, results))  # fmt: skip

        rss: dict[str, float] = {}
        seen = await drive("nats", start_client, shares, sprocs, args, probe, load,
                           on_end=lambda: rss.update(after=sum(map(rss_mb, sprocs))))  # fmt: skip
        parts = [ServerShare(label, 0, c) for label, c in zip(labels, seen.cpu, strict=True)]
        return RunResult(
            "nats", len(specs), seen.opened, seen.errors, args.window, sum(seen.cpu),
            seen.client_cpu_s, seen.busy, rss_before, rss["after"], seen.tiers,
            feed=seen.feed, others=seen.others, background=background, steal=seen.steal,
            servers=parts, load_cpu_s=seen.load_cpu_s,
        )  # fmt: skip
    finally:
        competing_load.stop(load)
        await asyncio.to_thread(stop_process, publisher)


@dataclass
class ProbeReading:
    """What the servers' probes (fanout_servers.Probe) had counted at one moment."""

    gc: list[float]  # the measured server's GC seconds per generation, then counts
    hist: dict[str, collections.Counter[int]]  # "ingestion " prefixes Ingestion's own

    def gc_minus(self, before: ProbeReading) -> list[float]:
        return [b - a for a, b in zip(before.gc, self.gc, strict=True)]

    def hist_minus(self, before: ProbeReading) -> dict[str, collections.Counter[int]]:
        return {
            name: hist - before.hist.get(name, collections.Counter())
            for name, hist in self.hist.items()
        }


def read_probe(path: Path) -> tuple[list[float], dict[str, collections.Counter[int]]]:
    try:
        data = json.loads(path.read_text())
        gc = [*data["seconds"], *data["counts"]]
        hist = {
            name: collections.Counter({int(b): n for b, n in bins.items()})
            for name, bins in data["hist"].items()
        }
        return gc, hist
    except (OSError, ValueError, KeyError):
        return [0.0] * 6, {}


def read_probes(server: Path, ingestion: Path) -> ProbeReading:
    """The measured server's probe, and Ingestion's histograms under "ingestion <name>"."""
    gc, hist = read_probe(server)
    _, upstream = read_probe(ingestion)
    hist.update({f"ingestion {name}": h for name, h in upstream.items()})
    return ProbeReading(gc, hist)


def read_written(path: Path) -> int:
    """Messages the baseline server has written so far (it keeps the file current)."""
    try:
        return int(json.loads(path.read_text())["written"])
    except (OSError, ValueError, KeyError):
        return 0


def summarize_log(path: Path) -> list[str]:
    """Server log lines counted by level and message (ids and numbers masked)."""
    seen: collections.Counter[str] = collections.Counter()
    for raw in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(raw)
            text = f"{record.get('level')} {record.get('logger')}: {record.get('msg')}"
            exc = str(record.get("exc") or "").strip().splitlines()
            if exc:
                text += f" [{exc[-1][:80]}]"
        except ValueError:
            text = raw
        seen[re.sub(r"[0-9a-f]{8,}|\d+", "#", text)[:200]] += 1
    return [f"{n} x {text}" for text, n in seen.most_common(6)]


async def wait_quiet(args: argparse.Namespace, probe: Any) -> float:
    """Wait (at most --quiet-wait s) until processes foreign to this benchmark use less
    than --quiet-load cores for 3 s in a row; return the last such load."""
    deadline = time.monotonic() + args.quiet_wait
    calm = 0
    while True:
        p0, s0 = probe(), psutil.cpu_times()
        await asyncio.sleep(1.0)
        p1, s1 = probe(), psutil.cpu_times()
        load = _busy(s0, s1) * CORES - (p1[1] - p0[1]) - (p1[2] - p0[2])
        calm = calm + 1 if load < args.quiet_load else 0
        if calm >= 3:
            return load
        if time.monotonic() > deadline:
            print(f"  the machine is not quiet: {load:.2f} cores busy with other processes; "
                  "measuring anyway", flush=True)  # fmt: skip
            return load


def _busy(a: Any, b: Any) -> float:
    idle = (b.idle + getattr(b, "iowait", 0)) - (a.idle + getattr(a, "iowait", 0))
    total = sum(b) - sum(a)
    return 1 - idle / total if total else math.nan


# -- profiling (py-spy, optional) -----------------------------------------------------


def start_profiler(pid: int, args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], Path]:
    out = Path(args.profile) / f"bridge-{args._n}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [args.py_spy, "record", "--pid", str(pid), "--duration", str(int(args.window)),
           "--rate", "100" if args.native else "200",
           "--native" if args.native else "--nonblocking",
           "--format", "raw", "--output", str(out)]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out


def finish_profiler(profiler: tuple[subprocess.Popen[bytes], Path]) -> str:
    proc, out = profiler
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
    if not out.exists():
        return "  (py-spy wrote no profile)"
    return summarize_profile(out)


PROFILE_BUCKETS = (
    # (label, a frame the stack must contain), first match wins
    ("upstream batch -> tier feeds -> sessions (Fanout.on_batch)", "Fanout.on_batch"),
    ("throttle timers firing (TierFeed.flush_due)", "TierFeed.flush_due"),
    ("building messages (Session.take_message)", "Session.take_message"),
    ("writing messages (service._write_all: context.write)", "_write_all (servers/bridge"),
    ("quota / stream leases (QuotaStore)", "quota.py"),
    ("quota / stream leases (QuotaStore)", "fakeredis"),
    ("quota / stream leases (QuotaStore)", "redis/"),
    ("usage metering", "metering"),
    ("upstream read + parse (Upstream._stream)", "Upstream._stream"),
    ("heartbeat sweep (Fanout.sweep_idle)", "Fanout.sweep_idle"),
    ("other Subscribe handler work", "BridgeServicer"),
    ("grpc poller thread (native)", "Thread.run (threading.py"),
)
CYTHON_TASKS = "grpc Cython run by the loop (write completions, callbacks)"
ON_BATCH_PARTS = (
    ("arming the tier timers (TierFeed._arm -> call_later)", "TierFeed._arm"),
    ("Throttle.offer", "Throttle.offer"),
    ("projection (ProjectedBatch.entry)", "ProjectedBatch.entry"),
    ("queueing and waking writers (Session.push -> Event.set)", "Session.push"),
    ("sharing out per group (TierFeed._emit)", "TierFeed._emit"),
    ("TierFeed.on_batch itself (symbol filter)", "TierFeed.on_batch"),
    ("Fanout.on_batch itself (BatchView, latest table)", "Fanout.on_batch"),
)


def _idle(leaf: str) -> bool:
    words = ("select (", "epoll_wait", "EpollSelector", "poll (", "wait (threading")
    return any(word in leaf for word in words)


def summarize_profile(path: Path, top: int = 8) -> str:
    """Where the Bridge's busy samples go: by activity, and the hottest leaf frames."""
    buckets: collections.Counter[str] = collections.Counter()
    parts: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if _idle(frames[-1]):
            continue
        n = int(count)
        total += n
        leaves[frames[-1].replace(str(REPO) + "/", "")] += n
        if frames[-1].startswith("Handle._run"):
            label = CYTHON_TASKS  # a Cython coroutine or callback: invisible without --native
        elif "gc_collect" in frames[-1]:
            label = "garbage collector (--native only)"
        else:
            label = next((lb for lb, f in PROFILE_BUCKETS if f in stack), "event loop and other")
        buckets[label] += n
        if label.startswith("upstream batch"):
            parts[next(lb for lb, f in ON_BATCH_PARTS if f in stack)] += n
    if not total:
        return "  (no busy samples)"
    out = [f"  py-spy, {total} busy samples of the Bridge over the window:"]
    out += [f"  {n / total:6.1%}  {label}" for label, n in buckets.most_common()]
    if parts:
        out.append("  of which, inside Fanout.on_batch:")
        out += [f"  {n / total:12.1%}  {label}" for label, n in parts.most_common()]
    out.append("  hottest leaf frames:")
    out += [f"  {n / total:6.1%}  {leaf}" for leaf, n in leaves.most_common(top)]
    return "\n".join(out)


# -- reporting ------------------------------------------------------------------------


def schedule_from(run: RunResult, counts: dict[Tier, int]) -> dict[str, dict[str, float]]:
    """Per tier: messages per second per stream and ticks per message the Bridge delivered."""
    out = {}
    for tier in TIERS:
        st = run.tiers[tier.value]
        n = st.streams
        if n and st.data_messages:
            out[tier.value] = {
                "rate": st.data_messages / n / run.window,
                "ticks": st.ticks / st.data_messages,
            }
    return out


def report(runs: list[RunResult], asked_load: float = 0.0) -> list[str]:
    """The rows of HEADER, one per variant, then each variant's details."""
    rows = []
    bridge = next((run for run in runs if run.kind == "bridge"), None)
    bare = next((run for run in runs if run.kind == "bare"), None)
    for run in runs:
        w = run.window
        rows.append(
            f"{run.n:>6} {run.kind:<6} {run.opened:>6} {run.ticks / w:>10,.0f} "
            f"{run.messages / w:>9,.0f} {run.cpu_s / w:>6.0%} {run.us_per_message():>8.1f} "
            f"{run.us_per_tick():>8.1f} "
            f"{(run.rss_after - run.rss_before) * 1024 / max(run.opened, 1):>8.1f} "
            f"{run.client_cpu_s / w:>6.0%} {run.machine_busy:>5.0%} {run.others:>5.2f}"
        )
    ratio = ""
    if bridge is not None and bare is not None and bare.messages:
        r = bridge.us_per_message() / bare.us_per_message()
        rt = bridge.us_per_tick() / bare.us_per_tick()
        ratio = (f"  Bridge / bare CPU per message: {r:.2f}x (target <= 1.3x); "
                 f"per tick: {rt:.2f}x")  # fmt: skip
        if len(bridge.servers) > 1:  # each Bridge reads and sorts the whole upstream
            ratio += f" ({len(bridge.servers)} Bridge processes against one bare)"
    lines = [*rows, ratio] if ratio else rows
    for run in runs:
        parts = []
        for tier in TIERS:
            st = run.tiers[tier.value]
            n = st.streams
            if not n:
                continue
            p50, p99 = percentile(st.latency, 0.50), percentile(st.latency, 0.99)
            ok = "ok" if p99 <= TARGET_P99_MS[tier] else "MISS"
            per = st.data_messages / n / run.window
            tpm = st.ticks / max(st.data_messages, 1)
            size = st.bytes / max(st.messages, 1)
            line = (
                f"    {run.kind:<6} {tier.value:<10} n={n:<5} {per:7.1f} msg/s/stream "
                f"{tpm:5.2f} ticks/msg {size:6.0f} B/msg  p50 {p50:8.2f} ms  p99 {p99:8.2f} ms "
                f"[{ok} <= {TARGET_P99_MS[tier]:g}]"
            )
            if run.kind != "nats":  # NATS messages carry no send stamp and never skip
                line += (
                    f"  to send p50/p99 "
                    f"{percentile(st.to_send, 0.5):.2f}/{percentile(st.to_send, 0.99):.2f} ms"
                    f"  skipped {st.skipped}"
                    + (
                        f"  held {st.held / max(st.ticks, 1):.0%}, release -> client p50/p99 "
                        f"{percentile(st.released, 0.5):.2f}/{percentile(st.released, 0.99):.2f}"
                        f" ms"
                        if st.held
                        else ""
                    )
                    + (f" gaps {st.gaps}" if st.gaps else "")
                    + (f" heartbeats {st.heartbeats}" if st.heartbeats else "")
                )
            parts.append(line)
        lines += parts
        if run.errors:
            lines.append(f"    {run.kind} stream errors: {run.errors}")
        if run.written:
            lines.append(
                f"    {run.kind} server wrote {run.written / run.window:,.0f} msgs/s in the window "
                f"(the clients counted {run.messages / run.window:,.0f})"
            )
        if run.hist:
            lines.append(hop_split(run))
        if run.kind == "bridge" and run.gc and run.cpu_s:
            g = run.gc
            lines.append(
                f"    bridge garbage collector: {sum(g[:3]) / run.window:.0%} of a core = "
                f"{sum(g[:3]) / run.cpu_s:.0%} of the Bridge's CPU; in {run.window:g} s: "
                + ", ".join(f"gen{i} {g[i]:.2f} s in {g[i + 3]:.0f} runs" for i in range(3))
            )
        lines += server_parts(run)
        if asked_load:
            lines.append(
                f"    {run.kind} competing load: {run.load_cpu_s / run.window:.2f} cores measured "
                f"(asked {asked_load:g}); other load {run.others:.2f} cores"
            )
    return lines


def server_parts(run: RunResult) -> list[str]:
    """Per server process, when a variant has several (Bridges, or NATS's parts)."""
    w = run.window
    if run.kind == "nats":
        parts = " + ".join(f"{p.label} {p.cpu_s / w:.2f}" for p in run.servers)
        return [f"    nats server CPU (cores): {parts} = {run.cpu_s / w:.2f}"]
    if len(run.servers) < 2:
        return []
    lines = []
    for p in run.servers:
        lines.append(
            f"    {p.label:<26} {p.subscribers:>6} subscribers  CPU {p.cpu_s / w:5.2f} cores  "
            f"{p.messages / w:>9,.0f} msgs/s  {p.cpu_s * 1e6 / max(p.messages, 1):7.1f} us/msg"
            + (f"  {p.split}" if p.split else "")
        )
    cores = run.cpu_s / w
    lines.append(
        f"    {run.kind} x{len(run.servers)}: {run.opened} subscribers on {cores:.2f} cores of "
        f"{run.kind} CPU = {run.opened / max(cores, 1e-9):,.0f} subscribers per core"
    )
    return lines


def variant(run: RunResult) -> str:
    if run.kind == "bridge" and len(run.servers) > 1:
        return f"bridge x{len(run.servers)}"
    return run.kind


def summary(runs: list[RunResult]) -> list[str]:
    """One row per variant: what to compare at a glance."""
    head = (
        f"  {'variant':<10} {'subs':>6}"
        + "".join(f" {t.value + ' p50/p99 ms':>22}" for t in TIERS)
        + f" {'ticks/s':>9} {'msgs/s':>9} {'CPU cores':>9} {'us/msg':>7} {'other load':>11}"
    )
    lines = ["  summary:", head]
    for run in runs:
        w = run.window
        cells = []
        for tier in TIERS:
            st = run.tiers[tier.value]
            if not st.streams:
                cells.append(f" {'-':>22}")
                continue
            p50, p99 = percentile(st.latency, 0.5), percentile(st.latency, 0.99)
            cells.append(f" {f'{p50:.1f} / {p99:.1f}':>22}")
        load = run.load_cpu_s / w
        other = f"{run.others:.2f}" + (f"+{load:.2f}" if load else "")
        lines.append(
            f"  {variant(run):<10} {run.opened:>6}" + "".join(cells)
            + f" {run.ticks / w:>9,.0f} {run.messages / w:>9,.0f} {run.cpu_s / w:>9.2f}"
            f" {run.us_per_message():>7.1f} {other:>11}"
        )  # fmt: skip
    return lines


HEADER = (
    f"{'subs':>6} {'server':<6} {'open':>6} {'ticks/s':>10} {'msgs/s':>9} {'CPU':>6} "
    f"{'us/msg':>8} {'us/tick':>8} {'KiB/sub':>8} {'cliCPU':>6} {'busy':>5} {'other':>5}"
)


# -- main -----------------------------------------------------------------------------


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--window", type=float, default=20.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds after all acks")
    parser.add_argument("--rate", type=float, default=20.0, help="updates/s per symbol")
    parser.add_argument("--symbols", type=int, default=40, help="published symbols (>= 28)")
    parser.add_argument("--publish-ms", type=float, default=5.0, help="PublishTicks cadence")
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument(
        "--clients-by-tier", action="store_true",
        help="enterprise and pro subscribers in client processes of their own (free over "
             "--client-procs); default: every process a mix of tiers",
    )  # fmt: skip
    parser.add_argument("--streams-per-channel", type=int, default=50)
    parser.add_argument(
        "--quiet-load",
        type=float,
        default=0.25,
        help="cores other processes may use before a run starts",
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=90.0, help="longest wait for the machine to be quiet, s"
    )
    parser.add_argument(
        "--bridge-gc-threshold",
        metavar="G0,G1,G2",
        help="experiment: gc.set_threshold in the Bridge process",
    )
    parser.add_argument(
        "--bridge-switch-interval", type=float, metavar="S",
        help="experiment: sys.setswitchinterval in the Bridge process",
    )  # fmt: skip
    parser.add_argument(
        "--redis", default="redis://127.0.0.1:6379/0",
        help="the Bridge's quota and lease store; 'none': in process (fakeredis)",
    )  # fmt: skip
    parser.add_argument(
        "--pin", action="store_true",
        help="experiment: the measured server alone on the last core, all else on the others",
    )  # fmt: skip
    parser.add_argument(
        "--synthetic-feed", action="store_true",
        help="Ingestion's own synthetic brokers (a continuous feed) instead of PublishTicks",
    )  # fmt: skip
    parser.add_argument("--no-bare", action="store_true", help="skip the baseline")
    parser.add_argument(
        "--bridges", metavar="SPEC", type=parse_bridges,
        help="several Bridge processes: a count (2: each serves every tier, subscribers "
        "round-robin) or tier pools, e.g. enterprise+pro,free*2 (TICKMESH_INSTANCE_POOL)",
    )  # fmt: skip
    parser.add_argument(
        "--bridge-nice", type=int, default=0, metavar="N",
        help="niceness of the Bridge pools that serve free only (a pro pool runs at 0)",
    )  # fmt: skip
    parser.add_argument(
        "--enterprise-nice", type=int, default=0, metavar="N",
        help="niceness of the pools that serve enterprise, and of Ingestion (negative: a "
        "higher priority; needs root or CAP_SYS_NICE)",
    )  # fmt: skip
    parser.add_argument(
        "--competing-load", type=float, default=0.0, metavar="CORES",
        help="a process of this benchmark busy this share of a core (a duty cycle) in "
        "every measured run: other work on the machine",
    )  # fmt: skip
    parser.add_argument(
        "--workload", choices=("mix", "enterprise"), default="mix",
        help="mix: 80/18/2 free/pro/enterprise; enterprise: every subscriber enterprise, "
        "all on the same 10 majors",
    )  # fmt: skip
    parser.add_argument(
        "--peer", choices=("nats",),
        help="also the same feed through NATS core to nats-py subscribers",
    )  # fmt: skip
    parser.add_argument(
        "--nats-url", default=nats_peer.DEFAULT_URL,
        help="the NATS server (--peer nats); when it does not answer, one is started",
    )  # fmt: skip
    parser.add_argument(
        "--no-bridge", action="store_true",
        help="skip the Bridge and the baseline (with --peer: the peer alone)",
    )  # fmt: skip
    parser.add_argument(
        "--tls", action="store_true",
        help="Ingestion and the Bridge on TLS (the mesh's default) instead of plaintext; "
        "implies --no-bare (the bare baseline is plaintext)",
    )  # fmt: skip
    parser.add_argument("--profile", metavar="DIR", help="py-spy the Bridge over each window")
    parser.add_argument("--native", action="store_true", help="py-spy --native (pauses)")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    args = parser.parse_args()
    if args.no_bridge and not args.peer:
        parser.error("--no-bridge needs --peer")
    if args.no_bridge:
        args.no_bare = True  # the baseline follows the Bridge's schedule
    if args.peer and args.synthetic_feed:
        parser.error("--peer publishes the PublishTicks feed (--rate, --symbols) itself")

    symbols = published_symbols(args.symbols)
    if args.pin:
        # This script, then Ingestion and the client processes (which inherit it).
        pin_all_threads(os.getpid(), list(range(CORES - 1)))
    workdir = Path(tempfile.mkdtemp(prefix="tickmesh-bench-fanout-"))
    admin_key, secret = secrets.token_urlsafe(24), secrets.token_urlsafe(32)
    ingestion_port = free_port()
    base_env = {
        **os.environ,
        "TICKMESH_DATA_DIR": str(workdir),
        "TICKMESH_MESH_SECRET": secret,
        "TICKMESH_ADMIN_KEY": admin_key,
        "TICKMESH_LOG_LEVEL": "WARNING",
        "TICKMESH_HOST": "127.0.0.1",
        "TICKMESH_INGESTION_PORT": str(ingestion_port),
        "TICKMESH_INGESTION_ADDRESS": f"127.0.0.1:{ingestion_port}",
        "TICKMESH_INGESTION_SYNTHETIC": "false",
    }
    base_env.pop("TICKMESH_HUB_ADDRESS", None)
    base_env["TICKMESH_TLS_INSECURE"] = "false" if args.tls else "true"
    if args.tls:
        args.no_bare = True
        CertsDir(workdir / "certs").ensure()
        os.environ["BENCH_CA"] = str(workdir / "certs" / "ca.pem")
    if args.redis == "none":
        base_env.pop("TICKMESH_REDIS_URL", None)  # the Bridge's quota store: in process
    else:
        # As deployed (compose, Kubernetes): leases and quotas on a shared Redis; a
        # fresh key prefix per run, so runs never see each other's leases.
        base_env["TICKMESH_REDIS_URL"] = args.redis
        base_env["TICKMESH_REDIS_PREFIX"] = f"bench-fanout-{secrets.token_hex(4)}:"
    print(f"machine: {platform.node()} {os.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}, "
          f"grpcio {grpc.__version__}")  # fmt: skip
    print(f"code: {revision()}")
    store = "in process (fakeredis)" if args.redis == "none" else args.redis
    print(f"quota and lease store: {store}")
    print(f"transport: {'TLS (mesh CA, TLSv1.3)' if args.tls else 'plaintext'}")
    if args.synthetic_feed:
        base_env["TICKMESH_INGESTION_SYNTHETIC"] = "true"
        print(f"feed: Ingestion's synthetic brokers, "
              f"{os.environ.get('TICKMESH_INGESTION_QUOTES_PER_SECOND', '3000')} quotes/s, "
              f"continuous; window {args.window:g} s after {args.warmup:g} s warm-up")  # fmt: skip
    else:
        print(f"feed: {len(symbols)} symbols x {args.rate:g} updates/s = "
              f"{len(symbols) * args.rate:,.0f} ticks/s via PublishTicks every "
              f"{args.publish_ms:g} ms; window {args.window:g} s after {args.warmup:g} s "
              f"warm-up")  # fmt: skip
    print(
        f"Ingestion batches: at most one per "
        f"{os.environ.get('TICKMESH_INGESTION_BATCH_MS', 'the default')} ms"
    )

    pools = args.bridges or [Pool(frozenset())]
    if args.bridges:
        print("bridges: " + ", ".join(
            f"{p.processes} x {p.name} (nice "
            f"{p.niceness(args.bridge_nice, args.enterprise_nice)})"
            for p in pools))  # fmt: skip
    if args.workload != "mix":
        print("workload: every subscriber enterprise, all on the same 10 majors")
    if args.competing_load:
        print(f"competing load: {args.competing_load:g} of a core, started by this benchmark in "
              "every measured run (a busy loop on a 10 ms duty cycle)")  # fmt: skip
    nats_server = None
    if args.peer == "nats":
        nats_server = NatsServer.ensure(args.nats_url)
        print(f"peer: NATS core at {nats_server.url} ("
              + ("the machine's, shared: its CPU includes any other traffic" if nats_server.shared
                 else "started by this benchmark") + "), nats-py subscribers")  # fmt: skip

    # The real Ingestion, as `python -m servers.ingestion`, with the probe of its loop.
    args.ingestion_probe = workdir / "ingestion.probe.json"
    ingestion = None
    if not args.no_bridge:
        ingestion = spawn(
            [sys.executable, str(HELPER), "ingestion", "--port", str(ingestion_port)],
            {**base_env, "BENCH_PROBE_FILE": str(args.ingestion_probe),
             # On the enterprise path: at the enterprise pool's priority, as `up` runs it.
             **({"BENCH_NICE": str(args.enterprise_nice)} if args.enterprise_nice else {})},
        )  # fmt: skip
    stop = asyncio.Event()
    counts = collections.Counter[str]()
    publisher: asyncio.Task[None] | None = None
    lines: list[str] = []
    try:
        if ingestion is not None:
            await wait_serving(f"127.0.0.1:{ingestion_port}")
            if not args.synthetic_feed:
                publisher = asyncio.create_task(
                    publish(f"127.0.0.1:{ingestion_port}", admin_key, symbols, args.rate,
                            args.publish_ms / 1000, stop, counts)
                )  # fmt: skip
        iproc = psutil.Process(ingestion.pid) if ingestion is not None else None
        me = psutil.Process()
        for n in args.subscribers:
            args._n = n
            specs = subscriber_specs(n, symbols, run=f"b{n}x", workload=args.workload)
            tiers = tier_counts(n, args.workload)
            print(f"{n} subscribers ({', '.join(f'{v} {k.value}' for k, v in tiers.items())})",
                  flush=True)  # fmt: skip

            def probe() -> tuple[float, float, float]:
                return counts["quotes"], cpu_s(iproc) if iproc else 0.0, cpu_s(me)

            runs: list[RunResult] = []
            bridge = None
            if not args.no_bridge:
                plans = bridge_plans(pools, args.bridge_nice, args.enterprise_nice)
                bridge = await measure("bridge", plans, base_env, specs, args, probe)
                runs.append(bridge)
            if bridge is not None and not args.no_bare:
                schedule = schedule_from(bridge, tiers)
                port = free_port()
                plan = ServerPlan(
                    "bare",
                    [sys.executable, str(HELPER), "bare", "--port", str(port),
                     "--schedule", json.dumps(schedule)],
                    port, frozenset(TIERS),
                )  # fmt: skip
                runs.append(await measure("bare", [plan], base_env, specs, args, probe))
            if nats_server is not None:
                runs.append(await measure_nats(nats_server, specs, symbols, args, probe))
            block = [HEADER, *report(runs, args.competing_load)]
            if bridge is not None:
                feed, ing, _ = bridge.feed
                fed = "synthetic" if args.synthetic_feed else f"{feed:,.0f} quotes/s"
                block.append(f"    feed {fed}; Ingestion CPU {ing:.0%} over the "
                             f"Bridge window")  # fmt: skip
                if bridge.profile:
                    block.append(bridge.profile)
            if nats_server is not None:
                block.append(
                    f"    nats feed: {args.rate * len(symbols):,.0f} quotes/s from its publisher"
                    + (" (Ingestion and its feed go on, as for the bare)" if ingestion else "")
                )
            block += summary(runs)
            print("\n".join(block), flush=True)
            lines += block
    finally:
        stop.set()
        if publisher is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(publisher, 10)
        if ingestion is not None:
            stop_process(ingestion)
        if nats_server is not None:
            nats_server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    if counts["rejected"]:
        print(f"publisher: {counts['rejected']} quotes rejected by Ingestion")
    print()
    print("CPU = server process user+sys over the window, as a share of one core; us/msg and")
    print("us/tick divide it by what the clients received; KiB/sub = server RSS growth from")
    print("before subscribing to the end of the window, per subscriber; cliCPU = all client")
    print("processes; busy = whole machine; other = cores used by processes foreign to this")
    print("benchmark. All processes share the machine's cores. Summary: CPU cores = the")
    print("variant's server processes (every Bridge; nats-server + its publisher); other load =")
    print("foreign processes + the competing load this benchmark started (--competing-load).")


if __name__ == "__main__":
    asyncio.run(main())
