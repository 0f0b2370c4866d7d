"""`up` takes its terminal's foreground only when it shares it with a parent (make)."""

from __future__ import annotations

import os

from mesh.terminal import own_foreground


def test_the_foreground_is_taken_only_from_a_parent_and_handed_back() -> None:
    # Under `make test` in a terminal pytest shares make's group, as `up` under `make up`;
    # started by a shell, or without a terminal (CI), it has nothing to take.
    before = os.getpgrp()
    shares = before != os.getpid() and _foreground() == before
    with own_foreground() as took:
        assert took == shares
        if took:
            assert os.getpgrp() == os.getpid() == _foreground()
    if took:
        assert _foreground() == before


def _foreground() -> int | None:
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None
    try:
        return os.tcgetpgrp(fd)
    finally:
        os.close(fd)
