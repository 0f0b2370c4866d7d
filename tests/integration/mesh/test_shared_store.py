"""The shared Redis `up` starts, as real redis-server and fakeredis processes."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mesh.config import MeshConfig, load_config, load_settings
from mesh.shared_store import (
    FAKEREDIS,
    REDIS_SERVER,
    SECTION,
    SharedStore,
    StoreFailed,
    StoreSettings,
    choose_server,
    ping,
    shared_store,
    start_store,
    store_environment,
)
from mesh.supervisor import RestartPolicy, run_together
from mesh.tenancy.quota import CallQuota, QuotaStore
from mesh.tiers import Tier, limits
from tests.waiting import eventually

SERVERS = [REDIS_SERVER, FAKEREDIS]


@pytest.fixture(params=SERVERS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SharedStore]:
    """A running store of each kind, on its own data dir; stopped after the test."""
    started = await start_store(
        MeshConfig(tls_insecure=True, data_dir=tmp_path), StoreSettings(server=request.param)
    )
    try:
        yield started
    finally:
        started.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


async def test_two_connections_share_one_daily_quota(store: SharedStore) -> None:
    assert await ping(store.url)
    # Two stores, two connection pools: as two services of the mesh would be.
    first = await QuotaStore.connect(store.url)
    second = await QuotaStore.connect(store.url)
    try:
        limit = limits(Tier.FREE).daily_api_calls
        assert limit == 1000
        # Concurrent, but bounded: fakeredis's TCP server (a thread per connection)
        # slows down past a few dozen connections (~1,500 calls/s at 8, ~500 at 32).
        bound = asyncio.Semaphore(16)

        async def check(quota: QuotaStore) -> CallQuota:
            async with bound:
                return await quota.check_call("acme", Tier.FREE)

        outcomes = await asyncio.gather(*(check(q) for q in (first, second) for _ in range(550)))
        assert sum(q.allowed for q in outcomes) == limit
        assert (await second.call_usage("acme", Tier.FREE)).used == limit
        # The stream-lease script too: one free slot, taken through the other connection.
        held = await first.acquire_stream("acme", Tier.FREE, "lease-1", ttl_s=30)
        refused = await second.acquire_stream("acme", Tier.FREE, "lease-2", ttl_s=30)
        assert held.allowed and not refused.allowed and refused.active == 1
    finally:
        await first.aclose()
        await second.aclose()


async def test_stop_leaves_nothing_running(store: SharedStore) -> None:
    assert store.process is not None
    pid = store.process.pid
    assert store.stop() == 0  # a clean exit on SIGTERM (redis-server fsyncs its AOF)
    assert not _alive(pid)
    assert _port_free(store.port)
    assert not await ping(store.url, timeout_s=0.5)


async def test_redis_server_keeps_the_counters_over_a_restart(tmp_path: Path) -> None:
    # A mesh restart must not hand every tenant a fresh daily quota.
    config, settings = (
        MeshConfig(tls_insecure=True, data_dir=tmp_path),
        StoreSettings(server=REDIS_SERVER),
    )
    first = await start_store(config, settings)
    quota = await QuotaStore.connect(first.url)
    for _ in range(3):
        await quota.check_call("acme", Tier.FREE)
    await quota.aclose()
    first.stop()

    second = await start_store(config, settings)  # another port, the same files
    try:
        quota = await QuotaStore.connect(second.url)
        assert (await quota.call_usage("acme", Tier.FREE)).used == 3
        await quota.aclose()
    finally:
        second.stop()
    assert (tmp_path / "redis" / "appendonlydir").is_dir()
    assert "Ready to accept connections" in (tmp_path / "redis" / "redis.log").read_text()


async def test_a_killed_store_is_restarted_on_its_address_and_clients_reconnect(
    tmp_path: Path,
) -> None:
    store = await start_store(
        MeshConfig(tls_insecure=True, data_dir=tmp_path), StoreSettings(server=REDIS_SERVER)
    )
    said: list[str] = []
    supervision = asyncio.ensure_future(
        run_together(
            store.supervisor(
                changed=lambda: None,
                say=said.append,
                policy=RestartPolicy(restart_backoff_seconds=0.05),
            ).run()
        )
    )
    quota = await QuotaStore.connect(store.url)
    try:
        await quota.check_call("acme", Tier.FREE)
        assert store.process is not None
        killed = store.process.pid
        os.kill(killed, signal.SIGKILL)
        await eventually(
            lambda: store.process is not None and store.process.pid != killed, "a new store"
        )
        await eventually(lambda: any("SERVING again" in line for line in said), "it is back")
        # The same URL still works: the client reconnects, and the AOF kept the count.
        assert (await quota.check_call("acme", Tier.FREE)).used == 2
        assert store.restarts == 1 and store.last_exit == "killed by SIGKILL"
        assert said[0].startswith(f"redis (pid {killed}) killed by SIGKILL; restarting it")
    finally:
        await quota.aclose()
        supervision.cancel()
        await asyncio.gather(supervision, return_exceptions=True)
        store.stop()


async def test_a_busy_port_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StoreFailed) as caught:
            await start_store(
                MeshConfig(tls_insecure=True, data_dir=tmp_path), StoreSettings(port=port)
            )
    assert str(caught.value).startswith(f"port {port} (shared store) on 127.0.0.1 is not free")
    assert "TICKMESH_SHARED_STORE_PORT" in str(caught.value)
    assert not (tmp_path / "redis").exists()  # nothing was started


async def test_a_store_that_cannot_start_says_why(tmp_path: Path) -> None:
    # A data dir redis-server cannot write its AOF in: it exits, and its last log line
    # is the error.
    (tmp_path / "redis").mkdir()
    (tmp_path / "redis" / "appendonlydir").write_text("not a directory")
    with pytest.raises(StoreFailed) as caught:
        await start_store(
            MeshConfig(tls_insecure=True, data_dir=tmp_path), StoreSettings(server=REDIS_SERVER)
        )
    message = str(caught.value)
    assert message.startswith("redis-server on 127.0.0.1:") and "before it answered: " in message
    assert "appendonlydir" in message


async def test_a_configured_redis_url_starts_nothing(tmp_path: Path) -> None:
    config = MeshConfig(tls_insecure=True, data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/0")
    async with shared_store(config, StoreSettings()) as store:
        assert store is None
        assert store_environment(store) == {}
    assert not (tmp_path / "redis").exists()


async def test_the_services_get_the_store_url(tmp_path: Path) -> None:
    async with shared_store(
        MeshConfig(tls_insecure=True, data_dir=tmp_path), StoreSettings()
    ) as store:
        assert store is not None
        assert store_environment(store) == {"TICKMESH_REDIS_URL": store.url}
        assert load_config(env=store_environment(store)).redis_url == store.url
        process = store.process
    assert process is not None and process.returncode == 0  # stopped with the block


def test_auto_prefers_redis_server_and_falls_back_to_fakeredis(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert choose_server("auto") == REDIS_SERVER  # on PATH on every machine we test on
    assert choose_server(FAKEREDIS) == FAKEREDIS
    monkeypatch.setenv("PATH", "/nonexistent")
    assert choose_server("auto") == FAKEREDIS


def test_the_store_is_a_settings_section() -> None:
    env = {"TICKMESH_SHARED_STORE_SERVER": "fakeredis", "TICKMESH_SHARED_STORE_PORT": "6390"}
    settings = load_settings(StoreSettings, load_config(env=env), SECTION)
    assert settings == StoreSettings(server=FAKEREDIS, port=6390)
    assert load_settings(StoreSettings, load_config(env={}), SECTION) == StoreSettings()


async def test_ping_is_false_where_nothing_listens() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert not await ping(f"redis://127.0.0.1:{port}/0", timeout_s=0.5)
