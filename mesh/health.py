"""grpc.health.v1 as every tickmesh server serves it: Check, Watch and List.

Built on the generated public base with state of its own; grpc's reference aio
servicer is followed for Check and Watch, and extended in two ways. `List`
answers (the reference leaves it UNIMPLEMENTED), with the server's own services
plus any a list source adds (the Hub lists every instance it knows). And Watch
streams end by themselves once a stop has begun and they have sent NOT_SERVING,
so a graceful stop does not wait its whole grace period for watchers that would
never hang up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ServingStatus: TypeAlias = health_pb2.HealthCheckResponse.ServingStatus
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
_MAX_LISTED = 1000

ListSource = Callable[[], Mapping[str, "ServingStatus"]]
"""Extra names and statuses for List, computed when List is called."""


class _Watchers:
    """The open Watch streams of one service name, woken on each of its changes."""

    __slots__ = ("changed", "count")

    def __init__(self) -> None:
        self.changed = asyncio.Condition()
        self.count = 0


class MeshHealthServicer(health_pb2_grpc.HealthServicer):
    """Check, Watch and List over statuses set with `set`; the overall status ("")
    starts SERVING, as in grpc's reference servicer."""

    def __init__(self) -> None:
        self._statuses: dict[str, ServingStatus] = {"": _SERVING}
        self._watchers: dict[str, _Watchers] = {}
        self._shutting_down = False
        self._closing = False
        self._list_sources: list[ListSource] = []

    async def set(self, service: str, status: ServingStatus) -> None:
        """Set the status of `service` ("" for the whole server); ignored once
        enter_graceful_shutdown has been called."""
        if not self._shutting_down:
            await self._set(service, status)

    async def enter_graceful_shutdown(self) -> None:
        """Set every service NOT_SERVING, for good: later `set` calls are ignored."""
        if self._shutting_down:
            return
        self._shutting_down = True
        for service in list(self._statuses):
            await self._set(service, _NOT_SERVING)

    async def close_watches(self) -> None:
        """End every Watch stream after it has sent its latest status (call after
        enter_graceful_shutdown)."""
        self._closing = True
        for watchers in list(self._watchers.values()):
            async with watchers.changed:
                watchers.changed.notify_all()

    def add_list_source(self, source: ListSource) -> None:
        """Add names (not Check-able, List only) to what List answers."""
        self._list_sources.append(source)

    async def _set(self, service: str, status: ServingStatus) -> None:
        self._statuses[service] = status
        watchers = self._watchers.get(service)
        if watchers is not None:
            async with watchers.changed:
                watchers.changed.notify_all()

    # -- the RPCs -------------------------------------------------------------------

    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        status = self._statuses.get(request.service)
        if status is None:
            await context.abort(grpc.StatusCode.NOT_FOUND)  # raises
        return health_pb2.HealthCheckResponse(status=status)

    async def Watch(self, request: health_pb2.HealthCheckRequest, context: Any) -> None:
        service = request.service
        watchers = self._watchers.get(service)
        if watchers is None:
            watchers = self._watchers[service] = _Watchers()
        watchers.count += 1
        sent = None
        try:
            while True:
                status = self._statuses.get(service, _UNKNOWN)
                if status != sent:
                    await context.write(health_pb2.HealthCheckResponse(status=status))
                    sent = status
                    continue  # it may have changed again while the write waited
                # Only once the latest status is sent: a watcher always sees NOT_SERVING
                # before its stream ends.
                if self._closing:
                    return
                # Nothing awaits between the read above and the wait (an uncontended
                # lock is taken at once), so no change can slip in unnoticed.
                async with watchers.changed:
                    await watchers.changed.wait()
        finally:
            watchers.count -= 1
            if watchers.count == 0:
                del self._watchers[service]

    async def List(
        self, request: health_pb2.HealthListRequest, context: grpc.aio.ServicerContext
    ) -> health_pb2.HealthListResponse:
        statuses = dict(self._statuses)
        for source in self._list_sources:
            for name, status in source().items():
                statuses.setdefault(name, status)
        if len(statuses) > _MAX_LISTED:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "too many services")
        return health_pb2.HealthListResponse(
            statuses={
                name: health_pb2.HealthCheckResponse(status=status)
                for name, status in statuses.items()
            }
        )
