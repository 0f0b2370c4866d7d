"""Ports picked for the side processes never collide with the services' or each other."""

from __future__ import annotations

import socket

import pytest

from mesh.ports import claim_port


def test_a_pick_avoids_the_given_ports_and_every_earlier_pick() -> None:
    first = claim_port("127.0.0.1", 0)
    # Avoid a wide band of the ports the kernel would likely hand out next.
    avoid = {first + offset for offset in range(-20, 21)}
    picks = [claim_port("127.0.0.1", 0, avoid) for _ in range(20)]
    assert not avoid & set(picks)
    assert len(set(picks)) == len(picks)
    assert first not in picks


def test_a_fixed_port_is_returned_when_free_and_refused_when_listened_on() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        with pytest.raises(OSError):
            claim_port("127.0.0.1", taken)
    assert claim_port("127.0.0.1", taken) == taken
