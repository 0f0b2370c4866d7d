"""UsageLedger: what one process metered per period, company and endpoint; what Storage holds."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from tickmesh.common.v1 import tenancy_pb2

# Totals per (billing_period, company_id, service, endpoint), kept cheaply from what the
# meter already knows: a batch's events when it is spooled (durable), and the receiver's
# receipt when it is settled. Settled usage is either acknowledged (accepted, or a
# duplicate of an earlier send) or refused (rejected or dead-lettered: metered, never
# billed). The spool stores the settled totals as its checkpoint and the receipts beside
# its acks, so `restore` rebuilds the ledger of every earlier run of the same spool.

KEEP_PERIODS = 3
"""Billing periods whose totals are kept (the current one and the two before)."""

Key = tuple[str, str, str, str]
"""(billing_period, company_id, service, endpoint)."""

_VERSION = 1


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """One key's totals: `metered` is everything spooled (durably), `acknowledged` the
    part Storage holds."""

    metered: int = 0
    acknowledged: int = 0


def _key(event: tenancy_pb2.UsageEvent) -> Key:
    return (event.billing_period, event.company_id, event.service, event.endpoint)


def _bump(totals: dict[Key, int], key: Key, amount: int) -> None:
    value = totals.get(key, 0) + amount
    if value:
        totals[key] = value
    else:
        totals.pop(key, None)


class UsageLedger:
    """Cumulative usage of one spool, across the runs of its process."""

    def __init__(self) -> None:
        # Settled totals change on the meter's sender and are read by the spool's
        # compaction on a worker thread: guarded by the lock.
        self._lock = threading.Lock()
        self._acknowledged: dict[Key, int] = {}
        self._refused: dict[Key, int] = {}
        self._pending: dict[Key, int] = {}  # spooled, not settled yet
        self._earlier: dict[Key, int] = {}  # metered by earlier runs, as restored

    # -- recording --------------------------------------------------------------

    def spooled(self, events: Iterable[tenancy_pb2.UsageEvent]) -> None:
        """A batch of `events` is durable in the spool."""
        for event in events:
            _bump(self._pending, _key(event), event.data_points)

    def settled(self, events: Iterable[tenancy_pb2.UsageEvent], refused: set[str]) -> None:
        """The receiver answered for a spooled batch: every event whose idempotency key is
        not in `refused` is acknowledged."""
        with self._lock:
            for event in events:
                key, points = _key(event), event.data_points
                _bump(self._pending, key, -points)
                target = self._refused if event.idempotency_key in refused else self._acknowledged
                _bump(target, key, points)

    # -- reading ----------------------------------------------------------------

    def totals(self, company_id: str, period: str, service: str, endpoint: str) -> UsageTotals:
        """What this spool metered for the key, and what Storage acknowledged of it."""
        key = (period, company_id, service, endpoint)
        acknowledged = self._acknowledged.get(key, 0)
        metered = acknowledged + self._refused.get(key, 0) + self._pending.get(key, 0)
        return UsageTotals(metered, acknowledged)

    def earlier(self, service: str, endpoint: str) -> dict[tuple[str, str], int]:
        """(period, company) -> what earlier runs of this process metered for the
        service's endpoint: the part of the totals a fresh in-memory count lacks."""
        return {
            (period, company): points
            for (period, company, s, e), points in self._earlier.items()
            if (s, e) == (service, endpoint)
        }

    # -- persistence ------------------------------------------------------------

    def summary(self) -> bytes:
        """The settled totals of the newest KEEP_PERIODS periods, as a spool checkpoint.

        Older periods are dropped here, so neither the checkpoint nor memory grows with
        the months a process runs."""
        with self._lock:
            keep = set(sorted({k[0] for k in self._acknowledged | self._refused})[-KEEP_PERIODS:])
            for totals in (self._acknowledged, self._refused):
                for key in [k for k in totals if k[0] not in keep]:
                    del totals[key]
            rows = [
                [*key, self._acknowledged.get(key, 0), self._refused.get(key, 0)]
                for key in sorted(self._acknowledged.keys() | self._refused.keys())
            ]
        return json.dumps({"v": _VERSION, "settled": rows}, separators=(",", ":")).encode()

    @classmethod
    def restore(
        cls,
        checkpoint: bytes | None,
        settled: Iterable[tuple[Iterable[tenancy_pb2.UsageEvent], set[str]]],
        pending: Iterable[Iterable[tenancy_pb2.UsageEvent]],
    ) -> UsageLedger:
        """The ledger a spool describes: its checkpoint, the batches settled after it
        (events, refused keys), and its pending batches."""
        ledger = cls()
        if checkpoint:
            document = json.loads(checkpoint)
            if document.get("v") != _VERSION:
                raise ValueError(f"usage checkpoint of unknown version {document.get('v')!r}")
            for period, company, service, endpoint, acknowledged, refused in document["settled"]:
                key = (period, company, service, endpoint)
                _bump(ledger._acknowledged, key, acknowledged)
                _bump(ledger._refused, key, refused)
        for events, refused_keys in settled:
            events = list(events)
            ledger.spooled(events)
            ledger.settled(events, refused_keys)
        for events in pending:
            ledger.spooled(events)
        for key in ledger._acknowledged.keys() | ledger._refused.keys() | ledger._pending.keys():
            ledger._earlier[key] = ledger.totals(key[1], key[0], key[2], key[3]).metered
        return ledger
