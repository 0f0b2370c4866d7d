"""The lifecycle's schedules as `tickmesh status` prints them (from the Workflow service)."""

from __future__ import annotations

from datetime import UTC

import grpc
from tickmesh.workflow.v1 import lifecycle_pb2, lifecycle_pb2_grpc

from mesh.client_interceptors import api_key_interceptors
from mesh.config import MeshConfig
from mesh.transport import aio_channel


async def schedule_lines(
    address: str, operator_key: str, timeout_s: float = 3.0, config: MeshConfig | None = None
) -> list[str]:
    """One line per schedule: last run (business time, status, what it did) and next run;
    one line saying why when the Workflow service cannot tell."""
    interceptors = api_key_interceptors(operator_key)
    config = config if config is not None else MeshConfig(tls_insecure=True)
    async with aio_channel(address, config, interceptors=interceptors) as channel:
        stub = lifecycle_pb2_grpc.LifecycleServiceStub(channel)
        try:
            reply = await stub.ListSchedules(
                lifecycle_pb2.ListSchedulesRequest(), timeout=timeout_s
            )
            clock = await stub.GetClock(lifecycle_pb2.GetClockRequest(), timeout=timeout_s)
        except grpc.aio.AioRpcError as err:
            return [f"schedules unavailable: {err.code().name}: {err.details()} ({address})"]
    return format_schedules(reply, clock)


def format_schedules(
    reply: lifecycle_pb2.ListSchedulesResponse, clock: lifecycle_pb2.GetClockResponse
) -> list[str]:
    now = clock.now.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M")
    test = " (test clock)" if clock.test_clock else ""
    lines = [f"lifecycle (business time {now} UTC{test}):"]
    for info in reply.schedules:
        nxt = info.next_run_at.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M")
        if info.HasField("last_run"):
            run = info.last_run
            at = run.as_of.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M")
            last = f"last {at} {run.status}" + (f": {run.summary}" if run.summary else "")
        else:
            last = "never run"
        lines.append(f"  {info.schedule:<22} next {nxt}  {last}")
    return lines
