"""`subscribe()`: an async iterator of market data that reconnects and resumes by itself.

The iterator yields typed events. After a broken stream it reconnects with
exponential backoff and asks to resume after the last sequence it delivered;
the server replays what its buffer still holds or says explicitly (a Gap) what
is lost. A resumed stream's catch-up may repeat a symbol's latest tick when the
server cannot tell whether the client already had it; a symbol's sequences only
grow, so the iterator drops any tick not newer than the last it yielded for that
symbol, and yields each tick at most once. Refusals that retrying cannot fix (bad
key, symbol not in the tier, bad input) end the iteration with a TickmeshError.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import grpc
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc, history_pb2, history_pb2_grpc
from tickmesh.common.v1 import history_pb2 as history_common_pb2
from tickmesh.common.v1 import market_pb2

from clients import tls
from clients.errors import TickmeshError
from mesh.backoff import Backoff
from mesh.channel_options import RECONNECT_OPTIONS
from mesh.client_interceptors import api_key_interceptors


@dataclass(frozen=True, slots=True)
class Ack:
    """The subscription was accepted: granted and refused symbols, the snapshot."""

    ack: bridge_pb2.SubscriptionAck
    resumed: bool


@dataclass(frozen=True, slots=True)
class Ticks:
    """A batch of ticks, projected to the tier; `skipped` updates were conflated away."""

    batch: market_pb2.TickBatch
    skipped: int


@dataclass(frozen=True, slots=True)
class Gap:
    """Sequences that will never be delivered, and why."""

    notice: market_pb2.GapNotice


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The stream is idle but alive."""

    heartbeat: market_pb2.Heartbeat


@dataclass(frozen=True, slots=True)
class Reconnecting:
    """The stream broke; the iterator is about to reconnect after `delay_s`."""

    error: TickmeshError
    attempt: int
    delay_s: float
    resume_from: int


Event = Ack | Ticks | Gap | Heartbeat | Reconnecting


SUBSCRIBE_BACKOFF = Backoff(initial_s=0.2, max_s=10.0, jitter=0.4)
"""subscribe()'s reconnect delays unless it is given others: 0.2 s growing to 10 s."""


class NewestTicks:
    """The newest sequence yielded per symbol, to drop a catch-up's repeats."""

    __slots__ = ("_seq",)

    def __init__(self) -> None:
        self._seq: dict[str, int] = {}

    def fresh(self, batch: market_pb2.TickBatch) -> market_pb2.TickBatch:
        """`batch` without the ticks not newer than their symbol's last (itself when
        all are new, the common case: no copy)."""
        seq = self._seq
        if all(tick.sequence > seq.get(tick.symbol, 0) for tick in batch.ticks):
            for tick in batch.ticks:
                seq[tick.symbol] = tick.sequence
            return batch
        kept = market_pb2.TickBatch()
        kept.CopyFrom(batch)
        del kept.ticks[:]
        for tick in batch.ticks:
            if tick.sequence > seq.get(tick.symbol, 0):
                seq[tick.symbol] = tick.sequence
                kept.ticks.append(tick)
        return kept


def _retryable(error: TickmeshError) -> bool:
    # A stream-slot refusal clears when another stream of ours ends or its lease lapses.
    # CANCELLED is never this iterator's own doing (closing it ends it without a status):
    # a server sheds calls it has not started yet that way in a reconnect storm (grpc's
    # pending-call backlog), so the stream is tried again like an unavailable server.
    # TIER_CHANGED: the subscription changed while streaming; subscribing again gets the
    # new tier's grant (or says why the symbols are no longer included).
    return (
        error.retryable
        or error.code is grpc.StatusCode.CANCELLED
        or error.metadata.get("quota") == "concurrent_streams"
        or error.reason == "TIER_CHANGED"
    )


MAX_POOL_MOVES = 3
"""Refusals by a Bridge of another tier pool followed in a row before giving up."""


def pool_address(error: TickmeshError) -> str | None:
    """Where a Bridge that serves another tier pool (WRONG_POOL) says this key's tier is
    served, if it knows (mesh.tier_pools)."""
    if error.reason != "WRONG_POOL":
        return None
    return error.metadata.get("address") or None


async def subscribe(
    target: str,
    api_key: str,
    symbols: Sequence[str],
    *,
    resume_from: int = 0,
    best_effort: bool = False,
    backoff: Backoff | None = None,
    max_attempts: int | None = None,
    channel: grpc.aio.Channel | None = None,
    ca: Path | None = None,
) -> AsyncGenerator[Event, None]:
    """Subscribe to `symbols` at `target` (a Bridge, or the Hub's proxy) with `api_key`,
    over TLS trusting the mesh CA `ca` (plaintext when None, for a mesh on loopback
    started with --insecure).

    A broken stream is retried after `backoff`'s delays (SUBSCRIBE_BACKOFF by default),
    at most `max_attempts` times in a row (None: for as long as it takes).
    """
    backoff = backoff or SUBSCRIBE_BACKOFF
    own_channel = channel is None
    if channel is None:
        channel = _key_channel(target, api_key, ca)
    stub = bridge_pb2_grpc.BridgeServiceStub(channel)
    last_seq, attempt, moves = resume_from, 0, 0
    newest = NewestTicks()
    try:
        while True:
            request = bridge_pb2.SubscribeRequest(
                symbols=list(symbols),
                resume_from=last_seq,
                options=bridge_pb2.SubscribeOptions(best_effort=best_effort),
            )
            call = stub.Subscribe(request)
            try:
                async for message in call:
                    kind = message.WhichOneof("payload")
                    if kind == "ack":
                        attempt = moves = 0  # connected: the next failure backs off afresh
                        newest.fresh(message.ack.snapshot)
                        yield Ack(message.ack, resumed=last_seq > 0)
                    elif kind == "batch":
                        last_seq = max(last_seq, message.batch.last_seq)
                        batch = newest.fresh(message.batch)
                        if batch is message.batch or batch.ticks or message.skipped:
                            yield Ticks(batch, message.skipped)
                    elif kind == "gap":
                        last_seq = max(last_seq, message.gap.to_seq)
                        yield Gap(message.gap)
                    elif kind == "heartbeat":
                        yield Heartbeat(message.heartbeat)
                error = TickmeshError(grpc.StatusCode.UNAVAILABLE, "the server ended the stream")
            except grpc.aio.AioRpcError as err:
                error = TickmeshError.from_rpc_error(err)
            moved = pool_address(error)
            if moved and own_channel and moves < MAX_POOL_MOVES:
                # A Bridge of another tier pool: go where it says this key's tier is served.
                await channel.close()
                channel = _key_channel(moved, api_key, ca)
                stub = bridge_pb2_grpc.BridgeServiceStub(channel)
                moves += 1
                yield Reconnecting(error, attempt + 1, 0.0, last_seq)
                continue
            if not _retryable(error):
                raise error
            if max_attempts is not None and attempt >= max_attempts:
                raise error
            delay = (
                error.retry_after_s if error.retry_after_s is not None else backoff.delay(attempt)
            )
            yield Reconnecting(error, attempt + 1, delay, last_seq)
            attempt += 1
            await asyncio.sleep(delay)  # backoff before reconnecting, by design
    finally:
        if own_channel:
            await channel.close()


# -- market-data history ------------------------------------------------------------------

BAR_INTERVALS = {
    "1s": history_common_pb2.BAR_INTERVAL_1S,
    "1m": history_common_pb2.BAR_INTERVAL_1M,
    "1h": history_common_pb2.BAR_INTERVAL_1H,
    "1d": history_common_pb2.BAR_INTERVAL_1D,
}
"""The bar widths by name, as `bars()` and `tickmesh bars --interval` take them."""

TimeLike = datetime | int
"""A time: an aware datetime, or unix microseconds."""


def _us(moment: TimeLike | None) -> int:
    if moment is None:
        return 0
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("use an aware datetime (e.g. tzinfo=UTC)")
        return int(moment.timestamp() * 1_000_000)
    return moment


def _key_channel(target: str, api_key: str, ca: Path | None) -> grpc.aio.Channel:
    # The mesh's reconnect options, or gRPC's own back-off (up to two minutes) would
    # outlast subscribe()'s delays while the server is back.
    return tls.channel(
        target, ca, options=RECONNECT_OPTIONS, interceptors=api_key_interceptors(api_key)
    )


async def history(
    target: str,
    api_key: str,
    symbols: Sequence[str],
    start: TimeLike,
    end: TimeLike | None = None,
    *,
    max_batch_ticks: int = 0,
    channel: grpc.aio.Channel | None = None,
    ca: Path | None = None,
) -> AsyncGenerator[market_pb2.TickBatch, None]:
    """The recorded ticks of `symbols` from `start` to `end` (default now) in batches,
    symbol by symbol (in the order given), each oldest first, with the fields of the
    key's tier. Refusals raise TickmeshError:
    PERMISSION_DENIED (a symbol outside the tier), OUT_OF_RANGE (past the tier's window;
    `metadata["required_tier"]` names the tier that reaches), INVALID_ARGUMENT."""
    request = history_pb2.StreamHistoryRequest(
        symbols=list(symbols), start_time_us=_us(start), end_time_us=_us(end),
        max_batch_ticks=max_batch_ticks,
    )  # fmt: skip
    sent = False
    try:
        async for batch in _history(target, api_key, request, channel, ca):
            sent = True
            yield batch
    except TickmeshError as error:
        if sent or channel is not None or not (moved := pool_address(error)):
            raise
        async for batch in _history(moved, api_key, request, None, ca):
            yield batch


async def _history(
    target: str,
    api_key: str,
    request: history_pb2.StreamHistoryRequest,
    channel: grpc.aio.Channel | None,
    ca: Path | None,
) -> AsyncGenerator[market_pb2.TickBatch, None]:
    own = channel is None
    channel = channel or _key_channel(target, api_key, ca)
    try:
        async for message in history_pb2_grpc.HistoryServiceStub(channel).StreamHistory(request):
            yield message.batch
    except grpc.aio.AioRpcError as err:
        raise TickmeshError.from_rpc_error(err) from None
    finally:
        if own:
            await channel.close()


async def bars(
    target: str,
    api_key: str,
    symbol: str,
    interval: str,
    start: TimeLike,
    end: TimeLike | None = None,
    *,
    page_size: int = 0,
    channel: grpc.aio.Channel | None = None,
    ca: Path | None = None,
) -> list[history_common_pb2.Bar]:
    """Every OHLC bar of `symbol` at `interval` ("1s", "1m", "1h", "1d") from `start` to
    `end` (default now), oldest first, following the pages. Refusals as for history()."""
    if interval not in BAR_INTERVALS:
        raise ValueError(f"unknown interval {interval!r}; one of {', '.join(BAR_INTERVALS)}")
    try:
        return await _bars(target, api_key, symbol, interval, start, end, page_size, channel, ca)
    except TickmeshError as error:
        if channel is not None or not (moved := pool_address(error)):
            raise
        return await _bars(moved, api_key, symbol, interval, start, end, page_size, None, ca)


async def _bars(
    target: str,
    api_key: str,
    symbol: str,
    interval: str,
    start: TimeLike,
    end: TimeLike | None,
    page_size: int,
    channel: grpc.aio.Channel | None,
    ca: Path | None,
) -> list[history_common_pb2.Bar]:
    own = channel is None
    channel = channel or _key_channel(target, api_key, ca)
    stub = history_pb2_grpc.HistoryServiceStub(channel)
    # A fixed end, so the pages of one call describe one range even while time moves on.
    end_us = _us(end) or int(time.time() * 1_000_000)
    out: list[history_common_pb2.Bar] = []
    token = ""
    try:
        while True:
            page = await stub.GetBars(
                history_pb2.GetBarsRequest(
                    symbol=symbol, interval=BAR_INTERVALS[interval], start_time_us=_us(start),
                    end_time_us=end_us, page_size=page_size, page_token=token,
                )
            )  # fmt: skip
            out.extend(page.bars)
            token = page.next_page_token
            if not token:
                return out
    except grpc.aio.AioRpcError as err:
        raise TickmeshError.from_rpc_error(err) from None
    finally:
        if own:
            await channel.close()


async def quotes(
    target: str,
    api_key: str,
    symbols: Sequence[str],
    *,
    channel: grpc.aio.Channel | None = None,
    ca: Path | None = None,
) -> list[market_pb2.Tick]:
    """The latest recorded tick of each of `symbols`, with the fields of the key's tier."""
    try:
        return await _quotes(target, api_key, symbols, channel, ca)
    except TickmeshError as error:
        if channel is not None or not (moved := pool_address(error)):
            raise
        return await _quotes(moved, api_key, symbols, None, ca)


async def _quotes(
    target: str,
    api_key: str,
    symbols: Sequence[str],
    channel: grpc.aio.Channel | None,
    ca: Path | None,
) -> list[market_pb2.Tick]:
    own = channel is None
    channel = channel or _key_channel(target, api_key, ca)
    try:
        reply = await history_pb2_grpc.HistoryServiceStub(channel).GetQuote(
            history_pb2.GetQuoteRequest(symbols=list(symbols))
        )
        return list(reply.quotes)
    except grpc.aio.AioRpcError as err:
        raise TickmeshError.from_rpc_error(err) from None
    finally:
        if own:
            await channel.close()
