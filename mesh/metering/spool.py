"""A crash-safe local spool of unsent usage batches: append-only, CRC-checked, fsynced."""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

# One file per process: ``<data_dir>/spool/<component>/<name>.log`` (see spool_dir), a
# sequence of records, little-endian:
#
#     u32 body_length | u32 crc32(body) | body
#     body = u8 kind | u64 batch_id | payload
#
# kind 1 (BATCH) carries a serialized RecordUsageRequest; kind 2 (ACK) acknowledges
# batch_id, its payload the receiver's receipt (empty in files of older versions); kind 3
# (CHECKPOINT, batch_id 0) carries the owner's summary of every batch acknowledged before
# it. Kind 4 (MARKED_BATCH) is a BATCH whose payload starts with the usage marks it
# brings the spool to (u32 count, then count x (u32 slot, i64 points, i64 time_us)),
# so a batch and the cumulative counts it covers land in one record or not at all; kind 5
# (MARKS, batch_id 0) carries every mark, written first by a compaction. Every append is
# fsynced before it returns, so an acknowledged send is never resent and an appended
# batch survives SIGKILL or power loss. A crash mid-append leaves a torn
# last record: on open, reading stops at the first record that is short or fails its
# CRC, and the file is truncated there, so the next append does not land behind garbage.
#
# When acknowledged records dominate a large file, a CHECKPOINT (from `summarize`) and the
# pending batches are rewritten to a new file that atomically replaces it: the owner
# learns on open what was ever acknowledged (the last checkpoint, then the batches
# acknowledged after it) without the file growing for ever. A spool without `summarize`
# keeps no history: it truncates itself to empty once every batch is acknowledged.
#
# One process at a time per file: an exclusive flock on ``<name>.lock`` (a separate file,
# because compaction replaces the log and a lock on the old inode would protect nothing).
# Replicas of a component on one machine use distinct names.

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<II")
_BODY_HEAD = struct.Struct("<BQ")
BATCH, ACK, CHECKPOINT, MARKED_BATCH, MARKS = 1, 2, 3, 4, 5
_COUNT = struct.Struct("<I")
_MARK = struct.Struct("<Iqq")
Marks = dict[int, tuple[int, int]]
"""Tally slot -> (points, processing time in us) that spooled batches cover (tally.py)."""
# Far above a 10,000-event batch (~1 MB): a larger length is a torn or corrupt header.
MAX_RECORD = 64 * 1024 * 1024
# Rewrite the file once it is this large and at least half of it is acknowledged.
COMPACT_BYTES = 8 * 1024 * 1024
# With nothing pending, a smaller file is rewritten already (to its checkpoint alone): it
# is replayed on every open.
SETTLED_COMPACT_BYTES = 256 * 1024


class SpoolLocked(RuntimeError):
    """Another process has this spool directory open."""


def spool_dir(data_dir: Path, component: str) -> Path:
    """Where a component's spools live: ``<data_dir>/spool/<component>``."""
    return data_dir / "spool" / component


def _record(kind: int, batch_id: int, payload: bytes = b"") -> bytes:
    body = _BODY_HEAD.pack(kind, batch_id) + payload
    return _HEADER.pack(len(body), zlib.crc32(body)) + body


def _pack_marks(marks: Marks) -> bytes:
    return _COUNT.pack(len(marks)) + b"".join(_MARK.pack(s, p, t) for s, (p, t) in marks.items())


def _unpack_marks(body: bytes, offset: int) -> tuple[Marks, int]:
    """The marks at `offset` and the offset after them."""
    (count,) = _COUNT.unpack_from(body, offset)
    offset += _COUNT.size
    marks = {}
    for _ in range(count):
        slot, points, time_us = _MARK.unpack_from(body, offset)
        marks[slot] = (points, time_us)
        offset += _MARK.size
    return marks, offset


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """The pending batches of one process; thread-safe, every write durable on return."""

    def __init__(
        self, directory: Path, name: str = "main", summarize: Callable[[], bytes] | None = None
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.path = directory / f"{name}.log"
        self._tmp_path = directory / f"{name}.log.tmp"
        self._lock = threading.Lock()
        self._lock_fd = os.open(directory / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise SpoolLocked(f"spool {self.path} is open in another process") from None
        self.summarize = summarize
        """Summarizes every batch acknowledged so far, for the CHECKPOINT a compaction
        writes; called under the spool's lock, from whichever thread acknowledges."""
        self.checkpoint: bytes | None = None
        """The last checkpoint found on open."""
        self.acknowledged_since: list[tuple[bytes, bytes]] = []
        """(batch, receipt) of the batches acknowledged after that checkpoint, found on
        open; the owner replays them once and may clear the list."""
        self.marks: Marks = {}
        """The newest mark of every tally slot any batch ever covered (see append)."""
        # batch id -> (offset of its payload in the file, payload length)
        self._pending: dict[int, tuple[int, int]] = {}
        self._next_id = 1
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        self._size = self._recover()
        pending_bytes = sum(n + _HEADER.size + _BODY_HEAD.size for _, n in self._pending.values())
        self._acked_bytes = self._size - pending_bytes

    def _recover(self) -> int:
        """Replay the file into the pending map; cut a torn tail; return the valid size."""
        data = os.pread(self._fd, os.fstat(self._fd).st_size, 0)
        batches: dict[int, tuple[int, int]] = {}  # every batch since the last checkpoint
        offset = 0
        while offset + _HEADER.size <= len(data):
            length, crc = _HEADER.unpack_from(data, offset)
            start, end = offset + _HEADER.size, offset + _HEADER.size + length
            if length < _BODY_HEAD.size or length > MAX_RECORD or end > len(data):
                break
            body = data[start:end]
            if zlib.crc32(body) != crc:
                break
            kind, batch_id = _BODY_HEAD.unpack_from(body)
            payload = (start + _BODY_HEAD.size, length - _BODY_HEAD.size)
            if kind in (MARKED_BATCH, MARKS):
                marks, at = _unpack_marks(body, _BODY_HEAD.size)
                self.marks.update(marks)
                payload = (start + at, length - at)
            if kind in (BATCH, MARKED_BATCH):
                self._pending[batch_id] = batches[batch_id] = payload
            elif kind == ACK:
                if self._pending.pop(batch_id, None) is not None:
                    at, size = batches[batch_id]
                    receipt = data[payload[0] : payload[0] + payload[1]]
                    self.acknowledged_since.append((data[at : at + size], receipt))
            elif kind == CHECKPOINT:
                self.checkpoint = data[payload[0] : payload[0] + payload[1]]
                self.acknowledged_since.clear()
            self._next_id = max(self._next_id, batch_id + 1)
            offset = end
        if offset != len(data):
            log.warning(
                "spool %s: ignoring a torn or corrupt tail of %d bytes at offset %d",
                self.path,
                len(data) - offset,
                offset,
            )
            os.ftruncate(self._fd, offset)
            os.fsync(self._fd)
        return offset

    def _write(self, record: bytes) -> int:
        offset = self._size
        os.pwrite(self._fd, record, offset)
        os.fsync(self._fd)
        self._size += len(record)
        return offset

    def append(self, payload: bytes, marks: Marks | None = None) -> int:
        """Durably store a batch; returns its id (increasing within this spool).

        With `marks`, the batch covers the tally up to them: they are stored in the same
        record, so after a crash the batch exists exactly when its marks do.
        """
        head = b"" if marks is None else _pack_marks(marks)
        if len(head) + len(payload) + _BODY_HEAD.size > MAX_RECORD:
            raise ValueError(f"batch of {len(payload)} bytes exceeds the spool record limit")
        with self._lock:
            batch_id = self._next_id
            self._next_id += 1
            kind = BATCH if marks is None else MARKED_BATCH
            offset = self._write(_record(kind, batch_id, head + payload))
            at = offset + _HEADER.size + _BODY_HEAD.size + len(head)
            self._pending[batch_id] = (at, len(payload))
            if marks:
                self.marks.update(marks)
            return batch_id

    def ack(self, batch_id: int, receipt: bytes = b"") -> None:
        """Durably mark a batch as delivered, keeping `receipt` (what the receiver
        answered) beside it; it is never returned by pending() again."""
        with self._lock:
            entry = self._pending.pop(batch_id, None)
            if entry is None:
                return
            if not self._pending and self.summarize is None and not self.marks:
                # Nothing left to resend: start the file over instead of logging an ack.
                os.ftruncate(self._fd, 0)
                os.fsync(self._fd)
                self._size = self._acked_bytes = 0
                return
            self._write(_record(ACK, batch_id, receipt))
            self._acked_bytes += entry[1] + len(receipt) + 2 * (_HEADER.size + _BODY_HEAD.size)
            limit = COMPACT_BYTES if self._pending else SETTLED_COMPACT_BYTES
            if self._size >= limit and self._acked_bytes * 2 >= self._size:
                self._compact()

    def _compact(self) -> None:
        """Rewrite only the pending batches, then atomically replace the file."""
        tmp = self._tmp_path
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        moved: dict[int, tuple[int, int]] = {}
        offset = 0
        try:
            if self.summarize is not None:
                # First, so that on open it stands for every batch acknowledged before.
                record = _record(CHECKPOINT, 0, self.summarize())
                os.pwrite(fd, record, offset)
                offset += len(record)
            if self.marks:
                # Before the batches, whose own (newer) marks then override these on open.
                record = _record(MARKS, 0, _pack_marks(self.marks))
                os.pwrite(fd, record, offset)
                offset += len(record)
            for batch_id in sorted(self._pending):
                payload = self._read(batch_id)
                record = _record(BATCH, batch_id, payload)
                os.pwrite(fd, record, offset)
                moved[batch_id] = (offset + _HEADER.size + _BODY_HEAD.size, len(payload))
                offset += len(record)
            os.fsync(fd)
            os.replace(tmp, self.path)
            _fsync_dir(self.directory)
        except BaseException:
            os.close(fd)
            raise
        os.close(self._fd)
        self._fd, self._pending, self._size, self._acked_bytes = fd, moved, offset, 0

    def _read(self, batch_id: int) -> bytes:
        offset, length = self._pending[batch_id]
        return os.pread(self._fd, length, offset)

    def pending_ids(self) -> list[int]:
        """Ids of the unacknowledged batches, oldest first."""
        with self._lock:
            return sorted(self._pending)

    def read(self, batch_id: int) -> bytes:
        """The payload of a pending batch (KeyError once acknowledged)."""
        with self._lock:
            return self._read(batch_id)

    def pending(self) -> Iterator[tuple[int, bytes]]:
        """The unacknowledged batches, oldest first; payloads are read lazily."""
        for batch_id in self.pending_ids():
            try:
                yield batch_id, self.read(batch_id)
            except KeyError:
                continue  # acknowledged meanwhile

    def dead_letter(self, batch_id: int, receipt: bytes = b"") -> Path:
        """Move a batch the receiver refuses for good aside (``<name>.dead/``) and ack it.

        Kept on disk for an operator rather than dropped: it is usage someone owes.
        """
        payload = self.read(batch_id)
        folder = self.path.with_suffix(".dead")
        folder.mkdir(exist_ok=True)
        target = folder / f"{time.time_ns()}-{batch_id}.pb"
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)
        _fsync_dir(folder)
        self.ack(batch_id, receipt)
        return target

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def size_bytes(self) -> int:
        """Bytes in the spool file."""
        return self._size

    def close(self) -> None:
        """Release the file and the directory lock (pending batches stay on disk)."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                os.close(self._lock_fd)  # closing the descriptor releases the flock
                self._fd = -1
