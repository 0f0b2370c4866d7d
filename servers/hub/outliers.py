"""Passive outlier ejection: an instance failing routed calls in a row leaves rotation a while.

Envoy's model, kept small: N consecutive failures eject an instance for a
back-off that grows with each repeat ejection; at most a share of a service's
instances is ejected at once, so a mesh-wide problem never empties a service.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OutlierPolicy:
    """When to eject, for how long, and how many at most."""

    failures_to_eject: int = 3
    base_ejection_s: float = 5.0
    max_ejection_s: float = 300.0
    max_ejected_percent: float = 50.0


@dataclass(slots=True)
class _State:
    consecutive_failures: int = 0
    ejections: int = 0
    ejected_until: float | None = None
    last_ejected_at: float | None = None


class OutlierDetector:
    """Failure counts and ejections by instance id; time from an injectable clock."""

    def __init__(
        self,
        policy: OutlierPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self.policy = policy or OutlierPolicy()
        self._clock = clock
        self._on_change = on_change
        self._states: dict[str, _State] = {}

    def report_success(self, instance_id: str) -> None:
        """A routed call reached the instance and it answered."""
        state = self._states.get(instance_id)
        if state is None:
            return
        state.consecutive_failures = 0
        # The back-off multiplier decays once the instance has behaved for a long while.
        if (
            state.last_ejected_at is not None
            and self._clock() - state.last_ejected_at > self.policy.max_ejection_s
        ):
            state.ejections = 0

    def report_failure(self, instance_id: str, peers: Collection[str]) -> bool:
        """A routed call could not reach the instance; True when this ejected it.

        `peers` are the ids of every instance of its service (itself included), for the cap.
        """
        state = self._states.setdefault(instance_id, _State())
        state.consecutive_failures += 1
        if self.is_ejected(instance_id) or (
            state.consecutive_failures < self.policy.failures_to_eject
        ):
            return False
        ejected_peers = sum(1 for peer in peers if peer != instance_id and self.is_ejected(peer))
        allowed = math.floor(len(peers) * self.policy.max_ejected_percent / 100)
        if ejected_peers + 1 > allowed:
            return False  # the cap: keep it in rotation rather than empty the service
        now = self._clock()
        state.ejections += 1
        duration = min(self.policy.max_ejection_s, self.policy.base_ejection_s * state.ejections)
        state.ejected_until = now + duration
        state.last_ejected_at = now
        state.consecutive_failures = 0
        self._changed(instance_id)
        return True

    def is_ejected(self, instance_id: str) -> bool:
        """Whether the instance is out of rotation now (an ejection ends by itself)."""
        state = self._states.get(instance_id)
        if state is None or state.ejected_until is None:
            return False
        if self._clock() < state.ejected_until:
            return True
        state.ejected_until = None
        self._changed(instance_id)
        return False

    def ejected(self) -> list[str]:
        """Ids ejected right now."""
        return [i for i in list(self._states) if self.is_ejected(i)]

    def forget(self, instance_id: str) -> None:
        """Drop an instance's history (it left the registry)."""
        self._states.pop(instance_id, None)

    def _changed(self, instance_id: str) -> None:
        if self._on_change is not None:
            self._on_change(instance_id)
