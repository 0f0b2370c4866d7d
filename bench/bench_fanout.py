"""Benchmark: Bridge fan-out to 100 / 1,000 / 5,000 subscribers against a bare grpc.aio fan-out.

Usage: .venv/bin/python bench/bench_fanout.py [--subscribers 100 1000 5000] [--window 20]
           [--warmup 5] [--rate 20] [--symbols 40] [--client-procs 2] [--profile DIR]

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

import grpc
import psutil
from fanout_servers import BINS_PER_E  # the script's own directory (bench/) is on sys.path
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tickmesh.bridge.v1 import bridge_pb2
from tickmesh.common.v1 import market_pb2
from tickmesh.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc

from mesh.certs import CertsDir
from mesh.tiers import FREE_SYMBOLS, MAJOR_PAIRS, Tier
from servers.ingestion.symbols import BROKERS, UNIVERSE

REPO = Path(__file__).resolve().parent.parent
HELPER = Path(__file__).resolve().parent / "fanout_servers.py"
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


def tier_counts(n: int) -> dict[Tier, int]:
    enterprise = round(n * 0.02)
    pro = round(n * 0.18)
    return {Tier.FREE: n - pro - enterprise, Tier.PRO: pro, Tier.ENTERPRISE: enterprise}


def subscriber_specs(n: int, symbols: list[str], run: str) -> list[tuple[str, str, list[str]]]:
    """(company, tier, symbols) per subscriber; pro and enterprise sets rotate."""
    majors = [s for s in symbols if s in MAJOR_PAIRS]
    others = [s for s in symbols if s not in MAJOR_PAIRS]
    specs = []
    index = 0
    for tier, count in tier_counts(n).items():
        for k in range(count):
            if tier is Tier.FREE:
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


# -- the publisher (PublishTicks into Ingestion) --------------------------------------


async def publish(
    address: str, admin_key: str, symbols: list[str], rate: float, step_s: float,
    stop: asyncio.Event, counts: dict[str, int],
) -> None:  # fmt: skip
    """Feed Ingestion at `rate` updates per symbol per second until `stop`."""
    rng = random.Random(1)
    mids = {s: UNIVERSE[s].mid for s in symbols}
    period = 1.0 / rate
    loop = asyncio.get_running_loop()

    def quote(symbol: str, index: int) -> market_pb2.Quote:
        spec = UNIVERSE[symbol]
        point = 10.0**-spec.digits
        spread = max(spec.typical_spread, 2 * point)
        move = max(point, rng.uniform(0.2, 0.6) * spread)
        mids[symbol] += move if rng.random() < 0.5 else -move
        bid = round(mids[symbol] - spread / 2, spec.digits)
        ask = round(max(mids[symbol] + spread / 2, bid + point), spec.digits)
        return market_pb2.Quote(
            symbol=symbol, bid=bid, ask=ask, broker=BROKERS[index % len(BROKERS)],
            broker_time_us=time.time_ns() // 1000, bid_size=1e6, ask_size=1e6,
        )  # fmt: skip

    async def requests() -> Any:
        start = loop.time()
        due = {s: start + i * period / len(symbols) for i, s in enumerate(symbols)}
        tick_at = start
        while not stop.is_set():
            now = loop.time()
            quotes = []
            for i, s in enumerate(symbols):
                if due[s] <= now:
                    due[s] = max(due[s] + period, now)  # never a burst after a stall
                    quotes.append(quote(s, i))
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

    def merge(self, other: TierStats) -> None:
        for name in ("messages", "data_messages", "ticks", "bytes", "skipped", "heartbeats",
                     "gaps", "streams"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.latency.update(other.latency)
        self.to_send.update(other.to_send)


def client_process(
    target: str, specs: list[tuple[str, str, list[str]]], per_channel: int,
    commands: Any, results: Any,
) -> None:  # fmt: skip
    """Runs in its own process: one Subscribe stream per spec, reporting to `results`."""
    asyncio.run(_clients(target, specs, per_channel, commands, results))


async def _clients(
    target: str, specs: list[tuple[str, str, list[str]]], per_channel: int,
    commands: Any, results: Any,
) -> None:  # fmt: skip
    n_channels = max(1, math.ceil(len(specs) / per_channel))
    options = [("grpc.use_local_subchannel_pool", 1)]  # a connection per channel
    channels = [mesh_channel(target, options) for _ in range(n_channels)]
    methods = [
        ch.unary_stream(SUBSCRIBE_PATH, bridge_pb2.SubscribeRequest.SerializeToString, None)
        for ch in channels
    ]
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
        for attempt in range(RETRIES + 1):
            call = methods[i % n_channels](request, metadata=metadata)
            calls.append(call)
            code = await stream(call, stats[tier])
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

    async def stream(call: Any, st: TierStats) -> str | None:
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
                st.messages += 1
                st.bytes += len(raw)
                st.skipped += message.skipped
                kind = message.WhichOneof("payload")
                if kind == "batch":
                    st.data_messages += 1
                    ticks = message.batch.ticks
                    st.ticks += len(ticks)
                    latency, to_send = st.latency, st.to_send
                    sent = message.batch.send_time_us
                    for tick in ticks:
                        latency[int(log(max(now - tick.ingest_time_us, 1)) * BINS_PER_E)] += 1
                        to_send[int(log(max(sent - tick.ingest_time_us, 1)) * BINS_PER_E)] += 1
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
    for i, (company, tier, symbols) in enumerate(specs):
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
    results.put(("done", os.getpid(), {k: vars(v) for k, v in stats.items()}, report()))


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


def spawn(cmd: list[str], env: dict[str, str], stderr: Any = None) -> subprocess.Popen[bytes]:
    """A server process (started at once; the caller waits for it to serve)."""
    return subprocess.Popen(cmd, env=env, cwd=REPO, stderr=stderr)


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


async def measure(
    kind: str, server_cmd: list[str], env: dict[str, str], port: int,
    specs: list[tuple[str, str, list[str]]], args: argparse.Namespace,
    probe: Any,
) -> RunResult:  # fmt: skip
    address = f"127.0.0.1:{port}"
    background = await wait_quiet(args, probe)
    log_path = Path(env["TICKMESH_DATA_DIR"]) / f"{kind}-{len(specs)}.log"
    probe_path = Path(env["TICKMESH_DATA_DIR"]) / f"{kind}-{len(specs)}.probe.json"
    count_path = Path(env["TICKMESH_DATA_DIR"]) / f"{kind}-{len(specs)}.count.json"
    env = {**env, "BENCH_PROBE_FILE": str(probe_path), "BENCH_COUNT_FILE": str(count_path)}
    if args.bridge_gc_threshold:
        env["BENCH_GC_THRESHOLD"] = args.bridge_gc_threshold
    if args.bridge_switch_interval:
        env["BENCH_SWITCH_INTERVAL"] = str(args.bridge_switch_interval)
    with log_path.open("wb") as log_file:
        server = spawn(server_cmd, env, stderr=log_file)
    ctx = mp.get_context("spawn")
    clients: list[Any] = []
    try:
        if kind == "bridge":
            await wait_serving(address)
        else:
            await wait_port(port)
        sproc = psutil.Process(server.pid)
        if args.pin:
            pin_all_threads(server.pid, [CORES - 1])
        await asyncio.sleep(1.0)  # the upstream flows; the baseline is idle
        rss_before = rss_mb(sproc)
        results = ctx.Queue()
        shares = [specs[i :: args.client_procs] for i in range(args.client_procs)]
        commands = [ctx.Queue() for _ in shares]
        for share, queue in zip(shares, commands, strict=True):
            p = ctx.Process(
                target=client_process,
                args=(address, share, args.streams_per_channel, queue, results),
                daemon=True,
            )
            p.start()
            clients.append(p)
        opened, errors = 0, collections.Counter[str]()
        t_ramp = time.monotonic()
        for _ in clients:
            _, _, acked, errs = await asyncio.to_thread(results.get, True, 240)
            opened += acked
            errors.update(errs)
        ramp = time.monotonic() - t_ramp
        print(f"  {kind}: {opened}/{len(specs)} streams open after {ramp:.1f} s"
              + (f", errors {dict(errors)}" if errors else ""), flush=True)  # fmt: skip
        await asyncio.sleep(args.warmup)
        cprocs = [psutil.Process(p.pid) for p in clients]
        start = time.time() + 0.5
        end = start + args.window
        for queue in commands:
            queue.put((int(start * 1e6), int(end * 1e6)))
        await asyncio.sleep(start - time.time())
        probe0, written0 = read_probes(probe_path, args.ingestion_probe), read_written(count_path)
        cpu0, ccpu0, sys0, feed0 = (
            cpu_s(sproc), sum(map(cpu_s, cprocs)), psutil.cpu_times(), probe()
        )  # fmt: skip
        profiler = None
        if args.profile and kind == "bridge":
            profiler = start_profiler(server.pid, args)
        await asyncio.sleep(end - time.time())
        cpu1, ccpu1, sys1, feed1 = (
            cpu_s(sproc), sum(map(cpu_s, cprocs)), psutil.cpu_times(), probe()
        )  # fmt: skip
        rss_after = rss_mb(sproc)
        await asyncio.sleep(0.6)  # the next probe files
        probe1, written1 = read_probes(probe_path, args.ingestion_probe), read_written(count_path)
        busy = _busy(sys0, sys1)
        feed = [(b - a) / args.window for a, b in zip(feed0, feed1, strict=True)]
        mine = (cpu1 - cpu0 + ccpu1 - ccpu0) / args.window + feed[1] + feed[2]
        others = busy * CORES - mine
        tiers = {tier.value: TierStats() for tier in TIERS}
        errors = collections.Counter[str]()  # the clients report them cumulatively
        for _ in clients:
            _, _, stats, errs = await asyncio.to_thread(results.get, True, 120)
            for name, st in stats.items():
                tiers[name].merge(TierStats(**st))
            errors.update(errs)
        profile = finish_profiler(profiler) if profiler else ""
        return RunResult(
            kind, len(specs), opened, dict(errors), args.window, cpu1 - cpu0, ccpu1 - ccpu0,
            busy, rss_before, rss_after, tiers, profile,
            feed=feed, others=others, background=background,
            gc=probe1.gc_minus(probe0),
            hist=probe1.hist_minus(probe0),
            steal=(sys1.steal - sys0.steal) / args.window if hasattr(sys1, "steal") else 0.0,
            written=written1 - written0,
        )  # fmt: skip
    finally:
        for p in clients:
            await asyncio.to_thread(p.join, 10)
            if p.is_alive():
                p.kill()
        await asyncio.to_thread(stop_process, server)  # the publisher keeps its pace
        for line in summarize_log(log_path):
            print(f"  {kind} log: {line}", flush=True)


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


def report(bridge: RunResult, bare: RunResult | None, counts: dict[Tier, int]) -> list[str]:
    rows = []
    for run in (bridge, bare):
        if run is None:
            continue
        w = run.window
        rows.append(
            f"{run.n:>6} {run.kind:<6} {run.opened:>6} {run.ticks / w:>10,.0f} "
            f"{run.messages / w:>9,.0f} {run.cpu_s / w:>6.0%} {run.us_per_message():>8.1f} "
            f"{run.us_per_tick():>8.1f} "
            f"{(run.rss_after - run.rss_before) * 1024 / max(run.opened, 1):>8.1f} "
            f"{run.client_cpu_s / w:>6.0%} {run.machine_busy:>5.0%} {run.others:>5.2f}"
        )
    ratio = ""
    if bare is not None and bare.messages:
        r = bridge.us_per_message() / bare.us_per_message()
        rt = bridge.us_per_tick() / bare.us_per_tick()
        ratio = (f"  Bridge / bare CPU per message: {r:.2f}x (target <= 1.3x); "
                 f"per tick: {rt:.2f}x")  # fmt: skip
    lines = [*rows, ratio] if ratio else rows
    for run in (bridge, bare):
        if run is None:
            continue
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
            parts.append(
                f"    {run.kind:<6} {tier.value:<10} n={n:<5} {per:7.1f} msg/s/stream "
                f"{tpm:5.2f} ticks/msg {size:6.0f} B/msg  p50 {p50:8.2f} ms  p99 {p99:8.2f} ms "
                f"[{ok} <= {TARGET_P99_MS[tier]:g}]  to send p50/p99 "
                f"{percentile(st.to_send, 0.5):.2f}/{percentile(st.to_send, 0.99):.2f} ms"
                f"  skipped {st.skipped}"
                + (f" gaps {st.gaps}" if st.gaps else "")
                + (f" heartbeats {st.heartbeats}" if st.heartbeats else "")
            )
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
        "--tls", action="store_true",
        help="Ingestion and the Bridge on TLS (the mesh's default) instead of plaintext; "
        "implies --no-bare (the bare baseline is plaintext)",
    )  # fmt: skip
    parser.add_argument("--profile", metavar="DIR", help="py-spy the Bridge over each window")
    parser.add_argument("--native", action="store_true", help="py-spy --native (pauses)")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    args = parser.parse_args()

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

    # The real Ingestion, as `python -m servers.ingestion`, with the probe of its loop.
    args.ingestion_probe = workdir / "ingestion.probe.json"
    ingestion = spawn(
        [sys.executable, str(HELPER), "ingestion", "--port", str(ingestion_port)],
        {**base_env, "BENCH_PROBE_FILE": str(args.ingestion_probe)},
    )
    stop = asyncio.Event()
    counts = collections.Counter[str]()
    publisher: asyncio.Task[None] | None = None
    lines: list[str] = []
    try:
        await wait_serving(f"127.0.0.1:{ingestion_port}")
        if not args.synthetic_feed:
            publisher = asyncio.create_task(
                publish(f"127.0.0.1:{ingestion_port}", admin_key, symbols, args.rate,
                        args.publish_ms / 1000, stop, counts)
            )  # fmt: skip
        iproc, me = psutil.Process(ingestion.pid), psutil.Process()
        for n in args.subscribers:
            args._n = n
            specs = subscriber_specs(n, symbols, run=f"b{n}x")
            tiers = tier_counts(n)
            print(f"{n} subscribers ({', '.join(f'{v} {k.value}' for k, v in tiers.items())})",
                  flush=True)  # fmt: skip
            port = free_port()
            probe = lambda: (counts["quotes"], cpu_s(iproc), cpu_s(me))  # noqa: E731
            bridge = await measure(
                "bridge", [sys.executable, str(HELPER), "bridge", "--port", str(port)],
                base_env, port, specs, args, probe,
            )  # fmt: skip
            feed, ing, _ = bridge.feed
            bare = None
            if not args.no_bare:
                schedule = schedule_from(bridge, tiers)
                port = free_port()
                bare = await measure(
                    "bare",
                    [sys.executable, str(HELPER), "bare", "--port", str(port),
                     "--schedule", json.dumps(schedule)],
                    base_env, port, specs, args, probe,
                )  # fmt: skip
            block = [HEADER, *report(bridge, bare, tiers)]
            fed = "synthetic" if args.synthetic_feed else f"{feed:,.0f} quotes/s"
            block.append(f"    feed {fed}; Ingestion CPU {ing:.0%} over the "
                         f"Bridge window")  # fmt: skip
            if bridge.profile:
                block.append(bridge.profile)
            print("\n".join(block), flush=True)
            lines += block
    finally:
        stop.set()
        if publisher is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(publisher, 10)
        stop_process(ingestion)
        shutil.rmtree(workdir, ignore_errors=True)
    if counts["rejected"]:
        print(f"publisher: {counts['rejected']} quotes rejected by Ingestion")
    print()
    print("CPU = server process user+sys over the window, as a share of one core; us/msg and")
    print("us/tick divide it by what the clients received; KiB/sub = server RSS growth from")
    print("before subscribing to the end of the window, per subscriber; cliCPU = all client")
    print("processes; busy = whole machine; other = cores used by processes foreign to this")
    print("benchmark. All processes share the machine's cores.")


if __name__ == "__main__":
    asyncio.run(main())
