"""Chunk: projected ticks a tier's feed emits together, shared by every session of a group."""

from __future__ import annotations

from mesh import wire
from servers.bridge.projection import Entry


class Chunk:
    """Projected ticks emitted together (sorted by sequence), and the upstream sequence
    they complete. Shared by every session of a group: never mutated once queued.

    `held`: its ticks waited by design (a throttle flush, a resume's catch-up), so its
    latency is no measure of the pipeline (the SLA sampler leaves it out)."""

    __slots__ = ("_prefix", "entries", "held", "last_seq")

    def __init__(self, entries: list[Entry], last_seq: int, held: bool = False) -> None:
        self.entries = entries
        self.last_seq = last_seq
        self.held = held
        self._prefix: bytes | None = None

    def batch_prefix(self) -> bytes:
        """This chunk as a TickBatch without its send time, joined once for all sessions."""
        if self._prefix is None:
            ticks = b"".join([entry[2] for entry in self.entries])
            self._prefix = wire.tick_batch_prefix(ticks, self.entries[0][0], self.last_seq)
        return self._prefix
