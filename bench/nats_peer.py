"""The NATS peer of bench_fanout.py (--peer nats): the same feed through NATS core.

python bench/nats_peer.py publish --url nats://127.0.0.1:4222 --prefix P --symbols A,B
    --rate 20 --tiers free,pro,enterprise --deadline-s 300

The publisher plays Ingestion and the Bridge's tier throttle in one process: it makes
the benchmark's quotes (fanout_feed: the same random walk, `--rate` updates per symbol
per second), turns each into a Tick stamped with ingest_time_us when the quote is taken
in (as Ingestion stamps it), keeps the latest quote per broker as the tick's
broker_quotes (as the aggregator does), and per tier that has subscribers runs the
Bridge's own conflating Throttle (servers.bridge.throttle) at the tier's update interval
(mesh.tiers.CATALOG), publishing the tier-projected Tick bytes on
`<prefix>.ticks.<tier>.<symbol>`. A held tick goes out at its slot boundary with its
original ingest stamp, so the throttle's wait counts in the latency as in the Bridge.

The subscribers (`client_process`, run in the benchmark's client processes): one nats-py
connection per `per_conn` subscribers (the gRPC harness puts that many streams on one
channel), each subscriber one subscription per symbol of its set on its tier's subjects.
NATS delivers a copy per subscription, so messages per subscriber match the Bridge's
per-symbol updates (one tick per message: NATS does not batch symbols).

The NATS server: the one at 127.0.0.1:4222 when it answers (its CPU is found by process
name, and includes any other traffic it serves), else a `nats-server` started here on a
free port (`NatsServer.ensure`).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import math
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import nats
import psutil
from fanout_feed import Pacer, QuoteMaker
from fanout_servers import BINS_PER_E
from tickmesh.common.v1 import market_pb2

from mesh.tiers import CATALOG, Tier
from servers.bridge.projection import tier_fields
from servers.bridge.throttle import Throttle
from servers.ingestion.symbols import UNIVERSE

DEFAULT_URL = "nats://127.0.0.1:4222"


def subject(prefix: str, tier: str, symbol: str) -> str:
    return f"{prefix}.ticks.{tier}.{symbol}"


# -- the server -----------------------------------------------------------------------


@dataclass
class NatsServer:
    url: str
    pid: int | None  # for its CPU; None when no process of that name could be seen
    proc: subprocess.Popen[bytes] | None = None  # set when started here

    @classmethod
    def ensure(cls, url: str = DEFAULT_URL) -> NatsServer:
        """The server at `url` when it answers, else one of our own on a free port."""
        host, port = url.rsplit("/", 1)[-1].rsplit(":", 1)
        if _answers(host, int(port)):
            return cls(url, _find_pid(int(port)))
        binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            own = int(s.getsockname()[1])
        proc = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", str(own)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 10
        while not _answers("127.0.0.1", own):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"{binary} did not start on 127.0.0.1:{own}")
            time.sleep(0.1)
        return cls(f"nats://127.0.0.1:{own}", proc.pid, proc)

    @property
    def shared(self) -> bool:
        return self.proc is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _find_pid(port: int) -> int | None:
    """The nats-server process listening on `port` (the only one by name, failing that)."""
    found = [p for p in psutil.process_iter(["name"]) if p.info["name"] == "nats-server"]
    for proc in found:
        with contextlib.suppress(psutil.Error):
            if any(c.laddr and c.laddr.port == port for c in proc.net_connections("tcp")):
                return proc.pid
    return found[0].pid if len(found) == 1 else None


# -- the publisher --------------------------------------------------------------------


class TierPublisher:
    """One tier's Throttle and timer: ticks go out at once or at their slot boundary."""

    def __init__(self, tier: Tier, prefix: str, send: Any) -> None:
        self.tier = tier
        self.throttle: Throttle[market_pb2.Tick] = Throttle(CATALOG[tier].update_interval_ms / 1000)
        fields = market_pb2.Tick.DESCRIPTOR.fields_by_name
        names = tier_fields(tier)
        self.whole = names == frozenset(fields)  # enterprise: the tick as it is
        self.scalars = tuple(sorted(n for n in names if not fields[n].is_repeated))
        self.repeated = tuple(sorted(n for n in names if fields[n].is_repeated))
        self.limits = CATALOG[tier]
        self.subjects: dict[str, str] = {}
        self.prefix = prefix
        self.send = send
        self.timer: asyncio.TimerHandle | None = None
        self.published = 0

    def encode(self, tick: market_pb2.Tick) -> bytes:
        """The tick with only the tier's fields, as the Bridge projects it."""
        if self.whole:
            return tick.SerializeToString()
        out = market_pb2.Tick()
        for name in self.scalars:
            setattr(out, name, getattr(tick, name))
        for name in self.repeated:
            getattr(out, name).extend(getattr(tick, name))
        return out.SerializeToString()

    def publish(self, tick: market_pb2.Tick) -> None:
        name = self.subjects.get(tick.symbol)
        if name is None:
            name = self.subjects[tick.symbol] = subject(self.prefix, self.tier.value, tick.symbol)
        self.send(name, self.encode(tick))
        self.published += 1

    def offer(self, tick: market_pb2.Tick, now: float) -> None:
        if not self.limits.allows_symbol(tick.symbol):
            return
        if self.throttle.offer(tick.symbol, tick, now):
            self.publish(tick)
        else:
            self.arm()

    def arm(self) -> None:
        due = self.throttle.next_due()
        if due is None or (self.timer is not None and self.timer.when() <= due):
            return
        if self.timer is not None:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_at(due, self.flush)

    def flush(self) -> None:
        self.timer = None
        for tick in self.throttle.pop_due(asyncio.get_running_loop().time()):
            self.publish(tick)
        self.arm()


async def run_publisher(
    url: str, prefix: str, symbols: list[str], rate: float, step_s: float,
    tiers: list[Tier], deadline_s: float,
) -> None:  # fmt: skip
    nc = await nats.connect(url, name="bench-publisher")
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.call_later(deadline_s, stop.set)  # bounded even if the benchmark is gone
    parent = os.getppid()
    pending: list[tuple[str, bytes]] = []
    ready = asyncio.Event()

    def send(name: str, data: bytes) -> None:
        pending.append((name, data))
        ready.set()

    async def drain() -> None:
        """Hands what the feed and the throttle timers queued to nats-py (which buffers it
        and writes from its own flusher), as soon as there is any."""
        while True:
            await ready.wait()
            ready.clear()
            batch = pending[:]
            pending.clear()
            for name, data in batch:
                await nc.publish(name, data)

    drainer = asyncio.create_task(drain())
    publishers = [TierPublisher(tier, prefix, send) for tier in tiers]
    quote = QuoteMaker(symbols).quote
    books: dict[str, dict[str, market_pb2.Quote]] = collections.defaultdict(dict)
    start = loop.time()
    pacer = Pacer(symbols, rate, start)
    tick_at, seq = start, 0
    print("publishing", flush=True)  # the benchmark waits for this line

    while not stop.is_set() and os.getppid() == parent:  # ends with the benchmark
        now = loop.time()
        now_us = time.time_ns() // 1000
        for i, symbol in pacer.take(now):
            q = quote(symbol, i)
            book = books[symbol]
            book[q.broker] = q
            seq += 1
            bid = max(b.bid for b in book.values())
            ask = min(b.ask for b in book.values())
            spec = UNIVERSE[symbol]
            tick = market_pb2.Tick(
                symbol=symbol, bid=bid, ask=ask, broker=q.broker,
                broker_time_us=q.broker_time_us, ingest_time_us=now_us, sequence=seq,
                spread_pips=round((ask - bid) / spec.pip_size, 3),
                quality_score=0.87, liquidity_score=0.47,
            )  # fmt: skip
            tick.broker_quotes.extend(book.values())
            for publisher in publishers:
                publisher.offer(tick, now)
        tick_at += step_s
        await asyncio.sleep(max(0.0, tick_at - loop.time()))
    drainer.cancel()
    with contextlib.suppress(Exception):
        await nc.drain()


# -- the subscribers (in the benchmark's client processes) ------------------------------


def _tier_stats() -> dict[str, Any]:
    """The fields of bench_fanout.TierStats, which the benchmark merges."""
    return {"messages": 0, "data_messages": 0, "ticks": 0, "bytes": 0, "skipped": 0,
            "heartbeats": 0, "gaps": 0, "streams": 0,
            "latency": collections.Counter(), "to_send": collections.Counter()}  # fmt: skip


def client_process(
    url: str, prefix: str, specs: list[tuple[str, str, list[str]]], per_conn: int,
    commands: Any, results: Any,
) -> None:  # fmt: skip
    """Runs in its own process: one subscriber per spec, reporting to `results` as the
    gRPC harness does (("ready", pid, subscribed, errors), then ("done", pid, stats,
    errors, {}))."""
    asyncio.run(_clients(url, prefix, specs, per_conn, commands, results))


async def _clients(
    url: str, prefix: str, specs: list[tuple[str, str, list[str]]], per_conn: int,
    commands: Any, results: Any,
) -> None:  # fmt: skip
    stats = {tier.value: _tier_stats() for tier in Tier}
    errors: collections.Counter[str] = collections.Counter()
    window = [math.inf, math.inf]
    parse = market_pb2.Tick.FromString
    log = math.log

    async def on_error(exc: Exception) -> None:
        errors[type(exc).__name__] += 1  # e.g. a slow consumer

    def handler(st: dict[str, Any]) -> Any:
        latency = st["latency"]

        async def on_message(msg: Any) -> None:
            now = time.time_ns() // 1000
            if not window[0] <= now < window[1]:
                return
            data = msg.data
            tick = parse(data)
            st["messages"] += 1
            st["data_messages"] += 1
            st["ticks"] += 1
            st["bytes"] += len(data)
            latency[int(log(max(now - tick.ingest_time_us, 1)) * BINS_PER_E)] += 1

        return on_message

    conns = []
    subscribed = 0
    for first in range(0, len(specs), per_conn):
        try:
            nc = await nats.connect(url, error_cb=on_error, max_reconnect_attempts=3)
        except Exception as exc:
            errors[f"connect {type(exc).__name__}"] += len(specs[first : first + per_conn])
            continue
        conns.append(nc)
        for _company, tier, symbols in specs[first : first + per_conn]:
            st = stats[tier]
            on_message = handler(st)
            for symbol in symbols:
                await nc.subscribe(subject(prefix, tier, symbol), cb=on_message)
            st["streams"] += 1
            subscribed += 1
        await nc.flush(timeout=30)  # the server has every SUB of this connection

    results.put(("ready", os.getpid(), subscribed, dict(errors)))
    command = await asyncio.to_thread(commands.get)
    if command is not None:
        window[0], window[1] = command
        await asyncio.sleep(max(0.0, window[1] / 1e6 - time.time()) + 0.05)
    for nc in conns:
        with contextlib.suppress(Exception):
            await nc.close()
    results.put(("done", os.getpid(), stats, dict(errors), {}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("publish",))
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--prefix", required=True, help="subject prefix of this run")
    parser.add_argument("--symbols", required=True, help="comma-separated")
    parser.add_argument("--rate", type=float, default=20.0, help="updates/s per symbol")
    parser.add_argument("--step-ms", type=float, default=5.0, help="publishing cadence")
    parser.add_argument("--tiers", default="free,pro,enterprise", help="tiers with subscribers")
    parser.add_argument("--deadline-s", type=float, required=True, help="longest life, s")
    args = parser.parse_args()
    asyncio.run(
        run_publisher(args.url, args.prefix, args.symbols.split(","), args.rate,
                      args.step_ms / 1000, [Tier.parse(t) for t in args.tiers.split(",")],
                      args.deadline_s)
    )  # fmt: skip


if __name__ == "__main__":
    main()
