"""The chain registry over real services and Temporal: register, run as a tenant, watch the
steps stream, tier rules, SLA violations, aborting failures, and idempotent steps."""

from __future__ import annotations

import grpc
import pytest
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc
from tickmesh.workflow.v1 import chains_pb2, chains_pb2_grpc

from mesh.client_interceptors import api_key_interceptors, metadata_interceptors
from mesh.interceptors.idempotency import METADATA_KEY
from tests.integration.storage_service.conftest import ENTERPRISE, FREE, PRO
from tests.integration.workflow.conftest import WorkflowMesh
from tests.waiting import eventually

pytestmark = pytest.mark.parametrize("storage_mesh", ["real"], indirect=True)
BILLING = "tickmesh.billing.v1.BillingService"
STORAGE = "tickmesh.storage.v1.StorageService"


def _chains(mesh: WorkflowMesh, key: str) -> chains_pb2_grpc.ChainServiceStub:
    channel = grpc.aio.insecure_channel(mesh.server.address, interceptors=api_key_interceptors(key))
    mesh.mesh._channels.append(channel)  # closed with the mesh
    return chains_pb2_grpc.ChainServiceStub(channel)


def _operator(mesh: WorkflowMesh) -> chains_pb2_grpc.ChainServiceStub:
    assert mesh.config.admin_key
    return _chains(mesh, mesh.config.admin_key)


THREE_STEPS = chains_pb2.ChainDefinition(
    name="look-around",
    category="market-data",
    expected_outcome="the tenant's invoice, subscription and invoices",
    parameters={"period": "2026-11"},
    steps=[
        chains_pb2.ChainStep(name="preview", service=BILLING, method="PreviewInvoice",
                             sla_ms=10_000, cost_units=2),
        chains_pb2.ChainStep(name="subscription", service=STORAGE, method="GetSubscription",
                             sla_ms=10_000, cost_units=1),
        chains_pb2.ChainStep(name="invoices", service=BILLING, method="ListInvoices",
                             sla_ms=10_000, cost_units=1),
    ],
)  # fmt: skip


async def test_a_three_step_chain_runs_and_streams_its_events(workflow_mesh: WorkflowMesh) -> None:
    mesh = workflow_mesh.mesh
    operator = _operator(workflow_mesh)
    registered = await operator.RegisterChain(chains_pb2.RegisterChainRequest(chain=THREE_STEPS))
    assert registered.chain.version == 1
    again = await operator.RegisterChain(chains_pb2.RegisterChainRequest(chain=THREE_STEPS))
    assert again.chain.version == 2
    tenant = await mesh.tenant(PRO)
    chains = _chains(workflow_mesh, tenant.api_key)
    started = await chains.RunChain(chains_pb2.RunChainRequest(name="look-around", version=1))
    assert started.version == 1
    events = [e async for e in chains.WatchRun(chains_pb2.WatchRunRequest(run_id=started.run_id))]
    assert [e.kind for e in events] == ["step_finished"] * 3 + ["run_finished"]
    assert [e.step.name for e in events[:3]] == ["preview", "subscription", "invoices"]
    assert all(e.step.status == "succeeded" and e.step.code == "OK" for e in events[:3])
    assert events[-1].run_status == "succeeded"
    # The step ran as the tenant: its own subscription came back.
    assert tenant.company_id in events[1].step.response_json
    run = await chains.GetRun(chains_pb2.GetRunRequest(run_id=started.run_id))
    assert (run.run.status, run.run.cost_units, run.run.sla_violations) == ("succeeded", 4, 0)
    listed = await chains.ListRuns(chains_pb2.ListRunsRequest())
    assert [r.run_id for r in listed.runs] == [started.run_id]
    # Another company neither lists nor reads it.
    other = _chains(workflow_mesh, (await mesh.tenant(PRO)).api_key)
    assert not (await other.ListRuns(chains_pb2.ListRunsRequest())).runs
    with pytest.raises(grpc.aio.AioRpcError) as hidden:
        await other.GetRun(chains_pb2.GetRunRequest(run_id=started.run_id))
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND


async def test_builtins_are_listed_and_tiers_decide_who_runs(workflow_mesh: WorkflowMesh) -> None:
    mesh = workflow_mesh.mesh
    free = await mesh.tenant(FREE)
    chains = _chains(workflow_mesh, free.api_key)

    async def builtins_listed() -> bool:
        listed = await chains.ListChains(chains_pb2.ListChainsRequest())
        return {"onboard-company", "upgrade-tier", "month-end-close"} <= {
            c.name for c in listed.chains
        }

    await eventually(builtins_listed, "the built-in chains")
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await chains.RunChain(chains_pb2.RunChainRequest(name="month-end-close"))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "tier enterprise includes it" in (denied.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as operator_only:
        await chains.RegisterChain(chains_pb2.RegisterChainRequest(chain=THREE_STEPS))
    assert operator_only.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_slow_step_is_an_sla_violation_and_a_failure_aborts(
    workflow_mesh: WorkflowMesh,
) -> None:
    operator = _operator(workflow_mesh)
    strict = chains_pb2.ChainDefinition(
        name="strict",
        steps=[
            # A preview makes several Storage calls, ClickHouse queries among them: far
            # beyond the 1 ms SLA (the finest there is) on any machine.
            chains_pb2.ChainStep(name="preview", service=BILLING, method="PreviewInvoice",
                                 sla_ms=1),
            # A tenant may not create companies: PERMISSION_DENIED, which aborts.
            chains_pb2.ChainStep(name="not allowed", service=STORAGE, method="CreateCompany",
                                 abort_on_failure=True,
                                 request_template='{"name": "X", "ownerEmail": "a@b.co", '
                                 '"ownerName": "A"}'),
            chains_pb2.ChainStep(name="never", service=STORAGE, method="GetSubscription"),
        ],
        allowed_tiers=[ENTERPRISE, PRO],
    )  # fmt: skip
    await operator.RegisterChain(chains_pb2.RegisterChainRequest(chain=strict))
    tenant = await workflow_mesh.mesh.tenant(ENTERPRISE)
    chains = _chains(workflow_mesh, tenant.api_key)
    started = await chains.RunChain(chains_pb2.RunChainRequest(name="strict"))
    events = [e async for e in chains.WatchRun(chains_pb2.WatchRunRequest(run_id=started.run_id))]
    steps = [e.step for e in events if e.kind == "step_finished"]
    assert [s.status for s in steps] == ["succeeded", "failed", "skipped"]
    assert steps[0].sla_violated and steps[0].duration_ms > 1
    assert steps[1].code == "PERMISSION_DENIED"
    run = await chains.GetRun(chains_pb2.GetRunRequest(run_id=started.run_id))
    assert run.run.status == "failed"
    assert run.run.sla_violations == 1


async def test_a_repeated_idempotency_key_runs_the_call_once(workflow_mesh: WorkflowMesh) -> None:
    mesh = workflow_mesh.mesh
    tenant = await mesh.tenant(PRO)
    key = ((METADATA_KEY, "run-1:0"),)
    interceptors = [*api_key_interceptors(tenant.api_key), *metadata_interceptors(lambda: key)]
    channel = grpc.aio.insecure_channel(mesh.storage.address, interceptors=interceptors)
    mesh._channels.append(channel)
    stub = storage_pb2_grpc.StorageServiceStub(channel)
    request = storage_pb2.IssueApiKeyRequest(user_id=tenant.user_id, label="once")
    first = await stub.IssueApiKey(request)
    second = await stub.IssueApiKey(request)
    assert first.key_id == second.key_id and first.api_key == second.api_key
    # The same key from another company is another call.
    other = await mesh.tenant(PRO)
    theirs = grpc.aio.insecure_channel(
        mesh.storage.address,
        interceptors=[*api_key_interceptors(other.api_key), *metadata_interceptors(lambda: key)],
    )
    mesh._channels.append(theirs)
    own = await storage_pb2_grpc.StorageServiceStub(theirs).IssueApiKey(
        storage_pb2.IssueApiKeyRequest(user_id=other.user_id, label="once")
    )
    assert own.key_id != first.key_id
