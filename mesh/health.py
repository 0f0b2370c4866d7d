"""grpc.health.v1 as every tickmesh server serves it: Check, Watch and List.

Extends grpc's reference aio servicer in two ways. `List` answers (the
reference leaves it UNIMPLEMENTED), with the server's own services plus any a
list source adds (the Hub lists every instance it knows). And Watch streams end by themselves once a
stop has begun and they have sent NOT_SERVING, so a graceful stop does not
wait its whole grace period for watchers that would never hang up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import grpc
from grpc_health.v1 import health_pb2
from grpc_health.v1._async import HealthServicer

_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
_MAX_LISTED = 1000

ListSource = Callable[[], Mapping[str, "health_pb2.HealthCheckResponse.ServingStatus"]]
"""Extra names and statuses for List, computed when List is called."""


class MeshHealthServicer(HealthServicer):
    """The reference aio health servicer plus List and closable Watch streams."""

    def __init__(self) -> None:
        super().__init__()
        self._closing = False
        self._list_sources: list[ListSource] = []

    def add_list_source(self, source: ListSource) -> None:
        """Add names (not Check-able, List only) to what List answers."""
        self._list_sources.append(source)

    async def Watch(self, request: health_pb2.HealthCheckRequest, context: Any) -> None:
        condition = self._server_watchers[request.service]
        self._watcher_count_by_service[request.service] += 1
        last_status = None
        try:
            async with condition:
                while True:
                    status = self._server_status.get(request.service, _UNKNOWN)
                    if status != last_status:
                        await context.write(health_pb2.HealthCheckResponse(status=status))
                        last_status = status
                    # Checked after the write: a watcher always sees NOT_SERVING before
                    # its stream ends.
                    if self._closing:
                        return
                    await condition.wait()
        finally:
            self._watcher_count_by_service[request.service] -= 1
            if self._watcher_count_by_service[request.service] == 0:
                del self._server_watchers[request.service]
                del self._watcher_count_by_service[request.service]

    async def List(
        self, request: health_pb2.HealthListRequest, context: grpc.aio.ServicerContext
    ) -> health_pb2.HealthListResponse:
        statuses = dict(self._server_status)
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

    async def close_watches(self) -> None:
        """End every Watch stream after it has sent its latest status (call after
        enter_graceful_shutdown)."""
        self._closing = True
        for condition in list(self._server_watchers.values()):
            async with condition:
                condition.notify_all()
