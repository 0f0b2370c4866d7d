"""Active health checking: the Hub watches every registered instance's grpc.health.v1 status.

Per instance, two loops share its channel: a Watch stream on service "" that
pushes every status change at once (and fails at once when the connection
drops), and a Check every second with a 1 s deadline that catches an instance
that hangs while its connection stays open (two misses in a row), and whose
round trip is the instance's routing latency. Only SERVING is in rotation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mesh.channel_pool import ChannelPool
from mesh.lifecycle import cancel
from servers.hub.registry import Event, EventType, Health, Instance, Registry

_log = logging.getLogger(__name__)

_SERVING = health_pb2.HealthCheckResponse.SERVING
LATENCY_ALPHA = 0.3
"""Weight of the newest probe in an instance's latency moving average."""


def _health_of(status: int) -> Health:
    return Health.SERVING if status == _SERVING else Health.NOT_SERVING


class HealthWatcher:
    """Keeps each instance's Health in the registry current."""

    def __init__(
        self,
        registry: Registry,
        channels: ChannelPool,
        *,
        probe_interval_s: float = 1.0,
        probe_timeout_s: float = 1.0,
        probe_misses: int = 2,
        retry_s: tuple[float, float] = (0.1, 1.0),
    ) -> None:
        self._registry = registry
        self._channels = channels
        self._probe_interval_s = probe_interval_s
        self._probe_timeout_s = probe_timeout_s
        self._probe_misses = probe_misses
        self.measure_latency = True
        """Whether probes feed the instances' routing latency (tests that assert routing
        choices turn it off: on a busy shared machine round trips are noise)."""
        self._retry_s = retry_s
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._started = False

    def start(self) -> None:
        """Watch every instance registered now and from now on."""
        if self._started:
            return
        self._started = True
        self._registry.add_listener(self._on_event)
        for instance in self._registry.instances():
            self._watch(instance.instance_id, instance.spec.address, instance.spec.service)

    async def stop(self) -> None:
        """Stop every watch."""
        self._started = False
        tasks, self._tasks = list(self._tasks.values()), {}
        await cancel(*tasks)

    def _on_event(self, event: Event) -> None:
        if not self._started or event.instance is None:
            return
        instance = event.instance
        if event.type is EventType.ADDED:
            self._watch(instance.instance_id, instance.spec.address, instance.spec.service)
        elif event.type is EventType.REMOVED:
            task = self._tasks.pop(instance.instance_id, None)
            if task is not None:
                task.cancel()
            # Another live instance may have taken over the address (a restart).
            if not any(i.spec.address == instance.spec.address for i in self._registry.instances()):
                self._channels.release(instance.spec.address)

    def _watch(self, instance_id: str, address: str, service: str) -> None:
        if instance_id not in self._tasks:
            self._tasks[instance_id] = asyncio.create_task(
                self._run(instance_id, address, service), name=f"health {instance_id}"
            )

    async def _run(self, instance_id: str, address: str, service: str) -> None:
        await asyncio.gather(
            self._watch_loop(instance_id, address, service),
            self._probe_loop(instance_id, address, service),
        )

    async def _watch_loop(self, instance_id: str, address: str, service: str) -> None:
        delay = self._retry_s[0]
        while True:
            stub = health_pb2_grpc.HealthStub(self._channels.channel(address, service))
            call = stub.Watch(health_pb2.HealthCheckRequest(service=""))
            last: Health | None = None
            try:
                async for reply in call:
                    last = _health_of(reply.status)
                    self._registry.set_health(instance_id, last)
                    delay = self._retry_s[0]
                # A clean end: the instance is stopping and said NOT_SERVING first.
                if last is not Health.NOT_SERVING:
                    self._registry.set_health(instance_id, Health.UNREACHABLE)
            except grpc.aio.AioRpcError as err:
                _log.debug("health watch of %s failed: %s", instance_id, err.code().name)
                self._registry.set_health(instance_id, Health.UNREACHABLE)
            finally:
                call.cancel()
            await asyncio.sleep(delay)
            delay = min(self._retry_s[1], delay * 2)

    async def _probe_loop(self, instance_id: str, address: str, service: str) -> None:
        loop = asyncio.get_running_loop()
        misses = 0
        while True:
            stub = health_pb2_grpc.HealthStub(self._channels.channel(address, service))
            started = loop.time()
            try:
                reply = await stub.Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=self._probe_timeout_s
                )
            except grpc.aio.AioRpcError as err:
                # UNAVAILABLE is the Watch loop's to report. A timeout is a hang, once it
                # repeats: one slow answer on a busy machine must not flap the instance.
                if err.code() != grpc.StatusCode.UNAVAILABLE:
                    misses += 1
                    if misses >= self._probe_misses:
                        self._registry.set_health(instance_id, Health.UNREACHABLE)
            else:
                misses = 0
                self._observe_latency(instance_id, (loop.time() - started) * 1000)
                self._registry.set_health(instance_id, _health_of(reply.status))
            await asyncio.sleep(self._probe_interval_s)

    def _observe_latency(self, instance_id: str, sample_ms: float) -> None:
        # The probe's round trip is the routing latency: the same small call to every
        # instance, so it compares network distance and how busy each one's loop is.
        instance = self._registry.get(instance_id)
        if instance is not None and self.measure_latency:
            previous = instance.latency_ms
            instance.latency_ms = (
                sample_ms if previous is None else previous + LATENCY_ALPHA * (sample_ms - previous)
            )


def listed_statuses(
    registry: Registry, healthy: Callable[[Instance], bool]
) -> dict[str, health_pb2.HealthCheckResponse.ServingStatus]:
    """For the Hub's health List: `<service>/<instance id>` per instance, and `<service>`
    (SERVING while at least one of its instances is in rotation)."""
    out: dict[str, health_pb2.HealthCheckResponse.ServingStatus] = {}
    for instance in registry.instances():
        in_rotation = healthy(instance)
        if in_rotation:
            status = _SERVING
        elif instance.health is Health.UNSPECIFIED:
            status = health_pb2.HealthCheckResponse.UNKNOWN
        else:
            status = health_pb2.HealthCheckResponse.NOT_SERVING
        out[f"{instance.service}/{instance.instance_id}"] = status
        if in_rotation or out.get(instance.service) != _SERVING:
            out[instance.service] = (
                _SERVING if in_rotation else health_pb2.HealthCheckResponse.NOT_SERVING
            )
    return out
