"""ListCompanies pages through every company with its tier; who changed a tier is audited."""

from __future__ import annotations

import grpc
import pytest
from tickmesh.storage.v1 import storage_pb2

from tests.integration.storage_service.conftest import ENTERPRISE, FREE, PRO, StorageMesh


async def test_pages_list_every_company_with_its_tier_oldest_first(
    storage_mesh: StorageMesh,
) -> None:
    made = [(await storage_mesh.tenant(tier)).company_id for tier in (FREE, PRO, ENTERPRISE)]
    op = storage_mesh.operator
    first = await op.ListCompanies(storage_pb2.ListCompaniesRequest(page_size=2))
    assert first.next_page_token == "2"
    last = await op.ListCompanies(
        storage_pb2.ListCompaniesRequest(page_size=2, page_token=first.next_page_token)
    )
    assert last.next_page_token == ""
    listed = [(c.company_id, c.tier) for c in [*first.companies, *last.companies]]
    assert listed == list(zip(made, (FREE, PRO, ENTERPRISE), strict=True))
    beyond = await op.ListCompanies(storage_pb2.ListCompaniesRequest(page_token="9" * 30))
    assert (list(beyond.companies), beyond.next_page_token) == ([], "")


@pytest.mark.parametrize(("size", "token"), [(1001, ""), (-1, ""), (10, "x"), (10, "-1")])
async def test_bad_paging_is_refused(storage_mesh: StorageMesh, size: int, token: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await storage_mesh.operator.ListCompanies(
            storage_pb2.ListCompaniesRequest(page_size=size, page_token=token)
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_the_operator_key_is_audited_as_operator(storage_mesh: StorageMesh) -> None:
    tenant = await storage_mesh.tenant(FREE)
    await storage_mesh.operator.ChangeTier(
        storage_pb2.ChangeTierRequest(company_id=tenant.company_id, tier=PRO, effect=1)
    )
    events = await storage_mesh.service_stub().ListSubscriptionEvents(
        storage_pb2.ListSubscriptionEventsRequest(company_id=tenant.company_id)
    )
    assert [(e.kind, e.actor) for e in events.events] == [
        ("created", "operator"),
        ("tier_changed", "operator"),
    ]
