"""Repeated authentication failures from one peer are slowed, then refused for a while.

A key guesser gets a few free tries (a typo, a rotated key), then each further failure
is answered later and later, then every call from it is refused with RESOURCE_EXHAUSTED
and a RetryInfo saying when to come back, without looking at its credentials at all
(so the guessing costs Storage nothing). A success forgets the peer's failures.

A peer is a connection (gRPC's peer string, address and port): a client that cannot
authenticate is locked out without touching others behind the same address, such as
every process on a machine that talks to us over loopback. A guesser that reconnects to
dodge that is caught by a per-address count with higher limits, which loopback is exempt
from (the peers there are this machine's own processes: sidecars, the Hub, tools).

Counts live in this process (each service guards its own door), bounded by an LRU.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from mesh.errors import QuotaViolation, ResourceExhausted


@dataclass(frozen=True, slots=True)
class FailureLimits:
    """When one peer's failures are slowed and when they are refused."""

    free: int = 5
    """Failures answered at once (within `window_s`)."""
    lockout_after: int = 10
    """Failures (within `window_s`) after which the peer is refused for `lockout_s`."""
    window_s: float = 60.0
    lockout_s: float = 30.0
    first_delay_s: float = 0.05
    """Delay of the first slowed answer; doubles with each failure, up to `max_delay_s`."""
    max_delay_s: float = 1.0


CONNECTION_LIMITS = FailureLimits()
ADDRESS_LIMITS = FailureLimits(free=50, lockout_after=100)


@dataclass(slots=True)
class _Record:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0


class _Counter:
    def __init__(self, limits: FailureLimits, max_peers: int) -> None:
        self.limits = limits
        self._max_peers = max_peers
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def locked_until(self, peer: str, now: float) -> float:
        record = self._records.get(peer)
        return record.locked_until if record is not None and record.locked_until > now else 0.0

    def failed(self, peer: str, now: float) -> float:
        """Count a failure; the delay its answer gets (0: none)."""
        limits = self.limits
        record = self._records.pop(peer, None) or _Record()
        self._records[peer] = record  # most recent last
        while len(self._records) > self._max_peers:
            self._records.popitem(last=False)
        record.failures = [t for t in record.failures if now - t < limits.window_s]
        record.failures.append(now)
        count = len(record.failures)
        if count >= limits.lockout_after:
            record.locked_until = now + limits.lockout_s
            record.failures.clear()
        if count <= limits.free:
            return 0.0
        return min(limits.first_delay_s * 2 ** (count - limits.free - 1), limits.max_delay_s)

    def forget(self, peer: str) -> None:
        self._records.pop(peer, None)


class AuthFailureLimiter:
    """Per-peer counts of authentication failures (see the module docstring)."""

    def __init__(
        self,
        connection: FailureLimits = CONNECTION_LIMITS,
        address: FailureLimits = ADDRESS_LIMITS,
        *,
        max_peers: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connections = _Counter(connection, max_peers)
        self._addresses = _Counter(address, max_peers)
        self._clock = clock

    def refusal(self, peer: str) -> ResourceExhausted | None:
        """The error to refuse `peer` with while it is locked out; None otherwise."""
        now = self._clock()
        address = _address(peer)
        until = max(
            self._connections.locked_until(peer, now),
            self._addresses.locked_until(address, now) if address else 0.0,
        )
        if not until:
            return None
        retry_after = until - now
        return ResourceExhausted(
            f"too many failed authentication attempts from {peer}: "
            f"try again in {retry_after:.0f} s with a valid API key",
            reason="AUTH_FAILURES",
            violations=[QuotaViolation(peer, "failed authentications")],
            retry_after_s=retry_after,
        )

    def failed(self, peer: str) -> float:
        """Count a failed authentication; how long to wait before answering it."""
        now = self._clock()
        delay = self._connections.failed(peer, now)
        if address := _address(peer):
            delay = max(delay, self._addresses.failed(address, now))
        return delay

    def succeeded(self, peer: str) -> None:
        """The peer authenticated: its connection's failures are forgiven."""
        self._connections.forget(peer)


def peer_ip(peer: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP of a gRPC peer string ('ipv4:1.2.3.4:5', 'ipv6:[::1]:5'); None for a Unix
    socket or anything unparsable."""
    kind, _, rest = peer.partition(":")
    if kind not in ("ipv4", "ipv6"):
        return None
    try:
        return ipaddress.ip_address(rest.rpartition(":")[0].strip("[]"))
    except ValueError:
        return None


def _address(peer: str) -> str | None:
    """The address failures are also counted by; None for loopback and non-IP peers."""
    ip = peer_ip(peer)
    return None if ip is None or ip.is_loopback else str(ip)
