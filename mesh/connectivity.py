"""Waiting on a gRPC channel's connectivity: returns when a peer that was gone is back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc

READY = grpc.ChannelConnectivity.READY


def reconnected(channel: grpc.aio.Channel) -> Callable[[], Awaitable[None]]:
    """A waiter that returns when `channel` becomes READY after being anything else.

    A channel READY when the wait begins has to leave READY first: a peer that is up but
    failing calls (its database down) must not turn a retry loop into a busy loop; a
    timer covers that case. Asking for the state with try_to_connect keeps an IDLE
    channel reconnecting (with the mesh's short reconnect backoff, ~2 s at most), so the
    wait ends about when the peer is listening again.
    """

    async def wait() -> None:
        state = channel.get_state(try_to_connect=True)
        was_down = state != READY
        while True:
            await channel.wait_for_state_change(state)
            state = channel.get_state(try_to_connect=True)
            if state != READY:
                was_down = True
            elif was_down:
                return

    return wait
