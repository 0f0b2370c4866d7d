"""Garbage-collector settings for a Bridge process.

Fan-out allocates many short-lived objects per message; with CPython's default
thresholds (700, 10, 10) full collections came every second and, at 1,000
subscribers, took ~130 ms each (60 % of the Bridge's CPU at 5,000 subscribers):
that, not the fan-out itself, was what broke the pro and enterprise p99 targets
(bench/RESULTS.md, "Fan-out"). Freezing the startup heap keeps collections from
re-scanning it, and a larger young generation makes them rarer.
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Freeze what exists now (imports, startup) and raise the collection thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
