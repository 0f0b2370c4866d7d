"""What `tickmesh subscribe` prints when it fails: the reason once, the target, the fix."""

from __future__ import annotations

import grpc

from clients.cli import explain
from clients.errors import TickmeshError


def test_the_reason_is_not_repeated_when_it_is_the_code() -> None:
    error = TickmeshError(grpc.StatusCode.INVALID_ARGUMENT, "symbols: unknown", "INVALID_ARGUMENT")
    assert str(error) == "INVALID_ARGUMENT: symbols: unknown"
    quota = TickmeshError(grpc.StatusCode.RESOURCE_EXHAUSTED, "full", "QUOTA_EXCEEDED")
    assert str(quota) == "RESOURCE_EXHAUSTED [QUOTA_EXCEEDED]: full"


def test_a_dead_target_names_it_and_how_to_start_the_mesh() -> None:
    line = explain("127.0.0.1:1", None, duration=2)
    assert line == (
        "tickmesh subscribe: no Bridge answered at 127.0.0.1:1 in 2 s: is the mesh up? "
        "Start it with `make up`"
    )


def test_a_port_that_is_no_bridge_says_where_the_bridge_is() -> None:
    error = TickmeshError(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
    assert explain("127.0.0.1:50054", error, bridge="127.0.0.1:50053").endswith(
        "127.0.0.1:50054 is not a Bridge (no Subscribe there); the Bridge is at 127.0.0.1:50053"
    )
