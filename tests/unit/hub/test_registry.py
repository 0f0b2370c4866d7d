"""Registry leases on a fake clock: grant, renew, lapse, replace, watch events."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from mesh.errors import AlreadyExists, InvalidArgument, NotFound, ResourceExhausted
from mesh.tiers import Tier
from servers.hub.registry import (
    Event,
    EventType,
    Health,
    InstanceSpec,
    LeasePolicy,
    Registry,
    parse_address,
    validate_spec,
)


class FakeClock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.start = datetime(2025, 1, 1, tzinfo=UTC)

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.t)

    def advance(self, seconds: float) -> None:
        self.t += seconds


def spec(instance_id: str = "bridge-00000001", address: str = "10.0.0.1:50053") -> InstanceSpec:
    return InstanceSpec(instance_id, "bridge", address, capacity=10, free_tier_allowed=True)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry(clock: FakeClock) -> Registry:
    return Registry(clock, LeasePolicy(default_s=10, min_s=2, max_s=60))


def drain(watch: object) -> list[Event]:
    """The events queued on a watch so far, without waiting."""
    queue: asyncio.Queue[Event] = watch._queue  # type: ignore[attr-defined]
    out = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


def test_lease_ttl_is_defaulted_and_clamped() -> None:
    policy = LeasePolicy(default_s=10, min_s=2, max_s=60)
    assert [policy.grant(t) for t in (0, -5, 1, 2, 30, 60, 3600)] == [10, 10, 2, 2, 30, 60, 60]


def test_a_lease_lapses_unless_renewed(registry: Registry, clock: FakeClock) -> None:
    instance = registry.register(spec(), ttl_s=3)
    assert registry.expires_at(instance) == clock.now() + timedelta(seconds=3)
    clock.advance(2.9)
    registry.heartbeat(instance.lease_id, active_sessions=4)  # renewed for 3 more seconds
    clock.advance(2.9)
    assert registry.sweep() == []
    assert [i.instance_id for i in registry.instances()] == ["bridge-00000001"]
    assert registry.instances()[0].active_sessions == 4
    clock.advance(0.2)
    # Lapsed: invisible even before a sweep, and a heartbeat says re-register.
    assert registry.instances() == []
    with pytest.raises(NotFound):
        registry.heartbeat(instance.lease_id)
    assert registry.get("bridge-00000001") is None


def test_sweep_removes_lapsed_instances(registry: Registry, clock: FakeClock) -> None:
    short = registry.register(spec("a-1", "h:1"), ttl_s=2)
    registry.register(spec("a-2", "h:2"), ttl_s=10)
    clock.advance(5)
    assert [i.instance_id for i in registry.sweep()] == [short.instance_id]
    assert [i.instance_id for i in registry.instances()] == ["a-2"]


def test_duplicate_live_id_is_refused_until_the_lease_lapses(
    registry: Registry, clock: FakeClock
) -> None:
    registry.register(spec(), ttl_s=2)
    with pytest.raises(AlreadyExists):
        registry.register(spec(address="10.0.0.2:50053"))
    clock.advance(2)
    registry.register(spec(address="10.0.0.2:50053"))  # the old lease lapsed


def test_a_new_instance_at_a_live_address_replaces_it(registry: Registry) -> None:
    old = registry.register(spec("bridge-old"))
    watch = registry.watch()
    new = registry.register(spec("bridge-new"))
    assert [i.instance_id for i in registry.instances()] == ["bridge-new"]
    events = [(e.type, e.instance.instance_id if e.instance else None) for e in drain(watch)]
    assert events == [
        (EventType.EXISTING, old.instance_id),
        (EventType.SNAPSHOT_END, None),
        (EventType.REMOVED, old.instance_id),
        (EventType.ADDED, new.instance_id),
    ]


def test_deregister_and_unknown_leases(registry: Registry) -> None:
    instance = registry.register(spec())
    registry.deregister(instance.lease_id)
    assert registry.instances() == []
    for call in (registry.deregister, registry.heartbeat):
        with pytest.raises(NotFound):
            call(instance.lease_id)
    with pytest.raises(NotFound):
        registry.heartbeat("never-issued")


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("127.0.0.1:50051", True),
        ("bridge.svc.cluster.local:443", True),
        ("[::1]:50051", True),
        ("localhost", False),
        (":50051", False),
        ("host:0", False),
        ("host:65536", False),
        ("host:port", False),
        ("bad host:1", False),
        ("[::1:50051", False),
    ],
)
def test_parse_address(address: str, ok: bool) -> None:
    if ok:
        parse_address(address)
    else:
        with pytest.raises(InvalidArgument, match=r"spec\.address"):
            parse_address(address)


def test_validation_names_the_field(registry: Registry) -> None:
    with pytest.raises(InvalidArgument, match=r"spec\.service") as caught:
        registry.register(InstanceSpec("x-1", "trading", "h:1"))
    assert caught.value.reason == "UNKNOWN_SERVICE"
    with pytest.raises(InvalidArgument, match=r"spec\.instance_id"):
        registry.register(InstanceSpec("", "bridge", "h:1"))
    with pytest.raises(InvalidArgument, match=r"spec\.capacity"):
        registry.register(InstanceSpec("x-1", "bridge", "h:1", capacity=-1))


async def test_watch_sends_snapshot_then_changes(registry: Registry, clock: FakeClock) -> None:
    registry.register(spec("bridge-1", "h:1"))
    registry.register(InstanceSpec("billing-1", "billing", "h:9"))
    watch = registry.watch("bridge")
    second = registry.register(spec("bridge-2", "h:2"), ttl_s=2)
    registry.set_health("bridge-2", Health.SERVING)
    registry.set_health("bridge-2", Health.SERVING)  # unchanged: no event
    registry.heartbeat(second.lease_id, active_sessions=1)
    registry.register(InstanceSpec("billing-2", "billing", "h:8"))  # another service
    clock.advance(10)
    registry.sweep()
    registry.close_watches()
    events = [(e.type, e.instance.instance_id if e.instance else None) async for e in watch]
    assert events == [
        (EventType.EXISTING, "bridge-1"),
        (EventType.SNAPSHOT_END, None),
        (EventType.ADDED, "bridge-2"),
        (EventType.UPDATED, "bridge-2"),  # health
        (EventType.UPDATED, "bridge-2"),  # load
        (EventType.REMOVED, "bridge-1"),
        (EventType.REMOVED, "bridge-2"),
    ]
    assert registry.watcher_count == 0


async def test_a_watcher_that_falls_behind_is_ended(registry: Registry) -> None:
    watch = registry.watch(max_pending=3)
    for n in range(5):
        registry.register(spec(f"b-{n}", f"h:{n + 1}"))
    with pytest.raises(ResourceExhausted, match="fell more than 3 events behind"):
        async for _ in watch:
            pass


def test_listeners_see_every_change_and_a_failing_one_is_contained(registry: Registry) -> None:
    seen: list[EventType] = []

    def broken(event: Event) -> None:
        raise RuntimeError("bug in a listener")

    registry.add_listener(broken)
    registry.add_listener(lambda event: seen.append(event.type))
    instance = registry.register(spec())
    registry.deregister(instance.lease_id)
    assert seen == [EventType.ADDED, EventType.REMOVED]


def test_events_carry_copies(registry: Registry) -> None:
    events: list[Event] = []
    registry.add_listener(events.append)
    instance = registry.register(spec())
    registry.heartbeat(instance.lease_id, active_sessions=7)
    assert events[0].instance is not None and events[0].instance.active_sessions == 0
    assert events[1].instance is not None and events[1].instance.active_sessions == 7


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"tier_pool": True}, "spec.tier_pool"),
        (
            {"tier_pool": True, "tiers": frozenset({Tier.FREE}), "free_tier_allowed": False},
            "spec.free_tier_allowed",
        ),
    ],
)
def test_a_pool_must_name_its_tiers_and_take_free_exactly_when_free_is_one(
    changes: dict[str, object], field: str
) -> None:
    spec = dataclasses.replace(InstanceSpec("b-1", "bridge", "127.0.0.1:1"), **changes)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match=field):
        validate_spec(spec)
