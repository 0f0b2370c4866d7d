"""Chains on real processes (`tickmesh up`, its Temporal dev server): a run survives its
worker being killed with SIGKILL mid-run (the launcher starts it again) with every step
executed exactly once, counted at the callee (the users Storage holds); a run's events
stream to a watcher; steps slower than their SLA are violations; a free tenant cannot run
an enterprise chain. Webhook deliveries in their retries survive the same SIGKILL."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from pathlib import Path

import grpc
import pytest
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc
from tickmesh.workflow.v1 import chains_pb2, chains_pb2_grpc

from mesh.client_interceptors import api_key_interceptors
from tests.e2e.conftest import mesh_up
from tests.support.webhook_receiver import webhook_receiver
from tests.waiting import eventually

pytestmark = pytest.mark.e2e
STORAGE = "tickmesh.storage.v1.StorageService"
STEPS = 3


def _demo_key(log: str, tier: str) -> str:
    line = next(x for x in log.splitlines() if x.strip().startswith(f"{tier} ") and " key " in x)
    return line.rsplit(" key ", 1)[1].split()[0]


async def test_a_run_outlives_its_worker_and_runs_each_step_once(tmp_path: Path) -> None:
    with mesh_up(tmp_path / "data") as mesh:
        operator_key = (mesh.data_dir / "operator.key").read_text().strip()
        tenant_key = _demo_key(mesh.log(), "enterprise")
        chain = chains_pb2.ChainDefinition(
            name="add-users",
            parameters={"run": "sample"},
            steps=[
                chains_pb2.ChainStep(
                    # 1 ms: a user's insert, its audit entry and the call around them
                    # take longer on any machine, so each step is an SLA violation.
                    name=f"user {n}", service=STORAGE, method="CreateUser", abort_on_failure=True,
                    sla_ms=1,
                    request_template=f'{{"email": "step{n}-{{{{run}}}}@example.com", '
                    f'"name": "Step {n}", "role": "member"}}',
                )
                for n in range(STEPS)
            ],
        )  # fmt: skip
        async with (
            grpc.aio.insecure_channel(
                mesh.address("hub"), interceptors=api_key_interceptors(operator_key)
            ) as as_operator,
            grpc.aio.insecure_channel(
                mesh.address("hub"), interceptors=api_key_interceptors(tenant_key)
            ) as as_tenant,
        ):
            await chains_pb2_grpc.ChainServiceStub(as_operator).RegisterChain(
                chains_pb2.RegisterChainRequest(chain=chain)
            )
            chains = chains_pb2_grpc.ChainServiceStub(as_tenant)
            storage = storage_pb2_grpc.StorageServiceStub(as_tenant)
            started = await chains.RunChain(
                chains_pb2.RunChainRequest(name="add-users", parameters={"run": "r1"})
            )

            async def users() -> list[str]:
                listed = await storage.ListUsers(storage_pb2.ListUsersRequest())
                return [u.email for u in listed.users if u.email.endswith("-r1@example.com")]

            async def first_step_done() -> bool:
                return bool(await users())

            await eventually(first_step_done, "the first step at the callee", within=60)
            worker = mesh.state()["services"]["workflow"]["pid"]
            os.kill(worker, signal.SIGKILL)

            async def finished() -> bool:
                try:
                    run = await chains.GetRun(chains_pb2.GetRunRequest(run_id=started.run_id))
                except grpc.aio.AioRpcError:
                    return False  # the Workflow service is restarting
                return run.run.status != "running"

            await eventually(finished, "the run, after the worker's restart", within=90)
            run = await chains.GetRun(chains_pb2.GetRunRequest(run_id=started.run_id))
            assert run.run.status == "succeeded", run
            assert sorted(await users()) == [f"step{n}-r1@example.com" for n in range(STEPS)]
            assert mesh.state()["services"]["workflow"]["restarts"] == 1
            assert run.run.sla_violations == STEPS
            assert all(step.sla_violated for step in run.run.steps)

            # Another run, watched from its start: every step's event, then the end.
            second = await chains.RunChain(
                chains_pb2.RunChainRequest(name="add-users", parameters={"run": "r2"})
            )
            events = [
                e async for e in chains.WatchRun(chains_pb2.WatchRunRequest(run_id=second.run_id))
            ]
            assert [e.kind for e in events] == ["step_finished"] * STEPS + ["run_finished"]
            assert [e.step.name for e in events[:STEPS]] == [f"user {n}" for n in range(STEPS)]
            assert events[-1].run_status == "succeeded"

        # A free tenant may not run the enterprise-only month end; the error names the tier.
        async with grpc.aio.insecure_channel(
            mesh.address("hub"), interceptors=api_key_interceptors(_demo_key(mesh.log(), "free"))
        ) as as_free:
            with pytest.raises(grpc.aio.AioRpcError) as denied:
                await chains_pb2_grpc.ChainServiceStub(as_free).RunChain(
                    chains_pb2.RunChainRequest(name="month-end-close")
                )
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "tier enterprise includes it" in (denied.value.details() or "")
        assert mesh.stop() == 0


async def test_a_worker_killed_mid_retry_loses_no_webhook(tmp_path: Path) -> None:
    fast = {
        "TICKMESH_WORKFLOW_WEBHOOK_POLL_SECONDS": "0.1",
        "TICKMESH_WORKFLOW_WEBHOOK_RETRY_SECONDS": "1",
        "TICKMESH_WORKFLOW_WEBHOOK_RETRY_MAX_SECONDS": "2",
    }
    with mesh_up(tmp_path / "data", fast) as mesh, webhook_receiver(fail_first=3) as receiver:
        tenant_key = _demo_key(mesh.log(), "pro")
        async with grpc.aio.insecure_channel(
            mesh.address("storage"), interceptors=api_key_interceptors(tenant_key)
        ) as channel:
            storage = storage_pb2_grpc.StorageServiceStub(channel)
            await storage.CreateWebhookEndpoint(
                storage_pb2.CreateWebhookEndpointRequest(url=receiver.url)
            )
            users = await storage.ListUsers(storage_pb2.ListUsersRequest())
            spares = [
                await storage.IssueApiKey(
                    storage_pb2.IssueApiKeyRequest(user_id=users.users[0].user_id, label=f"s{n}")
                )
                for n in range(2)
            ]
            for spare in spares:  # two key.revoked events
                await storage.RevokeApiKey(storage_pb2.RevokeApiKeyRequest(key_id=spare.key_id))

            # Deliveries are failing and being retried: the worker dies with SIGKILL.
            await eventually(lambda: len(receiver.requests) >= 2, "failed deliveries", within=60)
            os.kill(mesh.state()["services"]["workflow"]["pid"], signal.SIGKILL)

            wanted = {spare.key_id for spare in spares}

            def delivered() -> set[str]:
                bodies = [json.loads(r.body) for r in receiver.accepted()]
                return {b["data"]["key_id"] for b in bodies if b["type"] == "key.revoked"}

            await eventually(lambda: wanted <= delivered(), "both events delivered", within=90)
            accepted = Counter(r.headers["webhook-id"] for r in receiver.accepted())
            assert set(accepted.values()) == {1}, accepted  # exactly once each
            assert mesh.state()["services"]["workflow"]["restarts"] == 1
