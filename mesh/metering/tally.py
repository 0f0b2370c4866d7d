"""Tally: cumulative usage counters in a shared file mapping, so a killed process loses none."""

from __future__ import annotations

import json
import logging
import mmap
import os
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from mesh.tiers import Tier

# Two files beside the spool, owned by the process holding the spool's lock:
#
# - ``<name>.keys``: the key table, one JSON line per slot in slot order, after a first
#   line with this tally's uid. A line is appended when a new key appears (rare) with no
#   fsync; the meter fsyncs the table before spooling a batch that names a new slot.
# - ``<name>.tally``: a MAP_SHARED array of little-endian i64, three per slot:
#   (data points, processing time in us, last event time in us), cumulative and never
#   reset. Counting is a write into the mapping, no syscall: the pages belong to the
#   kernel's page cache, so they outlive a SIGKILL of the process (not a machine crash,
#   which loses at most what was not flushed, as before the tally existed).
#
# What was spooled is not kept here but in the spool, as marks recorded atomically with
# each batch (spool.py): the unspooled usage of a slot is its count minus its mark.

log = logging.getLogger(__name__)

# (company_id, user_id, tier, service, endpoint, billing_period)
CellKey = tuple[str, str, Tier, str, str, str]

WIDTH = 3  # i64 per slot
_ITEM = 8
_INITIAL_SLOTS = 1024


class Period:
    """The billing period of the current month, recomputed only when the month changes."""

    def __init__(self) -> None:
        self.start_us = self.end_us = 0
        self.name = ""

    def of(self, at_us: int) -> str:
        if not self.start_us <= at_us < self.end_us:
            moment = datetime.fromtimestamp(at_us / 1e6, UTC)
            start = datetime(moment.year, moment.month, 1, tzinfo=UTC)
            end = datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)
            self.start_us = int(start.timestamp()) * 1_000_000
            self.end_us = int(end.timestamp()) * 1_000_000
            self.name = f"{start.year:04d}-{start.month:02d}"
        return self.name


def last_instant_us(period: str) -> int:
    """The last microsecond of billing period `period` ("YYYY-MM"), in unix microseconds."""
    year, month = map(int, period.split("-"))
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return int(end.timestamp() * 1_000_000) - 1


class TallyCounter:
    """One key's data points, counted in the current period: for a hot path (the Bridge
    counts each delivered message here), a clock read and a write into the mapping."""

    __slots__ = ("_base", "_clock_ns", "_ends_ns", "_key", "_period", "_tally")

    def __init__(
        self,
        tally: Tally,
        key: tuple[str, str, Tier, str, str],
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._tally = tally
        self._key = key
        self._clock_ns = clock_ns
        self._period = Period()
        self._ends_ns = 0
        self._base = 0

    def add(self, points: int) -> None:
        """Count `points` data points now."""
        if self._clock_ns() >= self._ends_ns:
            self._roll()
        self._tally.cells[self._base] += points

    def _roll(self) -> None:
        name = self._period.of(self._clock_ns() // 1000)
        self._ends_ns = self._period.end_us * 1000
        self._base = self._tally.slot((*self._key, name)) * WIDTH


class Tally:
    """The counters of one spool; single-threaded except `sync_keys`."""

    def __init__(self, directory: Path, name: str) -> None:
        self.keys_path = directory / f"{name}.keys"
        self.path = directory / f"{name}.tally"
        self._keys_fd = os.open(self.keys_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        self.uid, self._keys = self._read_keys()
        self._dirty = False
        self.added = 0
        """Slots added since the owner last reset this (the meter, at each flush)."""
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        size = max(os.fstat(self._fd).st_size, _INITIAL_SLOTS * WIDTH * _ITEM)
        self._map(size)

    def _read_keys(self) -> tuple[str, dict[CellKey, int]]:
        data = os.pread(self._keys_fd, os.fstat(self._keys_fd).st_size, 0)
        lines = data.split(b"\n")
        # Only complete lines count: a torn last one (no newline) is cut off.
        complete, good = lines[:-1], 0
        uid, keys = "", dict[CellKey, int]()
        for line in complete:
            try:
                if not uid:
                    uid = line.decode("ascii")
                else:
                    company, user, tier, service, endpoint, period = json.loads(line)
                    keys[(company, user, Tier(tier), service, endpoint, period)] = len(keys)
            except ValueError:
                break
            good += len(line) + 1
        if good != len(data):
            torn = len(data) - good
            log.warning("tally %s: ignoring a torn tail of %d bytes", self.keys_path, torn)
            os.ftruncate(self._keys_fd, good)
        if not uid:
            uid = secrets.token_hex(6)
            os.write(self._keys_fd, uid.encode() + b"\n")
            os.fsync(self._keys_fd)
        return uid, keys

    def _map(self, size: int) -> None:
        if os.fstat(self._fd).st_size < size:
            os.ftruncate(self._fd, size)  # sparse: only touched pages take memory
        self._mmap = mmap.mmap(self._fd, size, mmap.MAP_SHARED)
        self.cells = memoryview(self._mmap).cast("q")
        """The counters: slot s holds cells[3s] points, cells[3s+1] time, cells[3s+2] last
        event time. Read this attribute at each use: it is replaced when the file grows."""

    def slot(self, key: CellKey) -> int:
        """The slot of `key`, added to the key table when new."""
        slot = self._keys.get(key)
        if slot is not None:
            return slot
        if self._fd < 0:
            return 0  # closed: into the scratch buffer
        slot = len(self._keys)
        if (slot + 1) * WIDTH > len(self.cells):
            # Counter handles keep slot numbers, never the old view: remap twice as large.
            self._map(len(self.cells) * 2 * _ITEM)
        company, user, tier, service, endpoint, period = key
        line = json.dumps([company, user, tier.value, service, endpoint, period])
        os.write(self._keys_fd, line.encode() + b"\n")
        self._keys[key] = slot
        self._dirty = True
        self.added += 1
        return slot

    def sync_keys(self) -> None:
        """Make the key table durable (before a batch naming its newest slots is spooled)."""
        if self._dirty:
            self._dirty = False
            os.fsync(self._keys_fd)

    def items(self) -> Iterator[tuple[CellKey, int]]:
        """Every (key, slot), in slot order."""
        return iter(list(self._keys.items()))

    def close(self) -> None:
        """Release the files; later counting goes to a scratch buffer, as after a crash."""
        if self._fd < 0:
            return
        # Handles may still count after a stop: let them write somewhere harmless.
        self.cells = memoryview(bytearray(len(self.cells) * _ITEM)).cast("q")
        self._mmap.close()
        os.close(self._fd)
        os.close(self._keys_fd)
        self._fd = -1
