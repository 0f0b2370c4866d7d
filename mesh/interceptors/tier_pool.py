"""A pooled server turns away tenants of the tiers it does not serve (mesh.tier_pools),
naming the pool, and where known the instance, that serves them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager

import grpc

from mesh.errors import FailedPrecondition
from mesh.interceptors.base import CallInfo, MeshInterceptor
from mesh.pool_directory import PoolDirectory
from mesh.tenancy.current import optional_principal
from mesh.tier_pools import pool_name
from mesh.tiers import Tier


class TierPoolInterceptor(MeshInterceptor):
    """Runs right after AuthInterceptor (it needs the verified tier), before permissions
    and the quota: a misrouted call costs the tenant nothing. The operator and the mesh's
    services pass (they act for every tier)."""

    def __init__(
        self, service: str, tiers: Collection[Tier], directory: PoolDirectory | None
    ) -> None:
        self._service = service
        self._tiers = frozenset(tiers)
        self._directory = directory

    @asynccontextmanager
    async def around(
        self, call: CallInfo, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[None]:
        principal = optional_principal()
        tenant = principal.tenant if principal is not None else None  # a tenant's call
        if tenant is not None and tenant.tier not in self._tiers:
            raise await self._refusal(tenant.tier)
        yield

    async def _refusal(self, tier: Tier) -> FailedPrecondition:
        here = pool_name(self._tiers)
        member = await self._directory.serving(tier) if self._directory is not None else None
        metadata = {"pool": here, "tier": tier.value}
        where = "resolve it through the Hub (Hub.Resolve) to reach one that does"
        if member is not None:
            metadata |= {"serving_pool": member.pool, "address": member.address}
            where = f"the {member.pool} pool serves it at {member.address}"
        return FailedPrecondition(
            f"this {self._service} serves the {here} pool, not {tier.value} tenants: {where}",
            reason="WRONG_POOL",
            metadata=metadata,
        )
