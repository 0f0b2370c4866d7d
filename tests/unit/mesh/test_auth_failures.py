"""Authentication failures per peer: free tries, slowed answers, a lockout with RetryInfo."""

from __future__ import annotations

import grpc

from mesh.tenancy.auth_failures import AuthFailureLimiter, FailureLimits


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


LIMITS = FailureLimits(free=2, lockout_after=5, window_s=60, lockout_s=30,
                       first_delay_s=0.1, max_delay_s=0.3)  # fmt: skip
ONE = "ipv4:127.0.0.1:40001"
OTHER = "ipv4:127.0.0.1:40002"


def _limiter(clock: Clock, address: FailureLimits | None = None) -> AuthFailureLimiter:
    return AuthFailureLimiter(LIMITS, address or FailureLimits(free=100, lockout_after=1000),
                              clock=clock)  # fmt: skip


def test_free_tries_then_slower_answers_then_a_lockout() -> None:
    clock = Clock()
    limiter = _limiter(clock)
    delays = [limiter.failed(ONE) for _ in range(4)]
    assert delays == [0.0, 0.0, 0.1, 0.2]
    assert limiter.refusal(ONE) is None
    assert limiter.failed(ONE) == 0.3  # the fifth: capped, and the lockout starts
    refused = limiter.refusal(ONE)
    assert refused is not None
    assert refused.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert refused.reason == "AUTH_FAILURES" and refused.retry_after_s == 30
    assert limiter.refusal(OTHER) is None  # another connection is not touched

    clock.now += 20
    locked = limiter.refusal(ONE)
    assert locked is not None and locked.retry_after_s == 10
    clock.now += 10
    assert limiter.refusal(ONE) is None
    assert limiter.failed(ONE) == 0.0  # counting starts afresh after a lockout


def test_failures_outside_the_window_and_successes_are_forgotten() -> None:
    clock = Clock()
    limiter = _limiter(clock)
    for _ in range(4):
        limiter.failed(ONE)
    clock.now += 61
    assert limiter.failed(ONE) == 0.0  # the old ones fell out of the window
    limiter.failed(ONE)
    limiter.succeeded(ONE)
    assert [limiter.failed(ONE) for _ in range(3)] == [0.0, 0.0, 0.1]


def test_reconnecting_does_not_dodge_the_per_address_count() -> None:
    clock = Clock()
    limiter = _limiter(clock, address=FailureLimits(free=3, lockout_after=6))
    # A new connection (port) for every guess, from one remote address.
    for port in range(6):
        limiter.failed(f"ipv4:203.0.113.9:{50000 + port}")
    assert limiter.refusal("ipv4:203.0.113.9:59999") is not None
    assert limiter.refusal("ipv4:203.0.113.10:50000") is None
    ipv6 = [f"ipv6:[2001:db8::1]:{50000 + port}" for port in range(6)]
    for peer in ipv6:
        limiter.failed(peer)
    assert limiter.refusal("ipv6:[2001:db8::1]:1") is not None


def test_loopback_has_no_per_address_count() -> None:
    clock = Clock()
    limiter = _limiter(clock, address=FailureLimits(free=1, lockout_after=2))
    for port in range(10):
        limiter.failed(f"ipv4:127.0.0.1:{50000 + port}")
        limiter.failed(f"ipv6:[::1]:{50000 + port}")
    assert limiter.refusal("ipv4:127.0.0.1:60000") is None
    assert limiter.refusal("unix:/tmp/socket") is None


def test_memory_is_bounded() -> None:
    limiter = AuthFailureLimiter(LIMITS, max_peers=3, clock=Clock())
    for port in range(10):
        for _ in range(5):
            limiter.failed(f"ipv4:127.0.0.1:{port}")
    # The oldest locked-out peers were evicted; the newest are still locked out.
    assert limiter.refusal("ipv4:127.0.0.1:0") is None
    assert limiter.refusal("ipv4:127.0.0.1:9") is not None
