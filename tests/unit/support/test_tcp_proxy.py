"""The fault tests' TCP proxy: forwards both ways, cuts every connection, refuses, restores."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.support.tcp_proxy import LoopThread, TcpProxy


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def _roundtrip(
    port: int, payload: bytes
) -> tuple[bytes, asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    return await asyncio.wait_for(reader.readexactly(len(payload)), 5), reader, writer


async def test_forwards_cuts_refuses_and_restores(echo_port: int) -> None:
    proxy = TcpProxy("127.0.0.1", echo_port)
    await proxy.start()
    try:
        echoed, open_reader, open_writer = await _roundtrip(proxy.port, b"x" * 100_000)
        assert echoed == b"x" * 100_000

        await proxy.cut()
        assert proxy.cut_off
        # The open connection is reset, not left hanging.
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            open_writer.write(b"more")
            await open_writer.drain()
            await asyncio.wait_for(open_reader.readexactly(4), 5)
        open_writer.close()
        # New connections are refused while cut.
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", proxy.port)

        port = proxy.port
        await proxy.restore()
        assert proxy.port == port
        echoed, _, writer = await _roundtrip(proxy.port, b"back")
        assert echoed == b"back"
        writer.close()
        assert proxy.connections == 2
    finally:
        await proxy.close()


def test_a_proxy_runs_on_a_thread_of_its_own() -> None:
    thread = LoopThread()
    proxy = TcpProxy("127.0.0.1", 9)
    try:
        thread.run(proxy.start())
        assert proxy.port > 0
        thread.run(proxy.cut())
        assert proxy.cut_off
        thread.run(proxy.restore())
        assert not proxy.cut_off
    finally:
        thread.run(proxy.close())
        thread.close()
