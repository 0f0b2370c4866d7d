"""The chains every mesh has, registered at start (a new version only when they change)."""

from __future__ import annotations

import asyncio
import logging
import time

from tickmesh.common.v1 import tenancy_pb2
from tickmesh.workflow.v1 import chains_pb2

from mesh.backoff import Backoff
from mesh.errors import MeshError
from servers.workflow.chains.registry import ChainRegistry

log = logging.getLogger(__name__)
QUIET_S = 30.0
"""Storage not answering this soon after start is the mesh still starting."""

BILLING = "tickmesh.billing.v1.BillingService"
STORAGE = "tickmesh.storage.v1.StorageService"

BUILTIN = (
    chains_pb2.ChainDefinition(
        name="onboard-company",
        category="onboarding",
        expected_outcome="a free company with its owner and the owner's first API key",
        parameters={"company_name": "Acme FX", "owner_email": "owner@example.com",
                    "owner_name": "Owner"},
        steps=[
            chains_pb2.ChainStep(
                name="create company, owner and first key", service=STORAGE,
                method="CreateCompany", sla_ms=2000, cost_units=1, abort_on_failure=True,
                request_template='{"name": "{{company_name}}", "tier": "TIER_FREE", '
                '"ownerEmail": "{{owner_email}}", "ownerName": "{{owner_name}}"}',
            ),
            chains_pb2.ChainStep(
                name="confirm the company", service=STORAGE, method="GetCompany",
                sla_ms=500, cost_units=1,
                request_template='{"companyId": "{{steps.0.company.companyId}}"}',
            ),
        ],
    ),
    chains_pb2.ChainDefinition(
        name="upgrade-tier",
        category="billing",
        expected_outcome="the tier changed now, with the proration lines on the period's invoice",
        parameters={"tier": "TIER_PRO"},
        steps=[
            chains_pb2.ChainStep(
                name="invoice before", service=BILLING, method="PreviewInvoice", sla_ms=1000,
                cost_units=1, abort_on_failure=True,
            ),
            chains_pb2.ChainStep(
                name="change tier", service=BILLING, method="ChangeTier", sla_ms=1000,
                cost_units=5, abort_on_failure=True,
                request_template='{"tier": "{{tier}}", "effect": "CHANGE_EFFECT_IMMEDIATE"}',
            ),
            chains_pb2.ChainStep(
                name="invoice after, with proration", service=BILLING, method="PreviewInvoice",
                sla_ms=1000, cost_units=1,
            ),
        ],
    ),
    chains_pb2.ChainDefinition(
        name="month-end-close",
        category="billing",
        expected_outcome="every company's period closed, subscriptions rolled, invoices charged",
        allowed_tiers=[tenancy_pb2.TIER_ENTERPRISE],
        parameters={"period": "2026-11"},
        steps=[
            chains_pb2.ChainStep(
                name="close the period", service=BILLING, method="CloseBillingPeriod",
                sla_ms=60_000, cost_units=10, abort_on_failure=True,
                request_template='{"billingPeriod": "{{period}}"}',
            ),
            chains_pb2.ChainStep(
                name="roll subscriptions", service=STORAGE, method="AdvanceSubscriptions",
                sla_ms=60_000, cost_units=10, abort_on_failure=True,
            ),
            chains_pb2.ChainStep(
                name="collect payments", service=BILLING, method="CollectPayments",
                sla_ms=60_000, cost_units=10, request_template='{"billingPeriod": "{{period}}"}',
            ),
        ],
    ),
)  # fmt: skip


async def register_builtins(registry: ChainRegistry) -> None:
    """Register every built-in chain, retrying until Storage answers; then return."""
    started, attempt, backoff = time.monotonic(), 0, Backoff(initial_s=0.2, max_s=5.0)
    while True:
        try:
            for chain in BUILTIN:
                await registry.register_if_changed(chain)
            return
        except MeshError as exc:
            level = logging.DEBUG if time.monotonic() - started < QUIET_S else logging.WARNING
            log.log(level, "built-in chains not registered yet: %s", exc)
            await asyncio.sleep(backoff.delay(attempt))
            attempt += 1
