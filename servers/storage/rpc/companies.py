"""Companies: created by the operator with their owner and first key, read, listed."""

from __future__ import annotations

import grpc
from tickmesh.storage.v1 import storage_pb2

from mesh.protoconv import tier_from_proto
from mesh.tenancy.current import actor_label, company_in_reach
from servers.storage import convert
from servers.storage.relational import api_keys, companies, subscriptions, users
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
