"""The ChainService servicer: a thin adapter over the registry and the ChainRun workflow."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import grpc
from google.protobuf import timestamp_pb2
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError
from tickmesh.workflow.v1 import chains_pb2

from mesh.errors import NotFound
from mesh.protoconv import tier_to_proto
from mesh.tenancy.current import Principal, PrincipalKind, current_principal
from servers.workflow.chains.definition import check_tier
from servers.workflow.chains.registry import ChainRegistry
from servers.workflow.chains.run import ChainRun, ChainRunInput, ChainRunState
from servers.workflow.chains.steps import RunAs, StepOutcome
from servers.workflow.runner import TemporalRunner

OPERATOR, TENANT = PrincipalKind.OPERATOR, PrincipalKind.TENANT
WATCH_POLL_S = (0.05, 0.5)
"""WatchRun's progress queries: 50 ms after a change, backing off to 500 ms while nothing
happens (each query replays the run on a worker: not free)."""
LIST_LIMIT = 100


def _own_prefix(queue: str, principal: Principal) -> str:
    """The run ids `principal` may read: a tenant's start with its company's id (it
    reaches only its own), the operator reads every run."""
    company = principal.tenant.company_id if principal.tenant else ""
    return f"{queue}-chain-{company}-" if company else f"{queue}-chain-"


def _new_run_id(queue: str, principal: Principal, name: str) -> str:
    owner = principal.tenant.company_id if principal.tenant else "op"
    return f"{queue}-chain-{owner}-{name}-{secrets.token_hex(6)}"


def _step_pb(step: StepOutcome) -> chains_pb2.StepResult:
    return chains_pb2.StepResult(
        index=step.index, name=step.name, status=step.status, code=step.code, error=step.error,
        duration_ms=step.duration_ms, sla_violated=step.sla_violated, attempts=step.attempts,
        response_json=step.response_json,
    )  # fmt: skip


def _run_pb(state: ChainRunState) -> chains_pb2.ChainRun:
    started = timestamp_pb2.Timestamp()
    started.FromDatetime(datetime.fromisoformat(state.started_at))
    return chains_pb2.ChainRun(
        run_id=state.run_id, name=state.name, version=state.version,
        company_id=state.company_id, status=state.status,
        steps=[_step_pb(s) for s in state.steps],
        sla_violations=sum(s.sla_violated for s in state.steps),
        cost_units=sum(s.cost_units for s in state.steps), started_at=started,
    )  # fmt: skip


class ChainServicer:
    """Every ChainService RPC."""

    def __init__(self, registry: ChainRegistry, runner: TemporalRunner) -> None:
        self._registry = registry
        self._runner = runner

    async def RegisterChain(
        self, request: chains_pb2.RegisterChainRequest, context: grpc.aio.ServicerContext
    ) -> chains_pb2.RegisterChainResponse:
        current_principal().require(OPERATOR)
        return chains_pb2.RegisterChainResponse(chain=await self._registry.register(request.chain))

    async def ListChains(
        self, request: chains_pb2.ListChainsRequest, context: grpc.aio.ServicerContext
    ) -> chains_pb2.ListChainsResponse:
        current_principal().require(TENANT, OPERATOR)
        return chains_pb2.ListChainsResponse(chains=await self._registry.latest())

    async def GetChain(
        self, request: chains_pb2.GetChainRequest, context: grpc.aio.ServicerContext
    ) -> chains_pb2.GetChainResponse:
        current_principal().require(TENANT, OPERATOR)
        chain = await self._registry.get(request.name, request.version)
        return chains_pb2.GetChainResponse(chain=chain)

    async def RunChain(
        self, request: chains_pb2.RunChainRequest, context: grpc.aio.ServicerContext
    ) -> chains_pb2.RunChainResponse:
        principal = current_principal()
        principal.require(TENANT, OPERATOR)
        chain = await self._registry.get(request.name, request.version)
        tenant = principal.tenant
        if tenant is not None:  # the operator runs any chain, as the operator
            check_tier(chain, tenant.tier)
            run_as = RunAs(tenant.company_id, tenant.user_id, str(tier_to_proto(tenant.tier)),
                           tenant.key_id, role=tenant.role,
                           scopes=sorted(tenant.scopes))  # fmt: skip
        else:
            run_as = RunAs("", "", "", "", operator=True)
        parameters = {**dict(chain.parameters), **dict(request.parameters)}
        queue = self._runner.task_queue
        run_id = _new_run_id(queue, principal, chain.name)
        await self._runner.client.start_workflow(
            ChainRun.run,
            ChainRunInput(
                run_id, chain.name, chain.version,
                [s.SerializeToString() for s in chain.steps], [s.name for s in chain.steps],
                [s.abort_on_failure for s in chain.steps], parameters, run_as,
                datetime.now(UTC).isoformat(),
            ),
            id=run_id,
            task_queue=queue,
        )  # fmt: skip
        return chains_pb2.RunChainResponse(run_id=run_id, version=chain.version)

    async def GetRun(
        self, request: chains_pb2.GetRunRequest, context: grpc.aio.ServicerContext
    ) -> chains_pb2.GetRunResponse:
        return chains_pb2.GetRunResponse(run=_run_pb(await self._state(request.run_id)))

    async def WatchRun(
        self, request: chains_pb2.WatchRunRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[chains_pb2.WatchRunResponse]:
        state = await self._state(request.run_id)  # NOT_FOUND before anything is sent
        handle = self._runner.client.get_workflow_handle(request.run_id, result_type=ChainRunState)
        # The run's end arrives by Temporal's long poll, at once; steps before it are read
        # by querying the run, at most every WATCH_POLL_S[1] while nothing changes.
        final = asyncio.ensure_future(handle.result())
        sent, wait = 0, WATCH_POLL_S[0]
        try:
            while True:
                for step in state.steps[sent:]:
                    yield chains_pb2.WatchRunResponse(
                        kind="step_finished", step=_step_pb(step), run_status=state.status
                    )
                sent = len(state.steps)
                if state.status != "running":
                    yield chains_pb2.WatchRunResponse(kind="run_finished", run_status=state.status)
                    return
                done, _ = await asyncio.wait({final}, timeout=wait)
                before = sent
                state = final.result() if done else await self._state(request.run_id)
                grew = len(state.steps) > before
                wait = WATCH_POLL_S[0] if grew else min(wait * 2, WATCH_POLL_S[1])
        finally:
            final.cancel()

    async def ListRuns(
        self, request: chains_pb2.ListRunsRequest, context: grpc.aio.ServicerContext
    ) -> chains_pb2.ListRunsResponse:
        principal = current_principal()
        principal.require(TENANT, OPERATOR)
        prefix = _own_prefix(self._runner.task_queue, principal)
        if request.name and principal.tenant is not None:
            prefix += f"{request.name}-"
        query = f"WorkflowType = 'ChainRun' AND TaskQueue = '{self._runner.task_queue}'"
        runs: list[chains_pb2.ChainRun] = []
        async for execution in self._runner.client.list_workflows(query, limit=500):
            if execution.id.startswith(prefix) and len(runs) < LIST_LIMIT:
                state = await self._state(execution.id, check=False)
                if not request.name or state.name == request.name:
                    runs.append(_run_pb(state))
        return chains_pb2.ListRunsResponse(runs=runs)

    async def _state(self, run_id: str, *, check: bool = True) -> ChainRunState:
        """The run's state; NOT_FOUND for another company's run or none."""
        principal = current_principal()
        if check:
            principal.require(TENANT, OPERATOR)
            if not run_id.startswith(_own_prefix(self._runner.task_queue, principal)):
                raise NotFound(f"run {run_id!r} not found")
        handle = self._runner.client.get_workflow_handle(run_id, result_type=ChainRunState)
        try:
            described = await handle.describe()
            if described.status == WorkflowExecutionStatus.COMPLETED:
                return await handle.result()
            state = await handle.query(ChainRun.state)
        except RPCError:
            raise NotFound(f"run {run_id!r} not found") from None
        if state is None:  # started, first task not run yet
            return ChainRunState(run_id, "", 0, "", "running", datetime.now(UTC).isoformat())
        return state
