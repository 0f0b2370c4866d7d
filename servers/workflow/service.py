"""The LifecycleService servicer: a thin adapter over the test clock and the schedules."""

from __future__ import annotations

import grpc
from tickmesh.workflow.v1 import lifecycle_pb2

from mesh.errors import FieldViolation, InvalidArgument
from mesh.tenancy.current import PrincipalKind, current_principal
from servers.workflow import convert, schedules, test_clock
from servers.workflow.business_clock import BusinessClock
from servers.workflow.runner import TemporalRunner


def _operator() -> None:
    current_principal().require(PrincipalKind.OPERATOR)


class LifecycleServicer:
    """GetClock, AdvanceClock, ListSchedules, RunSchedule; operator callers only."""

    def __init__(self, runner: TemporalRunner, clock: BusinessClock) -> None:
        self._runner = runner
        self._clock = clock

    async def GetClock(
        self, request: lifecycle_pb2.GetClockRequest, context: grpc.aio.ServicerContext
    ) -> lifecycle_pb2.GetClockResponse:
        _operator()
        offset = await self._clock.offset()
        return lifecycle_pb2.GetClockResponse(
            now=convert.timestamp(await self._clock.now()),
            test_clock=self._clock.test_clock,
            offset=convert.duration(offset),
        )

    async def AdvanceClock(
        self, request: lifecycle_pb2.AdvanceClockRequest, context: grpc.aio.ServicerContext
    ) -> lifecycle_pb2.AdvanceClockResponse:
        _operator()
        to = convert.target_time(request, await self._clock.now())
        now, runs = await test_clock.advance(
            self._clock, self._runner.client, self._runner.task_queue, to
        )
        return lifecycle_pb2.AdvanceClockResponse(
            now=convert.timestamp(now), runs=[convert.run(r) for r in runs]
        )

    async def ListSchedules(
        self, request: lifecycle_pb2.ListSchedulesRequest, context: grpc.aio.ServicerContext
    ) -> lifecycle_pb2.ListSchedulesResponse:
        _operator()
        views = await schedules.describe(self._runner.client, self._runner.task_queue)
        return lifecycle_pb2.ListSchedulesResponse(
            schedules=[convert.schedule(v, self._ui_link(v.schedule)) for v in views]
        )

    async def RunSchedule(
        self, request: lifecycle_pb2.RunScheduleRequest, context: grpc.aio.ServicerContext
    ) -> lifecycle_pb2.RunScheduleResponse:
        _operator()
        schedule = schedules.BY_NAME.get(request.schedule)
        if schedule is None:
            names = ", ".join(schedules.BY_NAME)
            raise InvalidArgument(
                f"unknown schedule {request.schedule!r}; schedules: {names}",
                violations=[FieldViolation("schedule", f"one of {names}")],
            )
        run = await test_clock.run_at(
            self._runner.client, self._runner.task_queue, schedule, await self._clock.now()
        )
        return lifecycle_pb2.RunScheduleResponse(run=convert.run(run))

    def _ui_link(self, schedule: schedules.LifecycleSchedule) -> str:
        """The schedule's page in the Temporal UI, when the UI's address is known."""
        settings = self._runner.settings
        if not settings.ui_url:
            return ""
        schedule_id = schedules.schedule_id(settings.task_queue, schedule)
        return (
            f"{settings.ui_url.rstrip('/')}/namespaces/{settings.namespace}/schedules/{schedule_id}"
        )
