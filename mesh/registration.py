"""Self-registration with the Hub: register once SERVING, heartbeat, re-register, deregister.

Every tickmesh server with `hub_address` configured runs one Registrar. It never
crashes its server: while the Hub is down it retries with a capped back-off, and
when the Hub answers NOT_FOUND (the lease lapsed, or the Hub restarted) it
registers again. Calls are signed as the service itself (a SERVICE principal).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable

import grpc
from tickmesh.hub.v1 import hub_pb2, hub_pb2_grpc

from mesh.backoff import Backoff
from mesh.config import MeshConfig, join_host_port
from mesh.lifecycle import cancel
from mesh.protoconv import tier_to_proto
from mesh.tiers import Tier

_log = logging.getLogger(__name__)

ChannelFactory = Callable[[str], grpc.aio.Channel]
"""Opens a channel to an address whose calls are signed as this service
(MeshChannels.service_channel)."""

CALL_TIMEOUT_S = 2.0
DEREGISTER_TIMEOUT_S = 1.0
# Capped and jittered, so instances restarted together do not stampede the Hub.
REGISTRATION_BACKOFF = Backoff(initial_s=0.2, max_s=5.0, jitter=0.4)


def new_instance_id(component: str) -> str:
    """A fresh instance id, `<component>-<8 hex>`, unique across the mesh."""
    return f"{component}-{secrets.token_hex(4)}"


def advertised_address(config: MeshConfig, port: int) -> str:
    """Where the Hub and routed clients reach this server: instance_address when set,
    else the bind host (loopback for a wildcard bind) and the bound port."""
    if config.instance_address:
        return config.instance_address
    host = "127.0.0.1" if config.host in ("0.0.0.0", "::", "") else config.host
    return join_host_port(host, port)


def instance_spec(
    config: MeshConfig, component: str, instance_id: str, address: str
) -> hub_pb2.InstanceSpec:
    """What this server declares about itself, from the `instance_*` settings; a pooled
    server (instance_pool) declares its pool's tiers and takes free tenants only if free
    is one of them."""
    pool = config.instance_pool
    tiers = pool or config.instance_tiers
    return hub_pb2.InstanceSpec(
        instance_id=instance_id,
        service=component,
        address=address,
        zone=config.instance_zone,
        tiers=[tier_to_proto(Tier(name)) for name in tiers],
        capacity=config.instance_capacity,
        free_tier_allowed="free" in pool if pool else config.instance_free_tier,
        cost_per_request_micros=config.instance_cost_micros,
        tier_pool=bool(pool),
        public_address=config.instance_public_address or "",
    )


class Registrar:
    """Keeps one instance registered at the Hub while its server runs."""

    def __init__(
        self,
        *,
        spec: hub_pb2.InstanceSpec,
        hub_address: str,
        channel_factory: ChannelFactory,
        ttl_s: float,
        active_sessions: Callable[[], int] = lambda: 0,
        backoff: Backoff = REGISTRATION_BACKOFF,
    ) -> None:
        self.spec = spec
        self.hub_address = hub_address
        self._channel_factory = channel_factory
        self._ttl_s = ttl_s
        self._active_sessions = active_sessions
        self._backoff = backoff
        self._attempt = 0  # failed calls in a row
        self.lease_id: str | None = None
        """The current lease, None while unregistered."""
        self.registered = asyncio.Event()
        """Set whenever a Register succeeds (tests wait on it); cleared when the lease is lost."""
        self._interval_s = max(0.1, ttl_s / 3)
        self._channel: grpc.aio.Channel | None = None
        self._task: asyncio.Task[None] | None = None
        self._failing: tuple[grpc.StatusCode, int] | None = None  # (code, log level)
        self._ttl_granted_s = ttl_s
        self._lease_confirmed = 0.0  # time.monotonic() of start(), the last Register or Heartbeat

    @property
    def instance_id(self) -> str:
        return self.spec.instance_id

    def start(self) -> None:
        """Start registering and heartbeating in the background (call once SERVING)."""
        if self._task is None:
            self._lease_confirmed = time.monotonic()  # out of rotation from now until Register
            self._channel = self._channel_factory(self.hub_address)
            self._task = asyncio.create_task(self._run(), name=f"registrar {self.instance_id}")

    async def stop(self, *, deregister: bool = True) -> None:
        """Stop heartbeating and (by default) deregister, bounded by a short timeout.

        With deregister=False the lease is left to lapse, as if the process had died.
        """
        task, self._task = self._task, None
        await cancel(task)
        if deregister and self.lease_id is not None and self._channel is not None:
            try:
                await self._stub().Deregister(
                    hub_pb2.DeregisterRequest(lease_id=self.lease_id),
                    timeout=DEREGISTER_TIMEOUT_S,
                )
                _log.info("deregistered %s from the Hub", self.instance_id)
            except grpc.aio.AioRpcError as err:
                # The lease lapses by itself; a stopping server must not wait on the Hub.
                _log.info("could not deregister %s: %s", self.instance_id, err.code().name)
        self.lease_id = None
        self.registered.clear()
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    def _stub(self) -> hub_pb2_grpc.HubServiceStub:
        assert self._channel is not None
        return hub_pb2_grpc.HubServiceStub(self._channel)

    async def _run(self) -> None:
        while True:
            try:
                if self.lease_id is None:
                    await self._register()
                else:
                    await self._heartbeat()
                self._attempt = 0
                self._lease_confirmed = time.monotonic()
                self._recovered()
                delay = self._interval_s
            except grpc.aio.AioRpcError as err:
                if err.code() == grpc.StatusCode.NOT_FOUND:
                    # The lease lapsed (a long Hub outage, or the Hub restarted): register
                    # again at once; the instance is absent from routing until then.
                    _log.info("lease of %s is gone; registering again", self.instance_id)
                    self.lease_id = None
                    self.registered.clear()
                    delay = 0.0
                else:
                    self._failed(err)
                    delay = self._backoff.delay(self._attempt)
                    self._attempt += 1
            await asyncio.sleep(delay)

    async def _register(self) -> None:
        reply = await self._stub().Register(
            hub_pb2.RegisterRequest(spec=self.spec, ttl_seconds=round(self._ttl_s)),
            timeout=CALL_TIMEOUT_S,
        )
        self.lease_id = reply.lease_id
        # Heartbeat well inside the TTL the Hub granted, which may differ from the ask.
        self._ttl_granted_s = reply.ttl_seconds or self._ttl_s
        self._interval_s = max(0.1, self._ttl_granted_s / 3)
        self.registered.set()
        _log.info(
            "registered %s (%s) at the Hub %s, lease TTL %ss",
            self.instance_id, self.spec.address, self.hub_address, reply.ttl_seconds,
        )  # fmt: skip

    async def _heartbeat(self) -> None:
        assert self.lease_id is not None
        await self._stub().Heartbeat(
            hub_pb2.HeartbeatRequest(
                lease_id=self.lease_id, active_sessions=self._active_sessions()
            ),
            timeout=CALL_TIMEOUT_S,
        )

    def _failed(self, err: grpc.aio.AioRpcError) -> None:
        # A Hub out of reach for less than a lease TTL costs nothing yet: while our lease
        # runs it still routes here, and a Hub that is starting (`up` starts every service
        # at once), restarting or stopped before us (`up`'s ordered stop) is back, or we are
        # gone, within it. So INFO; WARNING once we have been out of its rotation that long,
        # or at once when it refuses us (retrying will not fix a misconfiguration).
        transient = err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
        out_for = time.monotonic() - self._lease_confirmed
        level = logging.INFO if transient and out_for < self._ttl_granted_s else logging.WARNING
        # One log line per kind of failure, not one per retry.
        if (err.code(), level) != self._failing:
            self._failing = (err.code(), level)
            _log.log(
                level,
                "Hub %s refused or unreachable for %s; retrying",
                self.hub_address, self.instance_id,
                extra={"code": err.code().name, "details": err.details()},
            )  # fmt: skip

    def _recovered(self) -> None:
        if self._failing is not None:
            _log.info("Hub %s reachable again for %s", self.hub_address, self.instance_id)
            self._failing = None
