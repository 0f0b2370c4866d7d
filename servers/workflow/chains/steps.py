"""The chain step activity: one call to a mesh RPC, made as the tenant that runs the chain.

The call goes through the Workflow service's signed channels relaying the tenant, so
the callee authorizes it exactly as if the tenant had called: a chain never lets a
tenant do what its key could not. It carries an idempotency key (the run and the
step), so a step Temporal retries after a worker died mid-call is not executed twice
(mesh.interceptors.idempotency). The call's duration is measured against the step's
SLA; its cost is metered to the tenant.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import grpc
from temporalio import activity
from temporalio.exceptions import ApplicationError
from tickmesh.workflow.v1 import chains_pb2

from mesh.channels import MeshChannels
from mesh.config import MeshConfig
from mesh.interceptors.idempotency import METADATA_KEY
from mesh.metering.meter import UsageMeter
from mesh.protoconv import tier_from_proto
from mesh.tenancy.context import TenantContext
from mesh.tenancy.current import Principal, PrincipalKind, principal_scope
from servers.workflow.activities import RETRYABLE
from servers.workflow.chains.definition import earlier_outputs, request, response_json, target

STEP_TIMEOUT_S = 60.0
HEARTBEAT_EVERY_S = 1.0
METER_SERVICE, METER_ENDPOINT = "workflow", "chain_step"


@dataclass
class RunAs:
    """The tenant a run acts for (from the verified caller of RunChain)."""

    company_id: str
    user_id: str
    tier: str
    key_id: str
    operator: bool = False
    role: str = "member"
    scopes: list[str] = field(default_factory=list)
    """The key's scopes: a step can do no more than the key that started the run."""


@dataclass
class StepInput:
    run_id: str
    index: int
    step: bytes
    """The serialized ChainStep (the run pinned its version's definition)."""
    parameters: dict[str, str]
    run_as: RunAs
    previous: list[str]
    """The earlier steps' responses (JSON): templates reach them as {{steps.N.field}}."""


@dataclass
class StepOutcome:
    index: int
    name: str
    status: str
    code: str
    error: str
    duration_ms: int
    sla_violated: bool
    attempts: int
    response_json: str
    cost_units: int


class StepActivities:
    """The step activity, bound to the service's channels, config and meter."""

    def __init__(self, channels: MeshChannels, config: MeshConfig, meter: UsageMeter) -> None:
        self._channels = channels
        self._config = config
        self._meter = meter

    @activity.defn(name="run_chain_step")
    async def run_step(self, inp: StepInput) -> StepOutcome:
        step = chains_pb2.ChainStep.FromString(inp.step)
        where = target(step.service, step.method)
        message = request(step, {**inp.parameters, **earlier_outputs(inp.previous)})
        who = inp.run_as
        if who.operator:
            tenant, principal = None, Principal(PrincipalKind.OPERATOR)
        else:
            tenant = TenantContext(who.company_id, who.user_id, tier_from_proto(int(who.tier)),
                                   who.key_id, who.role, frozenset(who.scopes))  # fmt: skip
            principal = Principal(PrincipalKind.TENANT, tenant=tenant)
        channel = self._channels.channel(self._config.address_of(where.mesh_service))
        call = channel.unary_unary(
            where.path,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=where.response_class().FromString,
        )
        attempt = activity.info().attempt
        started = time.monotonic()
        code, error, body = "OK", "", ""
        with principal_scope(principal):
            try:
                pending = asyncio.ensure_future(
                    call(
                        message,
                        timeout=STEP_TIMEOUT_S,
                        metadata=((METADATA_KEY, f"{inp.run_id}:{inp.index}"),),
                    )
                )
                # Heartbeats while the call runs: a worker that dies mid-step is noticed
                # within HEARTBEAT_TIMEOUT, not after the step's whole timeout.
                while not (await asyncio.wait({pending}, timeout=HEARTBEAT_EVERY_S))[0]:
                    activity.heartbeat()
                body = response_json(pending.result())
            except grpc.aio.AioRpcError as err:
                code, error = err.code().name, err.details() or ""
                if err.code() in RETRYABLE:
                    raise ApplicationError(f"{code}: {error}") from None  # Temporal retries
        duration_ms = int((time.monotonic() - started) * 1000)
        if tenant is not None:  # metered once per step that ran: the callee did the work
            self._meter.add(tenant.company_id, tenant.user_id, tenant.tier, METER_SERVICE,
                            METER_ENDPOINT, data_points=max(1, step.cost_units))  # fmt: skip
        return StepOutcome(
            inp.index, step.name, "succeeded" if code == "OK" else "failed", code, error,
            duration_ms, step.sla_ms > 0 and duration_ms > step.sla_ms, attempt, body,
            step.cost_units,
        )  # fmt: skip
