"""Ctrl-C in a terminal reaches `tickmesh up` alone, so `make up` ends with up's exit code.

A terminal sends Ctrl-C's SIGINT to its whole foreground process group. Under `make
up` that group is make's, and GNU make, on SIGINT, waits for its children and then
kills itself with the same signal (its fatal_error_signal): the shell sees 130 however
cleanly `up` stopped. So when `up` shares its terminal's foreground group with a parent
(make, or `sh -c`) it moves into a process group of its own and makes that the
foreground, as a shell does for a job, and hands the terminal back when it is done:
Ctrl-C then stops only `up`, which exits 0, and make exits 0 with it.

Started by an interactive shell, `up` leads its own group already and nothing changes.
A SIGTERM sent to make itself still ends make with 143, after it forwarded it to `up`
and `up` stopped cleanly: make re-raises any fatal signal it receives.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator


@contextlib.contextmanager
def own_foreground() -> Iterator[bool]:
    """For the block, this process's own group is its terminal's foreground (when it
    shares the foreground group with a parent); yields whether it took it."""
    try:
        tty = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:  # no controlling terminal: signals come from whoever sends them
        yield False
        return
    try:
        shared = os.getpgrp() != os.getpid() and os.tcgetpgrp(tty) == os.getpgrp()
        if not shared:
            yield False
            return
        parents_group = os.getpgrp()
        os.setpgid(0, 0)
        _set_foreground(tty, os.getpgrp())
        # Ctrl-Z would stop `up` while its parent waits in the background with the
        # terminal nobody can take back: a mesh is stopped with Ctrl-C, not suspended.
        previous = signal.signal(signal.SIGTSTP, signal.SIG_IGN)
        try:
            yield True
        finally:
            signal.signal(signal.SIGTSTP, previous)
            with contextlib.suppress(OSError):  # the parent's group may be gone
                _set_foreground(tty, parents_group)
    finally:
        os.close(tty)


def _set_foreground(tty: int, group: int) -> None:
    # tcsetpgrp from a background group raises SIGTTOU, which stops the process unless
    # it is ignored for the call (as shells do).
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(tty, group)
    finally:
        signal.signal(signal.SIGTTOU, previous)
