"""The launcher's supervisor: restart a child that exits, with capped backoff, or give up.

As Kubernetes' restartPolicy and systemd's Restart=on-failure: a child that exits while
the mesh runs is started again after 0.5 s, then 1, 2, 4, 8, 10, 10 s... for as long as
it keeps failing; once it has stayed up 30 s the delay starts again at 0.5 s. A child
that has already been restarted 5 times in the last 60 s and exits again is
crash-looping (as systemd's StartLimitBurst): restarting it more would only hide the
fault, so the supervisor gives up and the launcher stops the mesh with the child's
last error. With the defaults a child that dies at once gives up after about 25 s.
All five numbers are settings of section `launcher` (TICKMESH_LAUNCHER_*).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from mesh.config import int_at_least, number_at_least, setting

SECTION = "launcher"
"""The settings section of the restart policy: TICKMESH_LAUNCHER_<FIELD>, [launcher]."""


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """When the launcher restarts a child, and when it gives up on one."""

    restart_backoff_seconds: float = setting(0.5, cast=number_at_least(0))
    """Delay before the first restart; each further restart in a row doubles it."""

    restart_backoff_max_seconds: float = setting(10.0, cast=number_at_least(0))
    """The cap of the doubling delay."""

    restart_reset_seconds: float = setting(30.0, cast=number_at_least(0))
    """A child that stayed up this long restarts with the first delay again."""

    crash_loop_restarts: int = setting(5, cast=int_at_least(0))
    """Restarts allowed within the window; one more exit is a crash loop."""

    crash_loop_window_seconds: float = setting(60.0, cast=number_at_least(0))
    """The window crash_loop_restarts is counted in."""


class RestartTracker:
    """The restart decisions for one child; pure, times passed in (monotonic seconds)."""

    def __init__(self, policy: RestartPolicy) -> None:
        self.policy = policy
        self.restarts = 0
        self._in_a_row = 0
        self._recent: deque[float] = deque()

    def on_exit(self, now: float, uptime_s: float) -> float | None:
        """The child exited after `uptime_s`: the delay before restarting it, or None
        when it is crash-looping and must not be restarted."""
        policy = self.policy
        if uptime_s >= policy.restart_reset_seconds:
            self._in_a_row = 0
        while self._recent and self._recent[0] <= now - policy.crash_loop_window_seconds:
            self._recent.popleft()
        if len(self._recent) >= policy.crash_loop_restarts:
            return None
        delay = min(
            policy.restart_backoff_seconds * 2**self._in_a_row, policy.restart_backoff_max_seconds
        )
        self._in_a_row += 1
        self._recent.append(now)
        self.restarts += 1
        return delay


def describe_exit(returncode: int) -> str:
    """`exited with code 1` or `killed by SIGKILL`, from a Popen return code."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


class Process(Protocol):
    """What the supervisor needs of a subprocess.Popen."""

    pid: int
    returncode: int | None

    def wait(self, timeout: float | None = None) -> int: ...


class Supervised(Protocol):
    """What the supervisor needs of a launcher's child."""

    restarts: int
    last_exit: str | None

    @property
    def service(self) -> str: ...

    @property
    def process(self) -> Process | None: ...

    @property
    def started_at(self) -> float:
        """When the current process started, on the supervisor's clock."""
        ...

    def last_error(self) -> str:
        """The child's last words (the tail of its stderr), after it exited."""
        ...


class CrashLoop(Exception):
    """A child kept failing; the message says which, how, and its last error."""


async def wait_exit(process: Process) -> int:
    """Wait, without polling or a thread, until `process` exits; its return code.

    A pidfd (Linux 5.3+) becomes readable when the process exits; the launcher is
    Linux-only already (PR_SET_PDEATHSIG).
    """
    if process.returncode is not None:  # already reaped, by a poll() elsewhere
        return process.returncode
    fd = os.pidfd_open(process.pid)
    try:
        loop = asyncio.get_running_loop()
        exited: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not exited.done():
                exited.set_result(None)

        loop.add_reader(fd, readable)
        try:
            await exited
        finally:
            loop.remove_reader(fd)
    finally:
        os.close(fd)
    return process.wait()


S = TypeVar("S", bound=Supervised)


@dataclass
class Supervisor(Generic[S]):
    """Watches children and restarts them; `run` raises CrashLoop when one fails for good.

    `spawn` starts a child's process again; `serving` waits until it reports SERVING
    (raising if it cannot); `changed` is called after every change of a child's pid,
    restarts or last exit; `say` prints one line.
    """

    children: Sequence[S]
    spawn: Callable[[S], None]
    serving: Callable[[S], Awaitable[None]]
    changed: Callable[[], None]
    say: Callable[[str], None]
    policy: RestartPolicy = RestartPolicy()
    clock: Callable[[], float] = time.monotonic

    async def run(self) -> None:
        """Supervise until cancelled (the mesh stops) or a child crash-loops."""
        watches = [asyncio.ensure_future(self._watch(child)) for child in self.children]
        try:
            # A watch only ends by raising CrashLoop (or a bug): that ends the others.
            done, _ = await asyncio.wait(watches, return_when=asyncio.FIRST_EXCEPTION)
            for watch in done:
                watch.result()
        finally:
            for watch in watches:
                watch.cancel()
            await asyncio.gather(*watches, return_exceptions=True)

    async def _watch(self, child: S) -> None:
        tracker = RestartTracker(self.policy)
        while True:
            assert child.process is not None
            code = await wait_exit(child.process)
            now = self.clock()
            child.last_exit = describe_exit(code)
            delay = tracker.on_exit(now, uptime_s=now - child.started_at)
            if delay is None:
                self.changed()
                error = await asyncio.to_thread(child.last_error)
                raise CrashLoop(
                    f"{child.service} is crash-looping ({child.last_exit} after "
                    f"{child.restarts} restarts in {self.policy.crash_loop_window_seconds:g} s)"
                    + (f"; its last error: {error}" if error else "")
                )
            child.restarts = tracker.restarts
            self.changed()
            self.say(
                f"{child.service} (pid {child.process.pid}) {child.last_exit}; "
                f"restarting it in {delay:g} s (restart {child.restarts})"
            )
            await asyncio.sleep(delay)  # the backoff itself, not a wait for a condition
            self.spawn(child)
            self.changed()
            try:
                await self.serving(child)
            except Exception as exc:  # its exit, if it exited, is handled at the loop's top
                self.say(f"{child.service} restart {child.restarts} not serving: {exc}")
            else:
                self.say(
                    f"{child.service} is SERVING again (pid {child.process.pid}), "
                    f"{self.clock() - now:.1f} s after it went down"
                )


async def run_together(*runs: Coroutine[Any, Any, None]) -> None:
    """Run supervisors (their `run()`) until one raises; that cancels the others, so no
    supervisor restarts anything while the launcher stops the mesh."""
    tasks = [asyncio.ensure_future(run) for run in runs]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
