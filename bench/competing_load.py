"""A bounded competing CPU load for bench_fanout.py: busy loops on a duty cycle.

python bench/competing_load.py --cores 0.5 --deadline-s 120

Burns `cores` of one core per process (busy `cores * period` of every `period`), stands
in for "other work on the machine" (issue 22: the same command at 0.66 of a core of
other load gave pro and enterprise p99 past target). Bounded twice: the benchmark stops
it at the end of its run, and it stops by itself at its own deadline or as soon as its
parent is gone, so a crashed benchmark never leaves a core burning.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from pathlib import Path

PERIOD_S = 0.010  # busy 5 ms of every 10 ms for half a core: finer than a scheduler tick


def burn(fraction: float, deadline_s: float, period_s: float = PERIOD_S) -> None:
    """Busy `fraction` of every `period_s` until the deadline or the parent's exit.

    Busy counts in CPU time, not wall time: on a busy machine the loop waits for a core
    too, and a wall-clock duty cycle would then burn less than asked; it still never
    spins past its period, so it takes at most `fraction` of a core."""
    parent = os.getppid()
    clock, cpu = time.monotonic, time.thread_time
    end = clock() + deadline_s
    busy = min(max(fraction, 0.0), 1.0) * period_s
    while clock() < end and os.getppid() == parent:
        start, spent = clock(), cpu()
        while cpu() - spent < busy and clock() - start < period_s:
            pass
        idle = period_s - (clock() - start)
        if idle > 0:
            time.sleep(idle)


def start(cores: float, deadline_s: float) -> list[subprocess.Popen[bytes]]:
    """Processes that together burn `cores` (one per started core, each <= 1), each
    ending by itself after `deadline_s`."""
    if cores <= 0:
        return []
    count = math.ceil(cores)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--cores", str(cores / count),
           "--deadline-s", str(deadline_s)]  # fmt: skip
    return [subprocess.Popen(cmd) for _ in range(count)]


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=float, required=True, help="share of one core, <= 1")
    parser.add_argument("--deadline-s", type=float, required=True, help="longest life, s")
    args = parser.parse_args()
    burn(args.cores, args.deadline_s)  # SIGTERM (the benchmark's stop) ends it at once


if __name__ == "__main__":
    main()
