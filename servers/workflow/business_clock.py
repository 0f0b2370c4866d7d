"""Business time: the wall clock, or in test mode a test clock that operators move.

The test clock is an offset from the wall clock kept in the mesh's shared Redis, so
every Workflow instance (and a restarted one) reads the same business time, and the
clock keeps ticking between moves, as Stripe's test clocks do not but a running
mesh must (quotas and streams go on in real time).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from mesh.errors import FailedPrecondition, InvalidArgument

MAX_ADVANCE = timedelta(days=400)


class BusinessClock:
    """Tells business time; in test mode, moves it forward."""

    def __init__(
        self,
        redis: Redis | None,
        key: str,
        *,
        test_clock: bool,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._redis = redis
        self._key = key
        self.test_clock = test_clock
        self._wall = wall
        self._local_offset_us = 0  # when no shared Redis is configured (one process)

    async def offset(self) -> timedelta:
        """Business time minus wall time (zero without a test clock)."""
        if not self.test_clock:
            return timedelta()
        if self._redis is None:
            return timedelta(microseconds=self._local_offset_us)
        raw = await self._redis.get(self._key)
        return timedelta(microseconds=int(raw or 0))

    async def now(self) -> datetime:
        """Business time now (aware UTC)."""
        return self._wall() + await self.offset()

    def check_move(self, now: datetime, to: datetime) -> datetime:
        """`to` if the test clock may move there from `now`; why not otherwise."""
        if not self.test_clock:
            raise FailedPrecondition(
                "the test clock is off: business time is real time "
                "(set TICKMESH_WORKFLOW_TEST_CLOCK=true on a test mesh)",
                reason="TEST_CLOCK_OFF",
            )
        if to <= now:
            raise InvalidArgument(f"the clock only moves forward: it is {now.isoformat()}")
        if to - now > MAX_ADVANCE:
            raise InvalidArgument(f"at most {MAX_ADVANCE.days} days per move")
        return to

    async def set(self, to: datetime) -> None:
        """Make business time `to` now (it ticks on from there)."""
        offset_us = (to - self._wall()) // timedelta(microseconds=1)
        if self._redis is None:
            self._local_offset_us = offset_us
        else:
            await self._redis.set(self._key, offset_us)
