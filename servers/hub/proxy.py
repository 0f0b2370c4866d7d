"""The Hub's proxy: any registered service called through the Hub (mesh/forwarding.py), each
call routed with the same rules as Resolve.

The caller's tier is known from the Hub's own authentication. The credential goes
through untouched, so the target authenticates again and counts the quota (the Hub's
quota check skips routed calls). A connection failure counts against the instance for
outlier ejection, and a call that can be replayed is retried once on another instance.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from mesh.channel_pool import ChannelPool
from mesh.forwarding import Forwarder, RoutedMethod, Target
from mesh.tenancy.current import optional_principal
from servers.hub.selection import Resolver, routing_tier

_log = logging.getLogger(__name__)


class HubRouting:
    """Routing by the Hub's own Resolver and outlier detection."""

    def __init__(self, resolver: Resolver) -> None:
        self._resolver = resolver

    async def pick(self, method: RoutedMethod, exclude: Sequence[str], *, retry: bool) -> Target:
        tier, company = routing_tier(optional_principal())
        choice = self._resolver.resolve(
            method.service, tier,
            # A retry is the same call: attribute it once.
            company_id=None if retry else company, exclude=exclude,
            # A stream is a session on the instance; a unary call is not.
            session=method.response_streaming or method.request_streaming,
        )  # fmt: skip
        return Target(choice.instance.instance_id, choice.instance.spec.address)

    def succeeded(self, target: Target) -> None:
        self._resolver.outliers.report_success(target.instance_id)

    def failed(self, target: Target) -> None:
        registry = self._resolver.registry
        instance = registry.get(target.instance_id)
        peers = [] if instance is None else registry.instances(instance.service)
        if self._resolver.outliers.report_failure(
            target.instance_id, [i.instance_id for i in peers]
        ):
            _log.warning("ejected %s after consecutive failures", target.instance_id)


def hub_proxy(resolver: Resolver, channels: ChannelPool) -> Forwarder:
    """The Hub's generic handler for every routed method (one try and one retry)."""
    return Forwarder(HubRouting(resolver), channels, name="Hub", attempts=2)
