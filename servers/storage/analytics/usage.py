"""Exactly-once usage ingest: keys are checked against durable storage, only new rows inserted."""

from __future__ import annotations

from dataclasses import dataclass, field

from clickhouse_connect.driver.client import Client
from tickmesh.storage.v1 import storage_pb2

from servers.storage.analytics.validation import COLUMNS, Rejection, ValidRows

# Why not a cache, and why not ClickHouse's own block deduplication:
# - A cache forgets on restart, and a restart is exactly when producers resend.
# - insert_deduplication_token dedupes a retried *identical* block in the base table, but
#   its materialized views still aggregate the block again unless dedupe is also enabled
#   for dependent views, and then view blocks are deduped by content hash, which can
#   drop a legitimate aggregate block that happens to equal an earlier one. So nothing
#   here relies on it: a duplicate must never reach the INSERT at all.
#
# How: the store is the single writer of its ClickHouse database and runs each group
# commit (`store_new_rows`) on one thread, so no other write runs between a check and
# its insert. The check reads usage_tracking itself (through its by_key projection,
# which lives inside each data part): a key is visible exactly when its row is durable.
#
# The crash window: the INSERT commits, then the process dies (or the reply is lost)
# before the producer sees the acknowledgement. The producer keeps the batch in its
# spool and resends it; the check finds every key and reports the events as duplicates,
# so they are counted once. One INSERT is not atomic across a table and its views: a
# crash inside it can leave the aggregates short for that block (never doubled, as the
# base rows it committed are found on retry); `aggregates_mismatch` detects that and
# `rebuild_aggregates` recomputes a period from usage_tracking, the source of truth.
#
# Several writers on one HTTP ClickHouse (Storage replicas) would race between check
# and insert; route RecordUsage to one writer per database until that is needed.

PROBE_TABLE = "usage_key_probe"
# A session-scoped temporary table: the key set is inserted columnar (one round trip,
# ~2 ms per 10k keys) and joined by ClickHouse, instead of a 10k-literal IN list that
# costs ~40 ms to format and parse. Each client session has its own, so writers of
# different stores never see each other's probes.
_CREATE_PROBE = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {PROBE_TABLE} (idempotency_key String) ENGINE = Memory"
)
_EXISTING = (
    "SELECT DISTINCT idempotency_key FROM usage_tracking "
    f"WHERE idempotency_key IN (SELECT idempotency_key FROM {PROBE_TABLE})"
)

# A row must be visible to the very next check, so never let a server profile turn
# this insert into an asynchronous (buffered) one.
_INSERT_SETTINGS = {"async_insert": 0}


@dataclass(slots=True)
class RecordUsageResult:
    """The outcome of one RecordUsage batch; the three counts add up to the batch size."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def to_proto(self) -> storage_pb2.RecordUsageResponse:
        """The RecordUsageResponse of this outcome."""
        return storage_pb2.RecordUsageResponse(
            accepted=self.accepted,
            duplicates=self.duplicates,
            rejected=[
                storage_pb2.UsageRejection(
                    index=r.index, idempotency_key=r.idempotency_key, reason=r.reason
                )
                for r in self.rejected
            ],
        )


def existing_keys(client: Client, keys: list[str]) -> set[str]:
    """The subset of `keys` already stored in usage_tracking."""
    if not keys:
        return set()
    client.command(_CREATE_PROBE)
    client.command(f"TRUNCATE TABLE {PROBE_TABLE}")
    client.insert(PROBE_TABLE, [keys], column_names=["idempotency_key"], column_oriented=True)
    return {row[0] for row in client.query(_EXISTING).result_rows}


def store_new_rows(client: Client, groups: list[ValidRows]) -> list[tuple[int, int]]:
    """Insert the rows whose keys are not stored yet; (accepted, duplicates) per group.

    Groups are the batches of concurrent RecordUsage calls, committed together: one key
    check and one INSERT for all of them (group commit), since an INSERT's cost is
    mostly per part written (base, projection, two views), not per row. Within the
    round the earlier group wins a key both carry. Must run on the store's single
    writer thread: see the module docstring.
    """
    found = existing_keys(client, [k for g in groups for k in g.keys])
    results = []
    fresh = ValidRows()
    for group in groups:
        keep = []
        for position, key in enumerate(group.keys):
            if key not in found:
                found.add(key)
                keep.append(position)
        fresh.extend(group if len(keep) == len(group) else group.select(keep))
        results.append((len(keep), len(group) - len(keep)))
    if fresh:
        client.insert(
            "usage_tracking",
            list(fresh.columns),
            column_names=list(COLUMNS),
            column_oriented=True,
            settings=_INSERT_SETTINGS,
        )
    return results


def drop_repeated_keys(rows: ValidRows) -> tuple[ValidRows, int]:
    """Keep the first event of each key within one batch; return them and how many repeated."""
    seen: set[str] = set()
    keep = []
    for position, key in enumerate(rows.keys):
        if key not in seen:
            seen.add(key)
            keep.append(position)
    if len(keep) == len(rows):
        return rows, 0
    return rows.select(keep), len(rows) - len(keep)
