"""The shared Redis being down, as one warning per outage and one retryable error."""

from __future__ import annotations

import logging

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mesh.errors import Unavailable
from mesh.logging import error_fields

STORE_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,  # refused, reset, no pooled connection; BusyLoadingError too
    RedisTimeoutError,
    ReadOnlyError,  # a replica mid-failover
    OSError,  # TimeoutError included
)
"""Errors that mean the store cannot be reached now; any other RedisError (a script
error, a wrong type) is a bug and stays one."""

RETRY_AFTER_S = 1.0

log = logging.getLogger(__name__)


class StoreOutage:
    """Tracks whether the shared store is down, so an outage is logged once when it
    begins and once when it ends, however many calls it fails meanwhile."""

    def __init__(self, name: str = "quota store") -> None:
        self.name = name
        self.down = False
        self.outages = 0
        """Outages seen so far (tests, metrics)."""

    def failed(self, exc: BaseException) -> None:
        """Record a failed round trip; logs only the first one of an outage."""
        if not self.down:
            self.down = True
            self.outages += 1
            log.warning("%s unavailable", self.name, extra=error_fields(exc))

    def answered(self) -> None:
        """Record a round trip that worked; ends an outage."""
        if self.down:
            self.down = False
            log.info("%s reachable again", self.name)

    def error(self) -> Unavailable:
        """What a call that needs the store gets while it is down."""
        return Unavailable(
            f"the {self.name} is unavailable; retry shortly", retry_after_s=RETRY_AFTER_S
        )
