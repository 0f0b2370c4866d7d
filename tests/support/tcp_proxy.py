"""A loopback TCP proxy for fault tests: forwards to a server and can cut it off on demand."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class TcpProxy:
    """Listens on a loopback port and forwards every connection to `target`.

    `cut()` resets every open connection and closes the listener, so new connections
    are refused as by a server that is down; `restore()` listens again on the same port.
    """

    def __init__(self, target_host: str, target_port: int, *, port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.port = port
        self.connections = 0
        """Connections accepted and forwarded so far."""
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._pumps: set[asyncio.Task[None]] = set()

    @property
    def cut_off(self) -> bool:
        return self._server is None

    async def start(self) -> None:
        """Listen (on a free port the first time, on the same port after a cut)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Reset every forwarded connection and refuse new ones until `restore()`."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._open):
            # abort() sends RST: the client sees its connection reset, as when the
            # server's host goes away, not an orderly close it could mistake for EOF.
            writer.transport.abort()
        self._open.clear()
        if server is not None:
            await server.wait_closed()

    async def restore(self) -> None:
        """Accept connections again on the same port."""
        if self._server is None:
            await self.start()

    async def close(self) -> None:
        await self.cut()
        for pump in list(self._pumps):
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._server is None:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._open |= {writer, up_writer}
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer)),
            asyncio.create_task(self._pump(up_reader, writer)),
        ]
        self._pumps.update(pumps)
        try:
            await asyncio.gather(*pumps, return_exceptions=True)
        finally:
            self._pumps.difference_update(pumps)
            for end in (writer, up_writer):
                self._open.discard(end)
                end.transport.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            # Either direction ending ends the pair: a half-open proxy would hide a
            # dead peer from the other side.
            with contextlib.suppress(OSError, RuntimeError):
                writer.transport.abort()


class LoopThread:
    """An event loop in a thread of its own, so a proxy keeps forwarding however busy the
    caller's loop is (a lagging proxy would add its lag to every query it carries)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float = 10.0) -> T:
        """Run `coro` on the thread's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()
