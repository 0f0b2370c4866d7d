"""The Hub's registry of live instances: leases with TTLs, observed health, change events.

Plain asyncio, no gRPC: the servicer converts protobuf to these types. Time
comes from an injectable clock, so tests drive lease expiry without sleeping.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from mesh.config import SERVICES
from mesh.errors import AlreadyExists, FieldViolation, InvalidArgument, NotFound, ResourceExhausted
from mesh.tiers import Tier

_log = logging.getLogger(__name__)

_INSTANCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


class Clock(Protocol):
    """Where the registry reads time: a monotonic clock for leases, a wall clock to show."""

    def monotonic(self) -> float: ...

    def now(self) -> datetime: ...


class SystemClock:
    """The real clocks."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)


class Health(enum.Enum):
    """An instance's health as the Hub's active checks last saw it."""

    UNSPECIFIED = "unspecified"  # registered, not checked yet
    SERVING = "serving"
    NOT_SERVING = "not_serving"  # says so itself (draining, a dependency down)
    UNREACHABLE = "unreachable"  # the health stream failed or cannot connect


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    """What an instance declares about itself when it registers."""

    instance_id: str
    service: str
    address: str
    zone: str = ""
    tiers: frozenset[Tier] = frozenset()
    """Tiers it is meant for; empty means every tier."""
    capacity: int = 0
    """Concurrent sessions it can take; 0 means unknown."""
    free_tier_allowed: bool = False
    cost_per_request_micros: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)
    tier_pool: bool = False
    """It serves only `tiers` and refuses the rest (mesh.tier_pools)."""
    public_address: str = ""
    """Where clients outside the mesh reach its pool; empty: `address`."""

    def refuses(self, tier: Tier) -> bool:
        """Whether it turns tenants of `tier` away (a pool that does not serve it)."""
        return self.tier_pool and tier not in self.tiers


@dataclass(slots=True)
class Instance:
    """A registered instance and what the Hub knows about it."""

    spec: InstanceSpec
    lease_id: str
    ttl_s: float
    expires_mono: float
    registered_at: datetime
    active_sessions: int = 0
    health: Health = Health.UNSPECIFIED
    routed_since_heartbeat: int = 0
    """Sessions the Hub sent it since its last heartbeat, so a burst of resolutions does
    not all pick the instance whose reported load is stale."""
    latency_ms: float | None = None
    """Moving average of the health probe's round trip; None until one was measured."""

    @property
    def instance_id(self) -> str:
        return self.spec.instance_id

    @property
    def service(self) -> str:
        return self.spec.service


class EventType(enum.Enum):
    """What a WatchInstances event says."""

    EXISTING = "existing"
    SNAPSHOT_END = "snapshot_end"
    ADDED = "added"
    UPDATED = "updated"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class Event:
    """One registry change; `instance` is a copy taken when it happened (None for
    SNAPSHOT_END)."""

    type: EventType
    instance: Instance | None = None


@dataclass(frozen=True, slots=True)
class LeasePolicy:
    """The TTLs the Hub grants."""

    default_s: float = 10.0
    min_s: float = 2.0
    max_s: float = 60.0

    def grant(self, requested_s: float) -> float:
        """The TTL granted for a request: the default for 0, else clamped to [min, max]."""
        if requested_s <= 0:
            requested_s = self.default_s
        return min(self.max_s, max(self.min_s, requested_s))


def parse_address(address: str, field_name: str = "spec.address") -> tuple[str, int]:
    """`host:port` (IPv6 hosts in brackets) split in two; INVALID_ARGUMENT naming the field."""

    def invalid(why: str) -> InvalidArgument:
        return InvalidArgument(
            f"{field_name}: {why}, got {address!r}",
            violations=[FieldViolation(field_name, why)],
            reason="INVALID_ADDRESS",
        )

    host, sep, port_text = address.rpartition(":")
    if not sep or not host:
        raise invalid("must be host:port")
    if host.startswith("["):
        if (
            not host.endswith("]")
            or len(host) < 3
            or not re.fullmatch(r"[0-9A-Fa-f:.]+", host[1:-1])
        ):
            raise invalid("must be host:port with an IPv6 host in brackets")
    elif not _HOSTNAME.fullmatch(host):
        raise invalid("must be host:port with a host name or IP address")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise invalid("port must be 1-65535")
    return host, int(port_text)


def validate_spec(spec: InstanceSpec) -> None:
    """Raise INVALID_ARGUMENT naming the first bad field of `spec`."""
    if not _INSTANCE_ID.fullmatch(spec.instance_id):
        raise InvalidArgument(
            f"spec.instance_id: must be 1-128 of [A-Za-z0-9._:-], got {spec.instance_id!r}",
            violations=[FieldViolation("spec.instance_id", "must be 1-128 of [A-Za-z0-9._:-]")],
        )
    if spec.service not in SERVICES:
        services = ", ".join(SERVICES)
        raise InvalidArgument(
            f"spec.service: unknown service {spec.service!r}; services: {services}",
            violations=[FieldViolation("spec.service", f"must be one of {services}")],
            reason="UNKNOWN_SERVICE",
        )
    parse_address(spec.address)
    if spec.public_address:
        parse_address(spec.public_address, "spec.public_address")
    if spec.tier_pool and not spec.tiers:
        raise InvalidArgument(
            "spec.tier_pool: a pool serves some tiers: name them in spec.tiers",
            violations=[FieldViolation("spec.tiers", "required when tier_pool is set")],
        )
    if spec.tier_pool and spec.free_tier_allowed != (Tier.FREE in spec.tiers):
        raise InvalidArgument(
            "spec.free_tier_allowed: a pool takes free tenants exactly when free is one of "
            "its tiers",
            violations=[FieldViolation("spec.free_tier_allowed", "must match spec.tiers")],
        )
    for name in ("capacity", "cost_per_request_micros"):
        if getattr(spec, name) < 0:
            raise InvalidArgument(
                f"spec.{name}: must not be negative",
                violations=[FieldViolation(f"spec.{name}", "must not be negative")],
            )


class Watch:
    """One subscriber's events: the snapshot, then every change, until closed.

    Its queue is bounded: a subscriber that falls that far behind is ended with
    RESOURCE_EXHAUSTED (and re-watches) rather than growing the Hub's memory.
    """

    _CLOSED = Event(EventType.SNAPSHOT_END)  # a sentinel object, compared by identity

    def __init__(self, service: str | None, max_pending: int, on_close: Callable[[Watch], None]):
        self.service = service
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._max_pending = max_pending
        self._overflowed = False
        self._on_close = on_close

    def wants(self, instance: Instance) -> bool:
        return self.service is None or instance.service == self.service

    def put(self, event: Event) -> None:
        if self._overflowed:
            return
        if self._queue.qsize() >= self._max_pending:
            self._overflowed = True
            self._queue.put_nowait(self._CLOSED)
            return
        self._queue.put_nowait(event)

    def close(self) -> None:
        """End the stream after the events already queued."""
        self._queue.put_nowait(self._CLOSED)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        try:
            while True:
                event = await self._queue.get()
                if event is self._CLOSED:
                    if self._overflowed:
                        raise ResourceExhausted(
                            f"watcher fell more than {self._max_pending} events behind;"
                            " watch again for a fresh snapshot",
                            reason="WATCHER_TOO_SLOW",
                        )
                    return
                yield event
        finally:
            self._on_close(self)


Listener = Callable[[Event], None]


class Registry:
    """Instances by id, each alive while its lease is renewed in time."""

    def __init__(self, clock: Clock | None = None, policy: LeasePolicy | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self.policy = policy or LeasePolicy()
        self._by_id: dict[str, Instance] = {}
        self._by_lease: dict[str, str] = {}
        self._watches: set[Watch] = set()
        self._listeners: list[Listener] = []

    # --- leases --------------------------------------------------------------------------

    def register(self, spec: InstanceSpec, ttl_s: float = 0) -> Instance:
        """Add an instance with a fresh lease; ALREADY_EXISTS while its id holds a live one.

        An instance registering at the address of another live one replaces it: only one
        process can listen there, so the other is a dead predecessor (a restart).
        """
        validate_spec(spec)
        self.sweep()
        if spec.instance_id in self._by_id:
            raise AlreadyExists(
                f"instance {spec.instance_id!r} is registered with a live lease; pick another"
                " id, or wait for that lease to lapse",
                reason="INSTANCE_EXISTS",
                metadata={"instance_id": spec.instance_id},
            )
        for other in list(self._by_id.values()):
            if other.spec.address == spec.address:
                _log.info("%s replaces %s at %s", spec.instance_id, other.instance_id, spec.address)
                self._remove(other)
        ttl = self.policy.grant(ttl_s)
        instance = Instance(
            spec=spec,
            lease_id=secrets.token_hex(16),
            ttl_s=ttl,
            expires_mono=self.clock.monotonic() + ttl,
            registered_at=self.clock.now(),
        )
        self._by_id[spec.instance_id] = instance
        self._by_lease[instance.lease_id] = spec.instance_id
        self._emit(EventType.ADDED, instance)
        return instance

    def heartbeat(self, lease_id: str, active_sessions: int = 0) -> Instance:
        """Renew a lease; NOT_FOUND when unknown or lapsed (the instance registers again)."""
        instance = self._live(lease_id)
        instance.expires_mono = self.clock.monotonic() + instance.ttl_s
        instance.routed_since_heartbeat = 0
        sessions = max(0, active_sessions)
        if sessions != instance.active_sessions:
            instance.active_sessions = sessions
            self._emit(EventType.UPDATED, instance)
        return instance

    def deregister(self, lease_id: str) -> Instance:
        """Remove an instance at once; NOT_FOUND when its lease is unknown or lapsed."""
        instance = self._live(lease_id)
        self._remove(instance)
        return instance

    def sweep(self) -> list[Instance]:
        """Remove every instance whose lease has lapsed; returns them."""
        now = self.clock.monotonic()
        lapsed = [i for i in self._by_id.values() if i.expires_mono <= now]
        for instance in lapsed:
            _log.info("lease of %s lapsed; removing it", instance.instance_id)
            self._remove(instance)
        return lapsed

    async def run_sweeper(self, interval_s: float = 0.25) -> None:
        """Sweep forever (a task the Hub cancels at stop)."""
        while True:
            self.sweep()
            await asyncio.sleep(interval_s)

    def expires_at(self, instance: Instance) -> datetime:
        """The wall-clock time the instance's lease lapses unless renewed."""
        remaining = instance.expires_mono - self.clock.monotonic()
        return self.clock.now() + timedelta(seconds=remaining)

    # --- reads ---------------------------------------------------------------------------

    def get(self, instance_id: str) -> Instance | None:
        """A live instance by id."""
        instance = self._by_id.get(instance_id)
        if instance is None or instance.expires_mono <= self.clock.monotonic():
            return None
        return instance

    def instances(self, service: str | None = None) -> list[Instance]:
        """Live instances, of one service or all, ordered by service then id."""
        now = self.clock.monotonic()
        return sorted(
            (
                i for i in self._by_id.values()
                if i.expires_mono > now and (service is None or i.service == service)
            ),
            key=lambda i: (i.service, i.instance_id),
        )  # fmt: skip

    # --- health and other updates --------------------------------------------------------

    def set_health(self, instance_id: str, health: Health) -> None:
        """Record an active check's verdict; an UPDATED event when it changed."""
        instance = self._by_id.get(instance_id)
        if instance is not None and instance.health is not health:
            instance.health = health
            self._emit(EventType.UPDATED, instance)

    def touch(self, instance_id: str) -> None:
        """Announce an UPDATED event (e.g. the instance was ejected or returned)."""
        instance = self._by_id.get(instance_id)
        if instance is not None:
            self._emit(EventType.UPDATED, instance)

    # --- watching ------------------------------------------------------------------------

    def watch(self, service: str | None = None, *, max_pending: int = 10_000) -> Watch:
        """A subscription: EXISTING per live instance, SNAPSHOT_END, then every change."""
        watch = Watch(service, max_pending, self._watches.discard)
        # Snapshot and subscription happen in one synchronous step: no change can slip
        # between them.
        for instance in self.instances(service):
            watch.put(Event(EventType.EXISTING, _copy(instance)))
        watch.put(Event(EventType.SNAPSHOT_END))
        self._watches.add(watch)
        return watch

    def close_watches(self) -> None:
        """End every watch stream (the server is stopping)."""
        for watch in list(self._watches):
            watch.close()

    def add_listener(self, listener: Listener) -> None:
        """Call `listener` synchronously with every change (the health watcher uses it)."""
        self._listeners.append(listener)

    @property
    def watcher_count(self) -> int:
        return len(self._watches)

    # --- internals -----------------------------------------------------------------------

    def _live(self, lease_id: str) -> Instance:
        instance_id = self._by_lease.get(lease_id)
        instance = self._by_id.get(instance_id) if instance_id is not None else None
        if instance is None or instance.lease_id != lease_id:
            raise NotFound(
                "unknown lease: it lapsed or never existed; register again",
                reason="LEASE_NOT_FOUND",
            )
        if instance.expires_mono <= self.clock.monotonic():
            self._remove(instance)
            raise NotFound(
                f"lease of {instance.instance_id!r} lapsed; register again",
                reason="LEASE_NOT_FOUND",
                metadata={"instance_id": instance.instance_id},
            )
        return instance

    def _remove(self, instance: Instance) -> None:
        self._by_id.pop(instance.instance_id, None)
        self._by_lease.pop(instance.lease_id, None)
        self._emit(EventType.REMOVED, instance)

    def _emit(self, kind: EventType, instance: Instance) -> None:
        event = Event(kind, _copy(instance))
        for listener in self._listeners:
            # A failing listener must not stop the others or the registry's own update.
            try:
                listener(event)
            except Exception:
                _log.exception("registry listener failed on %s", kind.value)
        for watch in list(self._watches):
            if watch.wants(instance):
                watch.put(event)


def _copy(instance: Instance) -> Instance:
    return dataclasses.replace(instance)
