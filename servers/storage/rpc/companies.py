"""Companies: created by the operator with their owner and first key, read, listed."""

from __future__ import annotations

import grpc
from tickmesh.storage.v1 import storage_pb2

from mesh.protoconv import tier_from_proto, tier_to_proto
from mesh.tenancy.current import actor_label, company_in_reach
from mesh.tiers import FIRST_RESPONSE_HOURS
from servers.storage import convert
from servers.storage.relational import api_keys, companies, company_config, subscriptions, users
from servers.storage.relational.scope import TenantScope
from servers.storage.rpc._base import OPERATOR, SERVICE, StorageRpcs, require


class CompanyRpcs(StorageRpcs):
    async def CreateCompany(
        self, request: storage_pb2.CreateCompanyRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.CreateCompanyResponse:
        require(OPERATOR)
        tier = tier_from_proto(request.tier)
        # The owner is checked before the company exists, so a bad owner creates nothing.
        users.validate_new_user(request.owner_email, request.owner_name, "owner", prefix="owner_")
        company, sub = await companies.create_company(
            self._store, request.name, tier, actor=actor_label()
        )
        scope = TenantScope(company.id)
        owner = await users.create_user(
            self._store, scope, request.owner_email, request.owner_name, "owner"
        )
        key = await api_keys.issue_api_key(self._store, scope, owner.id, actor=actor_label())
        return convert.created_company(company, sub, owner, key)

    async def GetCompany(
        self, request: storage_pb2.GetCompanyRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.GetCompanyResponse:
        company_id = company_in_reach(request.company_id)
        company = await companies.get_company(self._store, company_id)
        sub = await subscriptions.get_subscription(self._store, company_id)
        return storage_pb2.GetCompanyResponse(company=convert.company(company, sub.tier))

    async def ListCompanies(
        self, request: storage_pb2.ListCompaniesRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.ListCompaniesResponse:
        require(OPERATOR, SERVICE)
        start, size = convert.page_window(request)
        page, more = await companies.list_companies_with_tiers(
            self._store, offset=start, limit=size
        )
        return convert.company_page(page, start + size if more else None)

    async def GetCompanyConfig(
        self, request: storage_pb2.GetCompanyConfigRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.GetCompanyConfigResponse:
        company_id = company_in_reach(request.company_id)
        config = await company_config.get_config(self._store, company_id)
        return storage_pb2.GetCompanyConfigResponse(config=_config(config))

    async def SetCompanyConfig(
        self, request: storage_pb2.SetCompanyConfigRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.SetCompanyConfigResponse:
        require(OPERATOR)
        await companies.get_company(self._store, request.company_id)  # NotFound first
        max_users: int | object | None = company_config.UNSET
        if request.reset_max_users:
            max_users = None
        elif request.HasField("max_users"):
            max_users = request.max_users
        support: str | object | None = company_config.UNSET
        if request.reset_support_level:
            support = None
        elif request.HasField("support_level"):
            support = request.support_level
        config = await company_config.set_config(
            self._store, request.company_id, max_users=max_users, support_level=support,
            actor=actor_label(),
        )  # fmt: skip
        return storage_pb2.SetCompanyConfigResponse(config=_config(config))


def _config(config: company_config.CompanyConfig) -> storage_pb2.CompanyConfig:
    return storage_pb2.CompanyConfig(
        company_id=config.company_id,
        tier=tier_to_proto(config.tier),
        max_users=config.max_users if config.max_users is not None else -1,
        max_users_set=config.max_users_set,
        support_level=config.support_level,
        support_level_set=config.support_level_set,
        features=list(config.features),
        users=config.users,
        first_response_hours=FIRST_RESPONSE_HOURS[config.support_level] or 0,
    )
