"""Backoff: the one reconnect delay policy, for services and the client SDK alike."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff with jitter below the cap.

    Attempt n (0 = the first retry) has the ceiling min(max_s, initial_s *
    multiplier**n) and waits a random time between (1 - jitter) * ceiling and the
    ceiling itself: max_s is a true maximum, and a fleet that lost the same peer
    at once does not come back in lockstep.
    """

    initial_s: float = 0.1
    """The ceiling of the first retry."""
    max_s: float = 5.0
    """No wait is ever longer."""
    multiplier: float = 2.0
    """How much the ceiling grows per attempt."""
    jitter: float = 0.5
    """The share of the ceiling drawn at random, in [0, 1] (0: always the ceiling)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be within [0, 1], not {self.jitter}")

    def ceiling(self, attempt: int) -> float:
        """The longest wait before retry `attempt`."""
        try:
            grown = self.initial_s * self.multiplier**attempt
        except OverflowError:  # a float power past ~1e308: long past any cap
            return self.max_s
        return min(self.max_s, grown)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The wait before retry `attempt` (0 = the first retry); `rng` for repeatable
        draws, else the random module's."""
        ceiling = self.ceiling(attempt)
        spread = ceiling * self.jitter
        return ceiling - spread + (rng or random).uniform(0, spread)
