"""Chunk: projected ticks a tier's feed emits together, shared by every session of a group."""

from __future__ import annotations

from mesh import wire
from servers.bridge.projection import Entry


class Chunk:
    """Projected ticks emitted together (sorted by sequence), and the upstream sequence
    they complete. Shared by every session of a group: never mutated once queued."""

    __slots__ = ("_prefix", "entries", "last_seq")

    def __init__(self, entries: list[Entry], last_seq: int) -> None:
        self.entries = entries
        self.last_seq = last_seq
        self._prefix: bytes | None = None

    def batch_prefix(self) -> bytes:
        """This chunk as a TickBatch without its send time, joined once for all sessions."""
        if self._prefix is None:
            ticks = b"".join([entry[2] for entry in self.entries])
            self._prefix = wire.tick_batch_prefix(ticks, self.entries[0][0], self.last_seq)
        return self._prefix
