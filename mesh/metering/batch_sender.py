"""Periodic batches through a spool to a Storage RPC: spooled (fsynced), sent oldest first,
acknowledged only once Storage answered, resent by the next run when it did not.

For any producer whose batch is one serialized request (Ingestion's broker samples, the
Bridge's SLA samples and stream minutes): the producer's `take` returns the next
payload (or None), `send` delivers one and returns how many items Storage accepted. A
batch Storage refuses as invalid (INVALID_ARGUMENT) is dead-lettered, not retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import grpc

from mesh.backoff import Backoff
from mesh.metering.spool import Spool

log = logging.getLogger(__name__)

Take = Callable[[], bytes | None]
Send = Callable[[bytes], Awaitable[int]]


class SpooledBatches:
    """Spools what `take` returns every `flush_s` and delivers it with `send`."""

    def __init__(
        self,
        what: str,
        take: Take,
        spool: Spool,
        send: Send,
        *,
        flush_s: float,
        backoff: Backoff | None = None,
        take_last: Take | None = None,
    ) -> None:
        self._what = what
        self._take = take
        self._take_last = take_last or take
        """What is taken when stopping (a producer may hand over more then)."""
        self.spool = spool
        self._send = send
        self._flush_s = flush_s
        self._backoff = backoff or Backoff(initial_s=0.5, max_s=5.0, jitter=0.5)
        self.sent = 0
        """Items Storage accepted (this run)."""

    async def flush(self) -> None:
        """Spool the batch taken now, if any (fsynced off the event loop)."""
        payload = self._take()
        if payload is not None:
            await asyncio.to_thread(self.spool.append, payload)

    async def deliver(self) -> None:
        """Send every pending batch, oldest first; raises while Storage is unreachable."""
        for batch_id, payload in list(self.spool.pending()):
            try:
                accepted = await self._send(payload)
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.INVALID_ARGUMENT:
                    raise
                path = await asyncio.to_thread(
                    self.spool.dead_letter, batch_id, (exc.details() or "").encode()
                )
                log.error("Storage refused a batch of %s; kept in %s", self._what, path)
                continue
            await asyncio.to_thread(self.spool.ack, batch_id)
            self.sent += accepted

    async def run(self) -> None:
        """Flush and deliver every flush_s until cancelled, backing off while Storage is down."""
        failures = 0
        try:
            while True:
                await asyncio.sleep(
                    self._flush_s if not failures else self._backoff.delay(failures)
                )
                await self.flush()
                try:
                    await self.deliver()
                except grpc.aio.AioRpcError as exc:
                    if not failures:
                        log.warning("%s wait in the spool: Storage %s", self._what, exc.code().name)
                    failures += 1
                    continue
                if failures:
                    log.info("%s delivered again after %d failed attempts", self._what, failures)
                failures = 0
        finally:
            # Stopping: what was measured since the last flush waits in the spool for the
            # next run, and the spool's lock is released for it.
            payload = self._take_last()
            if payload is not None:
                self.spool.append(payload)
            self.spool.close()
