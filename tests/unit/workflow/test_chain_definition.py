"""Chain definitions without gRPC: what registers, how requests render, who may run."""

from __future__ import annotations

import pytest
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.workflow.v1 import chains_pb2

from mesh.errors import InvalidArgument, PermissionDenied
from mesh.tiers import Tier
from servers.workflow.chains.builtin import BUILTIN
from servers.workflow.chains.definition import (
    check_tier,
    earlier_outputs,
    render,
    request,
    validate,
)

BILLING = "tickmesh.billing.v1.BillingService"


def _chain(*steps: chains_pb2.ChainStep, **fields: object) -> chains_pb2.ChainDefinition:
    return chains_pb2.ChainDefinition(name="a-chain", steps=list(steps), **fields)  # type: ignore[arg-type]


def _violations(chain: chains_pb2.ChainDefinition) -> list[str]:
    with pytest.raises(InvalidArgument) as bad:
        validate(chain)
    return [v.field for v in bad.value.violations]


def test_every_builtin_chain_is_valid() -> None:
    for chain in BUILTIN:
        validate(chain)


def test_unknown_services_methods_and_streams_are_refused() -> None:
    assert _violations(_chain(chains_pb2.ChainStep(service="no.Such", method="X"))) == [
        "steps[0].service"
    ]
    assert _violations(_chain(chains_pb2.ChainStep(service=BILLING, method="Nope"))) == [
        "steps[0].method"
    ]
    stream = chains_pb2.ChainStep(service="tickmesh.bridge.v1.BridgeService", method="Subscribe")
    assert _violations(_chain(stream)) == ["steps[0].method"]


def test_a_template_must_parse_into_the_request_with_declared_parameters() -> None:
    bad_field = chains_pb2.ChainStep(
        service=BILLING, method="PreviewInvoice", request_template='{"nope": 1}'
    )
    assert _violations(_chain(bad_field)) == ["steps[0].request_template"]
    undeclared = chains_pb2.ChainStep(
        service=BILLING, method="PreviewInvoice", request_template='{"billingPeriod": "{{p}}"}'
    )
    assert "steps[0].request_template" in _violations(_chain(undeclared))
    later_output = chains_pb2.ChainStep(
        service=BILLING, method="PreviewInvoice",
        request_template='{"companyId": "{{steps.0.invoice.companyId}}"}',
    )  # fmt: skip
    assert "steps[0].request_template" in _violations(_chain(later_output))  # no step 0 yet
    validate(_chain(chains_pb2.ChainStep(service=BILLING, method="PreviewInvoice"), later_output))
    assert "name" in _violations(chains_pb2.ChainDefinition(name="Bad Name", steps=[later_output]))


def test_values_are_escaped_so_they_stay_strings() -> None:
    evil = '2026-11", "companyId": "someone-else'
    assert render('{"p": "{{p}}"}', {"p": evil}).startswith('{"p": "2026-11\\", ')
    step = chains_pb2.ChainStep(
        service=BILLING, method="PreviewInvoice", request_template='{"billingPeriod": "{{p}}"}'
    )
    message = request(step, {"p": evil})
    assert message.billing_period == evil and not message.company_id  # type: ignore[attr-defined]


def test_the_cheapest_allowed_tier_is_named() -> None:
    chain = _chain(allowed_tiers=[tenancy_pb2.TIER_ENTERPRISE, tenancy_pb2.TIER_PRO])
    check_tier(chain, Tier.PRO)
    with pytest.raises(PermissionDenied) as denied:
        check_tier(chain, Tier.FREE)
    assert denied.value.required_tier == "pro"
    check_tier(_chain(), Tier.FREE)  # no list: every tier


def test_earlier_outputs_flatten_by_step_field_and_index() -> None:
    flat = earlier_outputs(['{"company": {"companyId": "c1", "tags": ["a", "b"]}, "n": 3}', ""])
    assert flat == {
        "steps.0.company.companyId": "c1",
        "steps.0.company.tags.0": "a",
        "steps.0.company.tags.1": "b",
        "steps.0.n": "3",
    }
