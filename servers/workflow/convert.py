"""Between the lifecycle's domain values and its messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf import duration_pb2, timestamp_pb2
from tickmesh.workflow.v1 import lifecycle_pb2

from mesh.errors import FieldViolation, InvalidArgument
from servers.workflow.schedules import Run, ScheduleView


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def duration(value: timedelta) -> duration_pb2.Duration:
    out = duration_pb2.Duration()
    out.FromTimedelta(value)
    return out


def target_time(request: lifecycle_pb2.AdvanceClockRequest, now: datetime) -> datetime:
    """Where AdvanceClock moves the clock: `to`, or now + `by`; exactly one is set."""
    has_to, has_by = request.HasField("to"), request.HasField("by")
    if has_to == has_by:
        raise InvalidArgument(
            "set exactly one of `to` and `by`",
            violations=[FieldViolation("to", "exactly one of to and by")],
        )
    if has_to:
        return request.to.ToDatetime(tzinfo=UTC)
    step = request.by.ToTimedelta()
    if step <= timedelta():
        raise InvalidArgument("`by` must be positive", violations=[FieldViolation("by", "> 0")])
    return now + step


def run(value: Run) -> lifecycle_pb2.LifecycleRun:
    out = lifecycle_pb2.LifecycleRun(
        schedule=value.schedule,
        workflow_id=value.workflow_id,
        status=value.status,
        summary=value.summary,
    )
    if value.as_of:
        out.as_of.CopyFrom(timestamp(datetime.fromisoformat(value.as_of)))
    return out


def schedule(view: ScheduleView, ui_url: str) -> lifecycle_pb2.ScheduleInfo:
    out = lifecycle_pb2.ScheduleInfo(
        schedule=view.schedule.name,
        description=view.schedule.description,
        cron=view.schedule.cron,
        paused=view.paused,
    )
    if view.last_run is not None:
        out.last_run.CopyFrom(run(view.last_run))
    if view.next_run_at is not None:
        out.next_run_at.CopyFrom(timestamp(view.next_run_at))
    if ui_url:
        out.ui_url = ui_url
    return out
