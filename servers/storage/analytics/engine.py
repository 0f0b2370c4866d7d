"""AnalyticsStore: usage analytics on chDB (embedded) or a ClickHouse server, as async methods."""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import ParamSpec, TypeVar

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.storage.v1 import storage_pb2

from mesh.errors import FieldViolation, InvalidArgument
from mesh.metering.vocabulary import TICK_SERVICE
from servers.storage.analytics import brokers, queries, schema, sla, stream_minutes, usage
from servers.storage.analytics.brokers import BrokerFigures, ServedCompany
from servers.storage.analytics.queries import DecliningUsage, MonthlyUsage, UsageRow
from servers.storage.analytics.sla import SlaFigures
from servers.storage.analytics.usage import RecordUsageResult
from servers.storage.analytics.validation import (
    MAX_BATCH_EVENTS,
    Rejection,
    ValidRows,
    validate_usage,
)

P = ParamSpec("P")
R = TypeVar("R")
Clock = Callable[[], datetime]
# Rows per group commit: big enough to amortize an INSERT's per-part cost across
# concurrent batches, small enough to keep one write near 100 ms.
MAX_GROUP_ROWS = 40_000
# Takes a set of company ids, returns those that exist (one call per batch).
CompanyExists = Callable[[set[str]], Awaitable[set[str]]]


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


class AnalyticsStore:
    """Usage analytics over one clickhouse-connect client, used from one worker thread.

    Every ClickHouse call runs on a single dedicated thread: clickhouse-connect has no
    async client, a chDB session handle is not documented as thread-safe, and one
    thread makes the store the serialized single writer its dedupe relies on (see
    servers.storage.analytics.usage). Batches of concurrent callers that queue up while
    a write runs are committed together in the next one (group commit). Reads queue
    behind writes; a write of 10k events holds the thread for ~40 ms.
    """

    def __init__(self, client: Client, executor: ThreadPoolExecutor, clock: Clock) -> None:
        self._client = client
        self._executor = executor
        self.clock = clock
        self._queue: deque[tuple[ValidRows, asyncio.Future[tuple[int, int]]]] = deque()
        self._committer: asyncio.Task[None] | None = None

    async def _call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def close(self) -> None:
        """Finish queued writes, close the client and stop the worker thread."""
        if self._committer is not None:
            await self._committer
        await self._call(self._client.close)
        self._executor.shutdown(wait=True)

    async def record_usage(
        self,
        events: Sequence[tenancy_pb2.UsageEvent],
        company_exists: CompanyExists | None = None,
    ) -> RecordUsageResult:
        """Store a batch exactly once per idempotency key; invalid events are rejected.

        INVALID_ARGUMENT for the whole request only when it exceeds 10,000 events.
        """
        if len(events) > MAX_BATCH_EVENTS:
            raise InvalidArgument(
                f"events: {len(events)} exceeds the limit of {MAX_BATCH_EVENTS} per request",
                violations=[FieldViolation("events", f"at most {MAX_BATCH_EVENTS}")],
            )
        # CPU-bound: off the event loop, but not on the writer thread, so validating the
        # next batch overlaps with ClickHouse work on this one.
        rows, rejected = await asyncio.to_thread(validate_usage, events, self.clock())
        if company_exists is not None and rows:
            known = await company_exists(set(rows.company_ids))
            unknown = [i for i, c in enumerate(rows.company_ids) if c not in known]
            if unknown:
                rejected.extend(
                    Rejection(rows.indexes[i], rows.keys[i], f"unknown company {company}")
                    for i in unknown
                    for company in [rows.company_ids[i]]
                )
                missing = set(unknown)
                rows = rows.select([i for i in range(len(rows)) if i not in missing])
        rows, repeated = usage.drop_repeated_keys(rows)
        accepted, duplicates = await self._commit(rows) if rows else (0, 0)
        rejected.sort(key=lambda r: r.index)
        return RecordUsageResult(accepted, duplicates + repeated, rejected)

    async def _commit(self, rows: ValidRows) -> tuple[int, int]:
        """Queue rows for the next group commit; (accepted, duplicates) once written."""
        done: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()
        self._queue.append((rows, done))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_queued())
        return await done

    async def _commit_queued(self) -> None:
        """Write queued batches in groups while any are waiting (one group at a time)."""
        while self._queue:
            group: list[tuple[ValidRows, asyncio.Future[tuple[int, int]]]] = []
            size = 0
            while self._queue and (not group or size + len(self._queue[0][0]) <= MAX_GROUP_ROWS):
                rows, done = self._queue.popleft()
                if not done.done():  # a caller cancelled before its turn: nothing written
                    group.append((rows, done))
                    size += len(rows)
            if not group:
                continue
            try:
                results = await self._call(
                    usage.store_new_rows, self._client, [rows for rows, _ in group]
                )
            except Exception as exc:
                for _, done in group:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for (_, done), result in zip(group, results, strict=True):
                if not done.done():
                    done.set_result(result)

    async def query_usage(self, company_id: str, period: str, group_by: str = "") -> list[UsageRow]:
        """Usage of a company in a period, grouped by "service", "endpoint", "user", "day" or ""."""
        return await self._call(queries.query_usage, self._client, company_id, period, group_by)

    async def ticks_delivered(
        self, period: str, company_id: str | None = None, service: str = TICK_SERVICE
    ) -> dict[str, int]:
        """Ticks delivered per company in a period (data points of the bridge)."""
        return await self._call(queries.ticks_delivered, self._client, period, company_id, service)

    async def monthly_usage(
        self, company_id: str, end_period: str, months: int = 3
    ) -> list[MonthlyUsage]:
        """A company's usage in the last `months` periods to `end_period`, oldest first."""
        return await self._call(queries.monthly_usage, self._client, company_id, end_period, months)

    async def declining_usage(self, end_period: str, months: int = 3) -> list[DecliningUsage]:
        """Companies whose usage fell every month to `end_period` (churn risk)."""
        return await self._call(queries.declining_usage, self._client, end_period, months)

    async def record_sla(
        self,
        samples: Sequence[storage_pb2.SlaSample],
        minutes: Sequence[storage_pb2.StreamMinute] = (),
    ) -> tuple[int, int]:
        """Store delivery-latency samples and stream minutes (all or, on INVALID_ARGUMENT,
        none); returns how many of each."""
        now = self.clock()
        columns = await asyncio.to_thread(sla.sla_rows, samples, now)
        rows = await asyncio.to_thread(stream_minutes.minute_rows, minutes, now)
        await self._call(sla.insert_samples, self._client, columns)
        await self._call(stream_minutes.insert_minutes, self._client, rows)
        return len(columns[0]), len(rows[0])

    async def query_sla(self, period: str, company_id: str | None = None) -> list[SlaFigures]:
        """SLA figures per tier and company for a period (and tier totals without a company)."""
        return await self._call(sla.query_sla, self._client, period, company_id)

    async def record_broker_samples(self, samples: Sequence[storage_pb2.BrokerSample]) -> int:
        """Store Ingestion's per-broker samples; returns how many."""
        columns = await asyncio.to_thread(brokers.broker_rows, samples, self.clock())
        await self._call(brokers.insert_samples, self._client, columns)
        return len(columns[0])

    async def broker_figures(self, period: str) -> tuple[list[BrokerFigures], list[ServedCompany]]:
        """Each broker's figures in a period, and the companies served in it."""
        return await self._call(brokers.query_figures, self._client, period)

    async def aggregates_mismatch(self, period: str) -> list[str]:
        """Companies whose aggregates disagree with usage_tracking in a period."""
        return await self._call(queries.aggregates_mismatch, self._client, period)

    async def rebuild_aggregates(self, period: str) -> None:
        """Recompute a period's aggregates from usage_tracking (after a crash mid-insert)."""
        await self._call(queries.rebuild_aggregates, self._client, period)

    async def run(self, fn: Callable[[], R]) -> R:
        """Run `fn` on the store's one thread (market-data history shares the client)."""
        return await self._call(fn)

    def client(self) -> Client:
        """The client; only for code already running on the store's thread (see run)."""
        return self._client

    async def query(self, sql: str, parameters: dict[str, object] | None = None) -> list[tuple]:
        """Run one query on the writer thread and return its rows (tests and operators)."""

        def run() -> list[tuple]:
            return [
                tuple(row) for row in self._client.query(sql, parameters=parameters).result_rows
            ]

        return await self._call(run)


def _connect(url: str | None, data_dir: Path) -> Client:
    if url is None:
        path = data_dir / "chdb"
        path.mkdir(parents=True, exist_ok=True)
        client = clickhouse_connect.get_client(interface="chdb", path=str(path))
    else:
        # The key probe is a session temporary table, so the HTTP client needs a session.
        client = clickhouse_connect.get_client(dsn=url, autogenerate_session_id=True)
    schema.apply_schema(client)
    return client


async def open_analytics(
    url: str | None, data_dir: Path, *, clock: Clock = utc_now
) -> AnalyticsStore:
    """Open the store: chDB under data_dir/"chdb" when url is None, else a ClickHouse server.

    chDB allows one data directory per process and a directory in one process only, so
    open one store per process and share it.
    """
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analytics")
    loop = asyncio.get_running_loop()
    try:
        # The client is created on the thread that will use it for its whole life.
        client = await loop.run_in_executor(executor, _connect, url, data_dir)
    except BaseException:
        executor.shutdown(wait=False)
        raise
    return AnalyticsStore(client, executor, clock)
