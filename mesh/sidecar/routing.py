"""Where the sidecar sends a call: the instance the Hub's tier-aware Resolve picks for its key.

- A stream is a session on an instance, which the Hub balances by tier and load: each
  stream is resolved afresh. Unary calls reuse the last answer for their service for
  UNARY_REUSE_S, so they cost no extra round trip to the Hub.
- After a connection failure the call is resolved again, excluding the instances it
  already failed on (the Hub may not have noticed the death yet).
- When the Hub cannot be reached, the last instance it named for the service is used
  (stale, but usually alive); with none, the call fails UNAVAILABLE naming the Hub.
- The Hub's own methods go to the Hub.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import grpc
from tickmesh.hub.v1 import hub_pb2, hub_pb2_grpc

from mesh.errors import Unavailable
from mesh.forwarding import Metadata, RoutedMethod, Target, transport_failure

_log = logging.getLogger(__name__)

UNARY_REUSE_S = 5.0
"""How long a Resolve answer serves unary calls of the same service."""
RESOLVE_TIMEOUT_S = 2.0
HUB_SERVICE = "hub"


@dataclass(slots=True)
class _Known:
    target: Target
    at: float


class SidecarRouting:
    """Routing by Resolve calls to the Hub, presenting the sidecar's key."""

    def __init__(
        self,
        hub_address: str,
        hub_channel: grpc.aio.Channel,
        credentials: Metadata,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._hub = Target(HUB_SERVICE, hub_address)
        self._stub = hub_pb2_grpc.HubServiceStub(hub_channel)
        self._credentials = credentials
        self._clock = clock
        self._known: dict[str, _Known] = {}

    async def pick(self, method: RoutedMethod, exclude: Sequence[str], *, retry: bool) -> Target:
        return await self.resolve(
            method.service,
            exclude,
            fresh=retry or method.request_streaming or method.response_streaming,
        )

    async def resolve(self, service: str, exclude: Sequence[str] = (), *, fresh: bool) -> Target:
        """The instance of `service` to call; `fresh` asks the Hub even if an answer is
        still reusable."""
        if service == HUB_SERVICE:
            return self._hub
        known = self._known.get(service)
        if (
            known is not None
            and not fresh
            and not exclude
            and self._clock() - known.at < UNARY_REUSE_S
        ):
            return known.target
        try:
            reply = await self._stub.Resolve(
                hub_pb2.ResolveRequest(service=service, exclude_instance_ids=list(exclude)),
                metadata=self._credentials,
                timeout=RESOLVE_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as err:
            reachable = not transport_failure(err) and err.code() is not (
                grpc.StatusCode.DEADLINE_EXCEEDED
            )
            if reachable:
                raise  # the Hub's answer (bad key, no instance for this tier): the app's to see
            if known is not None and known.target.instance_id not in exclude:
                _log.warning("the Hub at %s is unreachable; using the last %s instance",
                             self._hub.address, service)  # fmt: skip
                return known.target
            raise Unavailable(
                f"the sidecar cannot reach the Hub at {self._hub.address} to find a "
                f"{service} instance: {err.details()}",
                reason="HUB_UNREACHABLE",
                metadata={"hub": self._hub.address, "service": service},
            ) from None
        instance = reply.instance
        target = Target(instance.spec.instance_id, instance.spec.address)
        self._known[service] = _Known(target, self._clock())
        return target

    def succeeded(self, target: Target) -> None:
        """Nothing to learn: the Hub watches the instances' health."""

    def failed(self, target: Target) -> None:
        """Forget an instance that failed, so the next unary call resolves again."""
        for service, known in list(self._known.items()):
            if known.target == target:
                del self._known[service]
