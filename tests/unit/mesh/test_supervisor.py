"""The restart policy (capped doubling backoff, reset, crash-loop limit), then the supervisor."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from mesh.config import load_config, load_settings
from mesh.supervisor import (
    SECTION,
    CrashLoop,
    RestartPolicy,
    RestartTracker,
    Supervisor,
    describe_exit,
)

POLICY = RestartPolicy()


def exits(tracker: RestartTracker, times: list[float], uptime_s: float = 0.1) -> list[float | None]:
    return [tracker.on_exit(now, uptime_s) for now in times]


def test_the_delay_doubles_up_to_its_cap() -> None:
    policy = RestartPolicy(crash_loop_restarts=100)
    tracker = RestartTracker(policy)
    # Far apart in time (no crash loop), each after a short run (no reset).
    delays = exits(tracker, [i * 100.0 for i in range(8)])
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    assert tracker.restarts == 8


def test_a_child_that_stayed_up_starts_again_from_the_first_delay() -> None:
    tracker = RestartTracker(POLICY)
    assert exits(tracker, [0.0, 100.0, 200.0]) == [0.5, 1.0, 2.0]
    assert tracker.on_exit(300.0, uptime_s=POLICY.restart_reset_seconds) == 0.5
    assert tracker.on_exit(400.0, uptime_s=1.0) == 1.0


def test_a_sixth_exit_within_the_window_is_a_crash_loop() -> None:
    tracker = RestartTracker(POLICY)
    assert None not in exits(tracker, [0.0, 2.0, 5.0, 9.0, 15.0])
    assert tracker.on_exit(25.0, uptime_s=1.0) is None
    assert tracker.restarts == 5


def test_restarts_older_than_the_window_do_not_count() -> None:
    tracker = RestartTracker(POLICY)
    exits(tracker, [0.0, 1.0, 2.0, 3.0, 4.0])
    # 60 s after the first restart, one of the five has left the window.
    assert tracker.on_exit(60.0, uptime_s=1.0) is not None
    assert tracker.on_exit(60.5, uptime_s=0.1) is None


def test_the_policy_is_a_settings_section() -> None:
    config = load_config(
        env={
            "TICKMESH_LAUNCHER_CRASH_LOOP_RESTARTS": "2",
            "TICKMESH_LAUNCHER_RESTART_BACKOFF_SECONDS": "0.1",
        }
    )
    policy = load_settings(RestartPolicy, config, SECTION)
    assert (policy.crash_loop_restarts, policy.restart_backoff_seconds) == (2, 0.1)
    assert load_settings(RestartPolicy, load_config(env={}), SECTION) == POLICY


@pytest.mark.parametrize(
    ("code", "text"),
    [(1, "exited with code 1"), (-9, "killed by SIGKILL"), (0, "exited with code 0")],
)
def test_exits_are_described_as_an_operator_reads_them(code: int, text: str) -> None:
    assert describe_exit(code) == text


@dataclass
class Failing:
    """A child whose every process prints an error and exits 1 (a tiny real process)."""

    service: str = "flaky"
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    last_exit: str | None = None
    spawned: int = 0
    changes: list[int] = field(default_factory=list)

    def spawn(self) -> None:
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        self.spawned += 1
        self.process = subprocess.Popen(
            [sys.executable, "-c", f"raise SystemExit('bad setting, start {self.spawned}')"],
            stderr=subprocess.PIPE,
        )

    def last_error(self) -> str:
        assert self.process is not None and self.process.stderr is not None
        with self.process.stderr:
            return self.process.stderr.read().decode().strip()


async def test_a_crash_looping_child_ends_supervision_with_its_last_error() -> None:
    child = Failing()
    child.spawn()
    said: list[str] = []

    async def serving(_: Failing) -> None:
        return None

    supervisor = Supervisor(
        [child],
        spawn=lambda c: c.spawn(),
        serving=serving,
        changed=lambda: child.changes.append(child.restarts),
        say=said.append,
        policy=RestartPolicy(restart_backoff_seconds=0, crash_loop_restarts=2),
    )
    with pytest.raises(CrashLoop) as caught:
        await supervisor.run()
    assert str(caught.value) == (
        "flaky is crash-looping (exited with code 1 after 2 restarts in 60 s); "
        "its last error: bad setting, start 3"
    )
    assert child.spawned == 3 and child.restarts == 2
    assert len([line for line in said if "restarting it in 0 s" in line]) == 2
